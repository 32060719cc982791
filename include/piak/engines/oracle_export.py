"""Production engine: Oracle Data Pump export on the database server over SSH.

1. A parameter file with the options and the exporting user's credentials (from the Airflow
   Connection ``db_conn_id``) is written on the server with owner-only permissions; ``expdp``
   runs with only ``PARFILE=...`` on its command line; the parameter file is removed afterwards,
   whatever happens.
2. The log is fetched and read (:mod:`piak.engines.datapump`): success only with exit code 0 and the
   "successfully completed" line; the dump files it lists must exist.
3. Dump files and log are streamed into the set's temporary folder, hashed while they arrive, and
   the manifest (with the row counts the log reports) finishes the set.
"""

from __future__ import annotations

import logging
import posixpath
import re
import shlex
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from piak.core.errors import PiakError
from piak.engines import backupset, datapump, encryption, oracle_ssh
from piak.engines.backup_config import BackupConfig

log = logging.getLogger(__name__)
ENGINE = "oracle-datapump"


def row_counts(log_text: str) -> dict[str, int]:
    """``SCHEMA.TABLE -> rows`` from the ``. . exported ...`` lines of an expdp log."""
    return datapump.table_rows(log_text, "exported")


def content_problems(set_dir: Path, manifest: backupset.Manifest) -> list[str]:
    """The export log kept in the set against the manifest's row counts (a dump file itself can
    only be read by Oracle: the drill's restore proves it)."""
    log_name = f"{manifest.set_name}.log"
    if log_name not in {f.name for f in manifest.files}:
        return [f"log ekspor {log_name} tidak ada di set"]
    text = (Path(set_dir) / log_name).read_text(encoding="utf-8", errors="replace")
    found = row_counts(text)
    if found != manifest.row_counts:
        differ = sorted(set(found) ^ set(manifest.row_counts)) or sorted(
            t for t in found if found[t] != manifest.row_counts.get(t)
        )
        return [f"jumlah baris di manifest tidak sama dengan log ekspor: {', '.join(differ[:10])}"]
    return []


def export(
    config: BackupConfig,
    set_name: str,
    *,
    ssh_client: Any = None,
    recipients: list[str] | None = None,
) -> Path:
    """Export with expdp on the server and build the set ``set_name`` in ``config.backup_dir``;
    with ``recipients`` every dump file is encrypted on the server (``age``) before it is copied
    anywhere, and its plaintext removed there."""
    oracle = config.oracle
    if oracle is None:
        raise PiakError("konfigurasi oracle tidak ada")
    ssh_client = oracle_ssh.connect(oracle, ssh_client)
    sftp = ssh_client.open_sftp()
    started = datetime.now(UTC)
    dumpfile, logfile = f"{set_name}_%U.dmp", f"{set_name}.log"
    parfile = posixpath.join(oracle.server_dir, f".{set_name}.par")
    userid, secret = oracle_ssh.login(oracle)
    text = datapump.export_parfile(
        userid=userid,
        directory=oracle.directory,
        dumpfile=dumpfile,
        logfile=logfile,
        schemas=list(oracle.schemas) or None,
        full=oracle.full,
        filesize=oracle.filesize,
        checksum=oracle.checksum,
        logtime=oracle.logtime,
        metrics=oracle.metrics,
    )
    _remove_old(sftp, oracle.server_dir, set_name)
    with oracle_ssh.parameter_file(sftp, parfile, text):
        exit_code, output = oracle_ssh.run_tool(ssh_client, oracle, oracle.expdp, parfile)
    log_text = oracle_ssh.read_text(sftp, posixpath.join(oracle.server_dir, logfile))
    result = datapump.parse_log(log_text, exit_code, oracle_ssh.scrub(output, secret))
    result.raise_for_failure("expdp")
    for line in result.warnings:
        log.warning("expdp berhasil dengan peringatan: %s", line)
    if not result.dump_files:
        raise PiakError("expdp: log tidak menyebut berkas dump (Dump file set ... is:)")
    dumps = [posixpath.basename(remote) for remote in result.dump_files]
    plain = (
        _encrypt_on_server(ssh_client, sftp, config, set_name, dumps, recipients)
        if recipients
        else {}
    )
    work = backupset.start_set(config.backup_dir, set_name)
    try:
        names, entries = [], []
        for dump in dumps:
            name = f"{dump}{encryption.SUFFIX}" if plain else dump
            digest = oracle_ssh.download(sftp, posixpath.join(oracle.server_dir, name), work / name)
            names.append(name)
            if plain:
                size, plain_sha = plain[dump]
                entries.append(
                    backupset.FileEntry(name, (work / name).stat().st_size, digest, size, plain_sha)
                )
        (work / logfile).write_text(log_text, encoding="utf-8")
        files = [*entries, *backupset.describe_files(work, [logfile])] if plain else None
        extra: dict[str, Any] = {"datapump_warnings": result.warnings} if result.warnings else {}
        if plain:
            extra["encryption"] = {"scheme": encryption.SCHEME, "recipients": list(recipients)}
        manifest = backupset.Manifest(
            set_name=set_name,
            database=oracle.ssh_conn_id,
            engine=ENGINE,
            tool="Oracle Data Pump expdp over SSH",
            started_at=started.isoformat(),
            finished_at=datetime.now(UTC).isoformat(),
            files=files or backupset.describe_files(work, [*names, logfile]),
            schemas=list(oracle.schemas) or ["FULL"],
            row_counts=row_counts(log_text),
            extra=extra,
        )
        folder = backupset.finish_set(work, manifest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    for name in names:  # the verified copy lives in the set now
        oracle_ssh.quiet_remove(sftp, posixpath.join(oracle.server_dir, name))
    return folder


def _encrypt_on_server(
    ssh_client: Any,
    sftp: Any,
    config: BackupConfig,
    set_name: str,
    dumps: list[str],
    recipients: list[str],
) -> dict[str, tuple[int, str]]:
    """Encrypt every dump file on the database server with ``age`` (to a temporary name, renamed
    when complete), after recording its plaintext size and SHA-256; the plaintext is removed
    there. Returns ``{dump: (plain size, plain SHA-256)}``."""
    oracle = config.oracle
    folder = oracle.server_dir
    keys = posixpath.join(folder, f".{set_name}.recipients")
    for text in recipients:
        encryption.recipient(text)  # only well-formed public keys reach the server
    with sftp.open(keys, "w") as handle:
        handle.write("\n".join(recipients) + "\n")
    timeout = oracle.timeout.total_seconds()
    plain = {}
    try:
        for dump in dumps:
            path = posixpath.join(folder, dump)
            code, output = oracle_ssh.execute(
                ssh_client,
                f"stat -c %s -- {shlex.quote(path)} && sha256sum -- {shlex.quote(path)}",
                timeout=timeout,
                what="sha256sum",
            )
            found = re.match(r"^(\d+)\s+\\?([0-9a-f]{64})\s", output.strip() + " ")
            if code != 0 or not found:
                raise PiakError(f"{dump}: ukuran/SHA-256 di server tidak terbaca: {output[-300:]}")
            plain[dump] = (int(found.group(1)), found.group(2))
            sealed, part = f"{path}{encryption.SUFFIX}", f"{path}{encryption.SUFFIX}.part"
            code, output = oracle_ssh.execute(
                ssh_client,
                f"{shlex.quote(config.encryption.age)} -R {shlex.quote(keys)} "
                f"-o {shlex.quote(part)} -- {shlex.quote(path)} "
                f"&& mv -f -- {shlex.quote(part)} {shlex.quote(sealed)} "
                f"&& rm -f -- {shlex.quote(path)}",
                timeout=timeout,
                what="age",
            )
            if code != 0:
                oracle_ssh.quiet_remove(sftp, part)
                raise PiakError(
                    f"{dump}: enkripsi di server gagal (age, kode {code}): {output[-300:]}; "
                    f"pasang age di server atau atur encryption.age"
                )
    finally:
        oracle_ssh.quiet_remove(sftp, keys)
    return plain


def _remove_old(sftp: Any, folder: str, set_name: str) -> None:
    """Leftovers of an earlier, failed try of the same set would make expdp refuse to run."""
    for name in sftp.listdir(folder):
        dump = name.startswith(f"{set_name}_") and (
            name.endswith(".dmp") or name.endswith(".dmp.age") or name.endswith(".dmp.age.part")
        )
        if dump or name == f"{set_name}.log":
            oracle_ssh.quiet_remove(sftp, posixpath.join(folder, name))
