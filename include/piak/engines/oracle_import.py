"""Production engine, recovery: Oracle Data Pump import (impdp) on the database server over SSH.

1. Everything is checked before anything happens: the target (``scratch``: REMAP_SCHEMA into
   ``oracle.scratch_schema`` with ``oracle.scratch_table_exists_action``, never REPLACE;
   ``production``: ``oracle.table_exists_action`` must be configured explicitly), the set's
   manifest, its dump files and the tables asked for.
2. The set's dump files are streamed to ``oracle.server_dir`` over SFTP under a temporary name,
   hashed while sending, checked on the server (``sha256sum``) against the manifest and only then
   renamed; an identical file already there (same size and SHA-256) is used as it is.
3. The parameter file (with the importing user's credentials from the Airflow Connection
   ``db_conn_id``) is owner-only and removed afterwards; ``impdp`` gets only ``PARFILE=...``.
4. The log is fetched into the evidence folder and read (:mod:`piak.engines.datapump`): success
   only with exit code 0 and the "successfully completed" line. A failure names the log lines that
   say why, the tables already imported and those not yet imported.
5. The dump files uploaded for the job are removed afterwards, success or failure.

Names on the server (log, parameter file, upload list, job) derive from ``run_key``: a rerun of
the same run finds what an interrupted try left behind and cleans it first.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import posixpath
import re
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from piak.core.errors import PiakError
from piak.core.files import write_text_atomic
from piak.engines import backupset, datapump, encryption, oracle_ssh
from piak.engines.backup_config import BackupConfig, OracleConfig

log = logging.getLogger(__name__)
MODES = ("dryrun", "scratch", "production")
_PASSWORD_HASH = re.compile(r"(IDENTIFIED BY VALUES\s+)'[^']*'", re.I)


@dataclass
class ImportResult:
    """What an import restored (nothing for a dry run): rows per ``SOURCE_SCHEMA.TABLE`` (scratch
    names mapped back to the source schema, as in the manifest's ``row_counts``) and the log,
    kept as evidence."""

    row_counts: dict[str, int]
    log_text: str
    log_file: Path
    ddl_file: Path | None = None  # target "dryrun": the SQLFILE, password hashes masked


@dataclass(frozen=True)
class _Job:
    """One impdp run, fully checked before anything touches the server."""

    oracle: OracleConfig
    set_dir: Path
    mode: str  # "dryrun", "scratch" or "production"
    dumps: tuple[backupset.FileEntry, ...]
    tables: tuple[str, ...]  # the manifest keys this job restores
    remap: dict[str, str]  # source schema -> target schema
    action: str | None  # TABLE_EXISTS_ACTION
    token: str  # file names on the server
    job_name: str
    parfile_text: str
    secret: str | None
    identities: tuple[Any, ...] = ()  # private keys, when the set is encrypted

    def remote(self, name: str) -> str:
        return posixpath.join(self.oracle.server_dir, name)

    @property
    def logfile(self) -> str:
        return f"{self.token}.log"

    @property
    def sqlfile(self) -> str:
        return f"{self.token}.sql"

    @property
    def parfile(self) -> str:
        return self.remote(f".{self.token}.par")

    @property
    def upload_list(self) -> str:
        return self.remote(f".{self.token}.uploads")

    def part(self, name: str) -> str:
        return self.remote(f".{name}.{self.token}.part")


def server_name(entry: backupset.FileEntry) -> str:
    """The dump file's name on the server: an encrypted file is decrypted on the way there."""
    return entry.name.removesuffix(encryption.SUFFIX) if entry.encrypted else entry.name


def import_set(
    config: BackupConfig,
    set_dir: Path,
    *,
    target: str,
    run_key: str,
    evidence_dir: Path,
    tables: list[str] | None = None,
    ssh_client: Any = None,
) -> ImportResult:
    """target ``dryrun`` (impdp SQLFILE=...: nothing executed; the DDL, password hashes of
    CREATE USER masked, in ``ddl_file``), ``scratch`` (REMAP_SCHEMA into oracle.scratch_schema)
    or ``production`` (TABLE_EXISTS_ACTION from config, required)."""
    if target not in MODES:
        raise PiakError(f"tujuan pemulihan {target!r} tidak dikenal: {', '.join(MODES)}")
    job = _job(config, set_dir, target, run_key, tables)
    dry, ddl = target == "dryrun", None
    with _session(job, ssh_client) as (client, sftp):
        try:
            log_text = _execute(client, sftp, job, evidence_dir)
            ddl = oracle_ssh.read_text(sftp, job.remote(job.sqlfile)) if dry else None
        finally:  # the SQLFILE holds the schemas' password hashes
            if dry:
                oracle_ssh.quiet_remove(sftp, job.remote(job.sqlfile))
    result = ImportResult(
        row_counts=_source_counts(datapump.table_rows(log_text, "imported"), job.remap),
        log_text=log_text,
        log_file=_evidence_log(evidence_dir, job),
    )
    if dry:
        if ddl is None:
            raise PiakError(f"impdp: berkas SQLFILE {job.sqlfile} tidak dibuat; log:\n{log_text}")
        masked = _PASSWORD_HASH.sub(r"\1'********'", oracle_ssh.scrub(ddl, job.secret))
        result.ddl_file = write_text_atomic(evidence_dir / "impdp-dryrun.sql", masked)
    return result


# -- checks before anything happens ------------------------------------------------------------


def _job(
    config: BackupConfig, set_dir: Path, mode: str, run_key: str, tables: list[str] | None
) -> _Job:
    oracle = config.oracle
    if oracle is None:
        raise PiakError("konfigurasi oracle tidak ada")
    manifest = backupset.load_manifest(set_dir)
    dumps = _dump_files(manifest, set_dir)
    chosen = _chosen_tables(manifest, tables)
    schemas = _source_schemas(manifest, chosen)
    remap, action = _target_options(oracle, mode, schemas)
    token, job_name = _names(run_key, mode)
    identities = tuple(encryption.identities_for(config))
    if any(entry.encrypted for entry in dumps) and not identities:
        raise encryption.KeyProblem(
            f"set {manifest.set_name} terenkripsi, tetapi tidak ada kunci privat untuk membukanya "
            "(kunci uji pulih di Connection piak_backup_identity)"
        )
    userid, secret = oracle_ssh.login(oracle)
    text = datapump.import_parfile(
        userid=userid,
        directory=oracle.directory,
        dumpfiles=[server_name(entry) for entry in dumps],
        logfile=f"{token}.log",
        sqlfile=f"{token}.sql" if mode == "dryrun" else None,
        schemas=None if tables else schemas,
        tables=list(chosen) if tables else None,
        remap_schema=remap,
        table_exists_action=action,
        job_name=job_name,
    )
    return _Job(
        oracle, set_dir, mode, dumps, chosen, remap, action, token, job_name, text, secret,
        identities,
    )  # fmt: skip


def _dump_files(manifest: backupset.Manifest, set_dir: Path) -> tuple[backupset.FileEntry, ...]:
    if manifest.engine != "oracle-datapump":
        raise PiakError(f"set {manifest.set_name} bukan ekspor Data Pump ({manifest.engine})")
    dumps = tuple(
        entry for entry in manifest.files if entry.name.lower().endswith((".dmp", ".dmp.age"))
    )
    if not dumps:
        raise PiakError(f"set {manifest.set_name}: manifest tidak menyebut berkas dump (.dmp)")
    missing = [entry.name for entry in dumps if not (set_dir / entry.name).is_file()]
    if missing:
        raise PiakError(f"set {manifest.set_name}: berkas dump hilang: {', '.join(missing)}")
    return dumps


def _chosen_tables(manifest: backupset.Manifest, wanted: list[str] | None) -> tuple[str, ...]:
    """Manifest keys (``SCHEMA.TABLE``); a bare table name is accepted when it is unambiguous."""
    known = sorted(manifest.row_counts)
    if not wanted:
        return tuple(known)
    chosen = []
    for item in wanted:
        name = str(item).upper()
        matches = [key for key in known if name in (key, key.split(".", 1)[-1])]
        if len(matches) != 1:
            problem = "ambigu" if matches else "tidak ada di set"
            raise PiakError(f"tabel {item!r} {problem} {manifest.set_name}")
        chosen.append(datapump.table_name(matches[0]))
    return tuple(dict.fromkeys(chosen))


def _source_schemas(manifest: backupset.Manifest, tables: tuple[str, ...]) -> list[str]:
    found = {key.split(".", 1)[0] for key in tables}
    found = found or {schema for schema in manifest.schemas if schema.upper() != "FULL"}
    if not found:
        raise PiakError(f"set {manifest.set_name}: manifest tidak menyebut skema atau tabel")
    return sorted(datapump.identifier(schema, "skema") for schema in found)


def _target_options(
    oracle: OracleConfig, mode: str, schemas: list[str]
) -> tuple[dict[str, str], str | None]:
    """REMAP_SCHEMA and TABLE_EXISTS_ACTION of the target, refused when unsafe or missing."""
    if mode == "dryrun":
        return {}, None
    if mode == "production":
        if not oracle.table_exists_action:
            raise PiakError(
                "pemulihan ke produksi ditolak: oracle.table_exists_action belum diisi di "
                "konfigurasi backup (SKIP, APPEND, TRUNCATE atau REPLACE harus dipilih secara "
                "eksplisit); tidak ada yang diunggah atau diubah"
            )
        return {}, datapump.exists_action(oracle.table_exists_action, "table_exists_action")
    if not oracle.scratch_schema:
        raise PiakError("pemulihan ke scratch: oracle.scratch_schema belum diisi di konfigurasi")
    scratch = datapump.identifier(oracle.scratch_schema, "scratch_schema")
    if len(schemas) != 1 or scratch in schemas:
        raise PiakError(
            f"pemulihan ke scratch {scratch}: harus tepat satu skema sumber yang bukan skema "
            f"scratch itu sendiri (set ini: {', '.join(schemas)}); pilih tabel dari satu skema"
        )
    return {schemas[0]: scratch}, oracle.scratch_table_exists_action


def _names(run_key: str, mode: str) -> tuple[str, str]:
    """File-name token and JOB_NAME of a run's job: the same on a rerun, safe as names."""
    if not isinstance(run_key, str) or not run_key.strip():
        raise PiakError("run_key kosong")
    digest = hashlib.sha256(f"{run_key}\n{mode}".encode()).hexdigest()[:10]
    readable = re.sub(r"[^A-Za-z0-9_-]+", "_", run_key)[:40]
    return f"piak_imp_{mode}_{readable}_{digest}", f"PIAK_IMP_{digest.upper()}"


# -- on the server ----------------------------------------------------------------------------


@contextlib.contextmanager
def _session(job: _Job, ssh_client: Any) -> Generator[tuple[Any, Any], None, None]:
    """An SSH client (the caller's or a new one) and its SFTP channel; the dump files uploaded
    for the job are removed at the end, whatever happened."""
    client = oracle_ssh.connect(job.oracle, ssh_client)
    try:
        sftp = client.open_sftp()
        try:
            yield client, sftp
        finally:
            _remove_uploads(sftp, job)
            sftp.close()
    finally:
        if ssh_client is None:
            client.close()


def _execute(client: Any, sftp: Any, job: _Job, evidence_dir: Path) -> str:
    """Clean leftovers, upload, run impdp, keep and read its log; the log text on success."""
    _clean_leftovers(sftp, job)
    _upload_dumps(client, sftp, job)
    code, output, stopped = _run_impdp(client, sftp, job)
    log_text = oracle_ssh.read_text(sftp, job.remote(job.logfile))
    log_text = None if log_text is None else oracle_ssh.scrub(log_text, job.secret)
    kept = log_text if log_text is not None else f"# log impdp tidak ada; keluaran:\n{output}"
    write_text_atomic(_evidence_log(evidence_dir, job), kept)
    result = datapump.parse_log(log_text, code, output)
    message = result.failure_message("impdp")
    if job.action and result.only_existing_objects:  # tables were there: rows decide
        log.warning("impdp melaporkan tabel yang sudah ada:\n%s", "\n".join(result.errors[:20]))
        message = None
    if stopped:  # the log so far may say why it was slow
        message = "\n".join([stopped, *datapump.error_lines(log_text or "")])
    if message:
        raise datapump.DataPumpError(message + _progress(job, log_text or ""))
    return log_text or ""


def _run_impdp(client: Any, sftp: Any, job: _Job) -> tuple[int, str, str | None]:
    """``(exit code, output, why it was stopped)`` of impdp with the job's parameter file."""
    with oracle_ssh.parameter_file(sftp, job.parfile, job.parfile_text):
        try:
            code, output = oracle_ssh.run_tool(client, job.oracle, job.oracle.impdp, job.parfile)
        except oracle_ssh.RemoteTimeout as exc:
            return -1, "", _timeout_message(exc, job)
    return code, oracle_ssh.scrub(output, job.secret), None


def _evidence_log(evidence_dir: Path, job: _Job) -> Path:
    return evidence_dir / f"impdp-{job.mode}.log"


def _timeout_message(exc: PiakError, job: _Job) -> str:
    return (
        f"{exc}. Job {job.job_name} mungkin masih berjalan di database: periksa "
        f"DBA_DATAPUMP_JOBS; hentikan dengan impdp ATTACH={job.job_name} lalu KILL_JOB "
        "sebelum mengulang"
    )


def _clean_leftovers(sftp: Any, job: _Job) -> None:
    """What an earlier, interrupted try of the same run left: log, SQL file, parameter file and
    half-sent uploads (complete uploads stay listed and are reused when identical)."""
    earlier = oracle_ssh.read_text(sftp, job.remote(job.logfile))
    if earlier is not None and job.mode != "dryrun":
        done = sorted(_source_counts(datapump.table_rows(earlier, "imported"), job.remap))
        log.warning("Percobaan sebelumnya run ini sudah mengimpor: %s", ", ".join(done) or "-")
    for path in [job.remote(job.logfile), job.remote(job.sqlfile), job.parfile]:
        oracle_ssh.quiet_remove(sftp, path)
    for entry in job.dumps:
        oracle_ssh.quiet_remove(sftp, job.part(server_name(entry)))


def _upload_dumps(client: Any, sftp: Any, job: _Job) -> None:
    ours = _uploaded(sftp, job)
    for entry in job.dumps:
        if _identical(client, sftp, job, entry):
            log.info("%s sudah ada di server dan identik: tidak diunggah ulang", entry.name)
            continue
        ours.append(server_name(entry))
        with sftp.open(job.upload_list, "w") as handle:  # before the file can appear
            handle.write("\n".join(dict.fromkeys(ours)) + "\n")
        _upload_verified(client, sftp, job, entry)


def _uploaded(sftp: Any, job: _Job) -> list[str]:
    """Names this run uploaded (also in an earlier, interrupted try)."""
    text = oracle_ssh.read_text(sftp, job.upload_list) or ""
    return [name for name in text.splitlines() if name]


def _plain(entry: backupset.FileEntry) -> tuple[int, str]:
    """Size and SHA-256 of the dump as the server must hold it (decrypted)."""
    if entry.encrypted:
        return entry.plain_size, entry.plain_sha256
    return entry.size, entry.sha256


def _identical(client: Any, sftp: Any, job: _Job, entry: backupset.FileEntry) -> bool:
    remote = job.remote(server_name(entry))
    try:
        size = sftp.stat(remote).st_size
    except FileNotFoundError:
        return False
    timeout = job.oracle.timeout.total_seconds()
    expected_size, expected_sha = _plain(entry)
    return size == expected_size and (
        oracle_ssh.remote_sha256(client, remote, timeout=timeout) == expected_sha
    )


def _upload_verified(client: Any, sftp: Any, job: _Job, entry: backupset.FileEntry) -> None:
    """Send under a temporary name (an encrypted file decrypted on the way, its plaintext
    checked against the manifest), check what the server holds, rename."""
    part = job.part(server_name(entry))
    _, expected = _plain(entry)
    try:
        if entry.encrypted:
            with sftp.open(part, "wb") as handle:
                handle.set_pipelined(True)
                encryption.decrypt_to(
                    job.set_dir / entry.name, handle, job.identities, plain_sha256=expected
                )
        elif oracle_ssh.upload(sftp, job.set_dir / entry.name, part) != entry.sha256:
            raise PiakError(f"{entry.name} di set berbeda dari manifest (SHA-256); verifikasi set")
        timeout = job.oracle.timeout.total_seconds()
        if oracle_ssh.remote_sha256(client, part, timeout=timeout) != expected:
            raise PiakError(f"{entry.name} rusak setelah diunggah ke server (SHA-256 berbeda)")
        sftp.posix_rename(part, job.remote(server_name(entry)))
    finally:
        oracle_ssh.quiet_remove(sftp, part)


def _remove_uploads(sftp: Any, job: _Job) -> None:
    """Remove the dump files this run uploaded; a failure here is logged, never raised over the
    import's own outcome."""
    try:
        for name in _uploaded(sftp, job):
            oracle_ssh.quiet_remove(sftp, job.remote(name))
        oracle_ssh.quiet_remove(sftp, job.upload_list)
    except Exception as exc:  # the connection may be gone; a rerun cleans up
        log.warning("Berkas dump yang diunggah belum terhapus dari server: %s", exc)


# -- reading the outcome ------------------------------------------------------------------------


def _source_counts(imported: dict[str, int], remap: dict[str, str]) -> dict[str, int]:
    """``TARGET.TABLE -> rows`` back to the source schema (the manifest's keys)."""
    back = {target: source for source, target in remap.items()}
    counts: dict[str, int] = {}
    for key, rows in imported.items():
        schema, table = key.split(".", 1)
        counts[f"{back.get(schema, schema)}.{table}"] = rows
    return counts


def _progress(job: _Job, log_text: str) -> str:
    """What a failed import did and what must be redone."""
    if job.mode == "dryrun":
        return ""
    done = _source_counts(datapump.table_rows(log_text, "imported"), job.remap)
    imported = [t for t in job.tables if t in done]
    pending = [t for t in job.tables if t not in done]
    return (
        f"\nSudah diimpor ({len(imported)} dari {len(job.tables)} tabel): "
        f"{', '.join(imported) or '-'}\nBelum diimpor ({len(pending)}): {', '.join(pending) or '-'}"
        f"\nYang harus diulang: {_redo_advice(job.action)}"
    )


def _redo_advice(action: str | None) -> str:
    if action in ("TRUNCATE", "REPLACE"):
        return (
            f"jalankan ulang tugas impor (run yang sama); TABLE_EXISTS_ACTION={action} memuat "
            "ulang juga tabel yang sudah diimpor atau terisi sebagian"
        )
    return (
        f"TABLE_EXISTS_ACTION={action} tidak memuat ulang tabel yang sudah ada: pulihkan hanya "
        "tabel yang belum diimpor, dan kosongkan dulu tabel yang terisi sebagian"
    )
