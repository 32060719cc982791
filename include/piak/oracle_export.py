"""Production engine: Oracle Data Pump export on the database server over SSH.

1. A parameter file with the options and the exporting user's credentials (from the Airflow
   Connection ``db_conn_id``) is written on the server with owner-only permissions; ``expdp``
   runs with only ``PARFILE=...`` on its command line; the parameter file is removed afterwards,
   whatever happens.
2. The log is fetched and read (:mod:`piak.datapump`): success only with exit code 0 and the
   "successfully completed" line; the dump files it lists must exist.
3. Dump files and log are streamed into the set's temporary folder, hashed while they arrive, and
   the manifest (with the row counts the log reports) finishes the set.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import posixpath
import re
import shlex
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from piak import backupset, datapump
from piak.backup_config import BackupConfig, OracleConfig
from piak.errors import PiakError

log = logging.getLogger(__name__)
ENGINE = "oracle-datapump"
_ROWS = re.compile(r'exported "([^"]+)"\."([^"]+)"(?:[^\n]*?)\s(\d+)\s+rows', re.M)


def row_counts(log_text: str) -> dict[str, int]:
    """``SCHEMA.TABLE -> rows`` from the ``. . exported ...`` lines of an expdp log."""
    return {f"{s}.{t}": int(n) for s, t, n in _ROWS.findall(log_text)}


def _userid(conn_id: str | None) -> str:
    if not conn_id:
        return '"/ as sysdba"'
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    service = conn.schema or (conn.extra_dejson or {}).get("service_name") or ""
    host = f"{conn.host}:{conn.port or 1521}/{service}" if conn.host else service
    return f"{conn.login}/{conn.password}@{host}" if host else f"{conn.login}/{conn.password}"


def export(config: BackupConfig, set_name: str, *, ssh_client: Any = None) -> Path:
    """Export with expdp on the server and build the set ``set_name`` in ``config.backup_dir``."""
    oracle = config.oracle
    if oracle is None:
        raise PiakError("konfigurasi oracle tidak ada")
    if ssh_client is None:
        from airflow.providers.ssh.hooks.ssh import SSHHook

        ssh_client = SSHHook(ssh_conn_id=oracle.ssh_conn_id).get_conn()
    sftp = ssh_client.open_sftp()
    started = datetime.now(UTC)
    dumpfile, logfile = f"{set_name}_%U.dmp", f"{set_name}.log"
    parfile = posixpath.join(oracle.server_dir, f".{set_name}.par")
    text = datapump.export_parfile(
        userid=_userid(oracle.db_conn_id),
        directory=oracle.directory,
        dumpfile=dumpfile,
        logfile=logfile,
        schemas=list(oracle.schemas) or None,
        full=oracle.full,
        filesize=oracle.filesize,
        checksum=oracle.checksum,
    )
    _remove_old(sftp, oracle.server_dir, set_name)
    try:
        with sftp.open(parfile, "w") as handle:
            handle.chmod(0o600)
            handle.write(text)
        exit_code = _run(ssh_client, oracle, parfile)
    finally:
        _quiet_remove(sftp, parfile)
    log_text = _read(sftp, posixpath.join(oracle.server_dir, logfile))
    result = datapump.parse_log(log_text, exit_code)
    result.raise_for_failure("expdp")
    if not result.dump_files:
        raise PiakError("expdp: log tidak menyebut berkas dump (Dump file set ... is:)")
    work = backupset.start_set(config.backup_dir, set_name)
    try:
        names = []
        for remote in result.dump_files:
            name = posixpath.basename(remote)
            _download(sftp, posixpath.join(oracle.server_dir, name), work / name)
            names.append(name)
        (work / logfile).write_text(log_text, encoding="utf-8")
        manifest = backupset.Manifest(
            set_name=set_name,
            database=oracle.ssh_conn_id,
            engine=ENGINE,
            tool="Oracle Data Pump expdp over SSH",
            started_at=started.isoformat(),
            finished_at=datetime.now(UTC).isoformat(),
            files=backupset.describe_files(work, [*names, logfile]),
            schemas=list(oracle.schemas) or ["FULL"],
            row_counts=row_counts(log_text),
        )
        folder = backupset.finish_set(work, manifest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    for name in names:  # the verified copy lives in the set now
        _quiet_remove(sftp, posixpath.join(oracle.server_dir, name))
    return folder


def _run(ssh_client: Any, oracle: OracleConfig, parfile: str) -> int:
    command = (
        f"cd {shlex.quote(oracle.server_dir)} && "
        f"{shlex.quote(oracle.expdp)} PARFILE={shlex.quote(parfile)}"
    )
    log.info("Menjalankan di server: %s", command)
    _, stdout, _ = ssh_client.exec_command(command)
    channel = stdout.channel
    deadline = time.monotonic() + oracle.timeout.total_seconds()
    while not channel.exit_status_ready():
        if time.monotonic() > deadline:
            channel.close()
            raise PiakError(f"expdp tidak selesai dalam {oracle.timeout}; dihentikan")
        time.sleep(0.5)
    return channel.recv_exit_status()


def _read(sftp: Any, path: str) -> str | None:
    try:
        with sftp.open(path, "r") as handle:
            return handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None


def _download(sftp: Any, remote: str, local: Path) -> str:
    digest = hashlib.sha256()
    try:
        source = sftp.open(remote, "rb")
    except FileNotFoundError:
        raise PiakError(f"berkas dump {posixpath.basename(remote)} tidak ada di server") from None
    with source, local.open("wb") as target:
        source.prefetch()
        while chunk := source.read(backupset.CHUNK):
            digest.update(chunk)
            target.write(chunk)
    return digest.hexdigest()


def _remove_old(sftp: Any, folder: str, set_name: str) -> None:
    """Leftovers of an earlier, failed try of the same set would make expdp refuse to run."""
    for name in sftp.listdir(folder):
        if (name.startswith(f"{set_name}_") and name.endswith(".dmp")) or name == f"{set_name}.log":
            _quiet_remove(sftp, posixpath.join(folder, name))


def _quiet_remove(sftp: Any, path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        sftp.remove(path)
