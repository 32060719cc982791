"""Oracle Data Pump (expdp / impdp): parameter files and reading their logs.

Options and credentials go into a parameter file (PARFILE) written with owner-only permissions
on the database server and removed afterwards, so the password never appears on a command line.
Success is decided from the log and the exit code together: exit 0 *and* the "successfully
completed" line. Exit 5 ("completed with N error(s)"), ORA-/UDE-/UDI- lines, a fatal stop, a
missing log or missing dump files are failures, reported with the lines that say why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from piak.core.errors import PiakError

#: LOGTIME=ALL / LOGFILE (12.1+): ``26-APR-25 07:43:08.659: `` (month as NLS names it).
_LOGTIME = re.compile(r"^\d{1,2}-[^\W\d_]{3,5}\.?-\d{2,4} \d{1,2}:\d{2}:\d{2}(?:[.,]\d{1,9})?: ")
#: PARALLEL / METRICS worker prefix: ``W-4 ``.
_WORKER = re.compile(r"^W-\d+ ")
#: ``Job "SCHEMA"."JOB_NAME" <how it ended>``.
_JOB_END = re.compile(r'^Job "[^"]+"\."[^"]+" (.*)$')
_WITH_ERRORS = re.compile(r"completed with (\d+) error|mit (\d+) Fehler", re.I)
_ERROR_LINE = re.compile(r"^\s*((?:ORA|UDE|UDI|LRM|KUP)-\d{5}:?.*)$")
_CODE = re.compile(r"^((?:ORA|UDE|UDI|LRM|KUP)-\d{5})")
_DUMP_SET = re.compile(
    r"^(?:Dump file set for .* is:|F(?:ü|u|ue)r .* festgelegte Dumpdatei(?:en)? ist:)$"
)
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_$#]{0,127}$")
_FILE = re.compile(r"^[A-Za-z0-9_.%-]{1,200}$")
#: ``. . exported "SCHEMA"."TABLE"  12.3 KB  100 rows`` - a partition adds ``:"PART"``, a
#: network import has no size, METRICS adds `` in 0 seconds using direct_path``.
_TABLE_ROWS = re.compile(
    r'^\. \. (exported|imported) "([^"]+)"\."([^"]+)"(?::"[^"]+")?(?:\s.*?)?\s(\d+) rows\b'
)
#: Console output wraps at 80 columns on Windows (the rest of a line continues on the next).
_WRAP = 80
TABLE_EXISTS_ACTIONS = ("SKIP", "APPEND", "TRUNCATE", "REPLACE")

#: ORA- messages that Oracle documents as warnings and that appear in jobs ending
#: "successfully completed" (exit code 0): reported, never fatal. Sources: tests/data/datapump/
#: WARNINGS.md (Oracle Utilities 12.1, ENCRYPTION_PASSWORD: "a warning is issued"; the message
#: text of ORA-39396 itself says "Warning").
WARNINGS = {
    "ORA-39173": "data terenkripsi tersimpan tanpa enkripsi di berkas dump",
    "ORA-39396": "data terenkripsi diekspor transportable tanpa kata sandi",
}
#: What an import into existing tables reports for every table it finds there (with
#: TABLE_EXISTS_ACTION=TRUNCATE/APPEND the data is loaded all the same): Oracle counts these
#: lines, so the job "completed with N error(s)" (exit 5) although nothing went wrong. The row
#: counts compared with the manifest decide such an import.
EXISTING_OBJECTS = {
    "ORA-31684": "objek sudah ada",
    "ORA-39111": "objek turunan dilewati karena objek dasarnya sudah ada",
    "ORA-39151": "tabel sudah ada, dilewati (SKIP)",
    "ORA-39152": "tabel sudah ada, data ditambahkan (APPEND)",
    "ORA-39153": "tabel sudah ada dan dikosongkan, data dimuat (TRUNCATE)",
}
#: Verdicts, from the job's last line (Oracle's own count, never a count of ORA- lines).
SUCCESS, WITH_ERRORS, FATAL, NOT_STARTED = (
    "success",
    "completed_with_errors",
    "fatal",
    "not_started",
)


class DataPumpError(PiakError):
    """Data Pump did not succeed; the message carries the log lines that say why."""


@dataclass
class DataPumpResult:
    """What a Data Pump log says: the verdict of its job line, Oracle's error count, the error
    and warning lines, the dump file set and the rows per table."""

    exit_code: int
    verdict: str
    error_count: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dump_files: list[str] = field(default_factory=list)
    rows: dict[str, dict[str, int]] = field(default_factory=dict)
    log_found: bool = True

    @property
    def completed(self) -> bool:
        return self.verdict == SUCCESS

    @property
    def ok(self) -> bool:
        """Exit code 0 (EX_SUCC), the job "successfully completed", and no ORA- line other than
        a documented warning."""
        return self.exit_code == 0 and self.completed and not self.errors and self.log_found

    @property
    def only_existing_objects(self) -> bool:
        """Completed with errors (exit 5) that are all "already exists" reports of an import
        into existing tables (:data:`EXISTING_OBJECTS`)."""
        codes = {_code(line) for line in self.errors}
        return (
            self.exit_code == 5
            and self.verdict == WITH_ERRORS
            and bool(codes)
            and codes <= set(EXISTING_OBJECTS)
        )

    def failure_message(self, what: str = "expdp") -> str | None:
        """Why the job failed (with the log lines that say so), or None when it succeeded."""
        if self.ok:
            return None
        code = f"kode keluar {self.exit_code}" if self.exit_code >= 0 else "terhenti tanpa kode"
        reasons = [code]
        if not self.log_found:
            reasons.append("log Data Pump tidak ditemukan")
        if self.verdict == WITH_ERRORS:
            reasons.append(f"selesai dengan {self.error_count} galat")
        elif self.verdict == FATAL:
            reasons.append("job berhenti karena galat fatal")
        elif self.verdict == NOT_STARTED:
            reasons.append("job tidak berjalan sampai selesai (baris akhir 'Job ...' tidak ada)")
        elif self.errors:
            reasons.append("baris ORA- yang bukan peringatan terdokumentasi")
        elif self.exit_code != 0:
            reasons.append("kode keluar tidak cocok dengan log yang berhasil")
        detail = "\n".join(self.errors[:20])
        return f"{what} gagal ({', '.join(reasons)})" + (f":\n{detail}" if detail else "")

    def raise_for_failure(self, what: str = "expdp") -> None:
        message = self.failure_message(what)
        if message:
            raise DataPumpError(message)


def log_lines(text: str) -> list[str]:
    """The log's lines as Data Pump means them: CRLF, LOGTIME timestamps, ``;;;`` markers,
    worker prefixes, blank double spacing and 80-column console wrapping removed."""
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        line = _LOGTIME.sub("", line, count=1)
        if line.startswith(";;;"):
            line = line[3:].lstrip()
        line = _WORKER.sub("", line, count=1)
        if not line.strip():
            continue
        if lines and len(lines[-1]) == _WRAP and not _starts_record(line):
            lines[-1] += line
            continue
        lines.append(line)
    return lines


def _starts_record(line: str) -> bool:
    return bool(
        line.startswith((". .", "Job ", "Processing ", "Starting ", "Master table ", "  ", "*"))
        or _ERROR_LINE.match(line)
    )


def error_lines(text: str) -> list[str]:
    """The ORA-/UDE-/UDI-/LRM-/KUP- lines of a log or of the tool's own output."""
    found = (_ERROR_LINE.match(line) for line in log_lines(text))
    return [m.group(1).strip() for m in found if m]


def parse_log(text: str | None, exit_code: int, output: str = "") -> DataPumpResult:
    """Read an expdp/impdp log, 10g to 23ai. ``text`` None means the log could not be fetched:
    then the tool's own ``output`` (where a job that never started says why) is read instead."""
    found = text is not None
    lines = log_lines(text if found else output)
    result = DataPumpResult(exit_code, NOT_STARTED, log_found=found)
    started = False
    for index, line in enumerate(lines):
        if line.startswith("Starting "):
            started = True
        if _DUMP_SET.match(line):
            result.dump_files += _dump_block(lines[index + 1 :])
        ended = _JOB_END.match(line)
        if ended:
            result.verdict, result.error_count = _verdict(ended.group(1))
        rows = _TABLE_ROWS.match(line)
        if rows:
            verb, schema, table, count = rows.groups()
            per = result.rows.setdefault(verb, {})
            per[f"{schema}.{table}"] = per.get(f"{schema}.{table}", 0) + int(count)
    if result.verdict == NOT_STARTED and started:
        result.verdict = FATAL  # started, never ended: stopped before it could say so
    for message in (m.group(1).strip() for m in map(_ERROR_LINE.match, lines) if m):
        (result.warnings if _code(message) in WARNINGS else result.errors).append(message)
    if not found:
        result.errors.insert(0, "log Data Pump tidak ditemukan")
    return result


def _code(line: str) -> str | None:
    found = _CODE.match(line)
    return found.group(1) if found else None


def _verdict(ending: str) -> tuple[str, int]:
    errors = _WITH_ERRORS.search(ending)
    if errors:
        return WITH_ERRORS, int(errors.group(1) or errors.group(2))
    if "successfully completed" in ending or "erfolgreich" in ending:
        return SUCCESS, 0
    return FATAL, 0  # "stopped due to fatal error", "stopped by user request", ...


def _dump_block(following: list[str]) -> list[str]:
    files = []
    for line in following:
        if not line.startswith((" ", "\t")):
            break
        files.append(line.strip())
    return files


def identifier(value: str, what: str) -> str:
    """An Oracle identifier (schema, directory object) as configured: no quoting tricks."""
    if not isinstance(value, str) or not _IDENT.match(value):
        raise PiakError(f"{what} bukan identifier Oracle yang sah: {value!r}")
    return value.upper()


def file_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not _FILE.match(value) or ".." in value:
        raise PiakError(f"{what} bukan nama berkas yang sah: {value!r}")
    return value


def export_parfile(
    *,
    userid: str | None,
    directory: str,
    dumpfile: str,
    logfile: str,
    schemas: list[str] | None,
    full: bool = False,
    filesize: str = "4G",
    checksum: bool = False,
    logtime: str = "none",
    metrics: bool = False,
) -> str:
    """The expdp parameter file. ``userid`` is ``user/password@service`` or None for OS auth."""
    if bool(schemas) == bool(full):
        raise PiakError("pilih salah satu: daftar skema atau FULL=Y")
    lines = _userid_lines(userid)
    lines += [
        f"DIRECTORY={identifier(directory, 'DIRECTORY')}",
        f"DUMPFILE={file_name(dumpfile, 'DUMPFILE')}",
        f"LOGFILE={file_name(logfile, 'LOGFILE')}",
        f"FILESIZE={filesize}",
        "FLASHBACK_TIME=SYSTIMESTAMP",
    ]
    if full:
        lines.append("FULL=Y")
    else:
        lines.append("SCHEMAS=" + ",".join(identifier(s, "SCHEMAS") for s in schemas or []))
    if checksum:
        lines.append("CHECKSUM=YES")
    if logtime != "none":
        lines.append(f"LOGTIME={logtime.upper()}")
    if metrics:
        lines.append("METRICS=YES")
    return "\n".join(lines) + "\n"


def table_rows(log_text: str, verb: str = "imported") -> dict[str, int]:
    """``SCHEMA.TABLE -> rows`` from the ``. . exported`` / ``. . imported`` lines of a log;
    the partitions of a partitioned table are added up."""
    return parse_log(log_text, 0).rows.get(verb, {})


def table_name(value: str, what: str = "TABLES") -> str:
    """``SCHEMA.TABLE`` with both parts checked by :func:`identifier`."""
    parts = value.split(".") if isinstance(value, str) else []
    if len(parts) != 2:
        raise PiakError(f"{what}: {value!r} harus berbentuk SKEMA.TABEL")
    return ".".join(identifier(part, what) for part in parts)


def exists_action(value: str, what: str = "TABLE_EXISTS_ACTION") -> str:
    """One of SKIP, APPEND, TRUNCATE, REPLACE (any case)."""
    action = value.upper() if isinstance(value, str) else value
    if action not in TABLE_EXISTS_ACTIONS:
        raise PiakError(
            f"{what}: {value!r} bukan salah satu dari {', '.join(TABLE_EXISTS_ACTIONS)}"
        )
    return action


_CONNECT = re.compile(r"^[A-Za-z0-9_.:/\[\]-]{1,255}$")


def userid(login: Any, password: Any, connect: str, *, where: str = "Connection") -> str:
    """The USERID value ``user/"password"@connect`` of a parameter file.

    The password is quoted, so ``@``, ``/``, ``,``, spaces and the other printable characters
    are part of it and nothing else; Oracle itself forbids the double quotation mark in a
    password (OCI-28212), and a control character would break the file's line: both are
    refused here, naming the Connection (never the password)."""
    user = identifier(login, f"{where}: login")
    if not isinstance(password, str) or not password:
        raise PiakError(f"{where}: password kosong")
    if '"' in password:
        raise PiakError(
            f'{where}: password berisi tanda petik ganda ("), yang tidak diizinkan Oracle '
            "dalam password (OCI-28212); ganti password pengguna backup"
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        raise PiakError(f"{where}: password berisi karakter kendali (baris baru, tab, ...)")
    if connect and not _CONNECT.match(connect):
        raise PiakError(f"{where}: host/service tidak sah: {connect!r}")
    return f'{user}/"{password}"' + (f"@{connect}" if connect else "")


def _userid_lines(userid: str | None) -> list[str]:
    """``USERID=...``: one line, or the rest of it would become parameters (never echoed)."""
    if not userid:
        return []
    if "\n" in userid or "\r" in userid:
        raise PiakError("USERID dari Connection berisi baris baru; perbaiki login/password-nya")
    return [f"USERID={userid}"]


def import_parfile(
    *,
    userid: str | None,
    directory: str,
    dumpfiles: Sequence[str],
    logfile: str,
    sqlfile: str | None = None,
    schemas: Sequence[str] | None = None,
    tables: Sequence[str] | None = None,
    remap_schema: Mapping[str, str] | None = None,
    table_exists_action: str | None = None,
    job_name: str | None = None,
) -> str:
    """The impdp parameter file. ``sqlfile`` makes it a dry run (the DDL is written, nothing is
    executed). ``remap_schema`` maps source to target schemas; it is refused together with
    TABLE_EXISTS_ACTION=REPLACE, which would drop whatever tables the mapping lands on."""
    if bool(schemas) == bool(tables):
        raise PiakError("impdp: pilih salah satu: daftar skema (SCHEMAS) atau tabel (TABLES)")
    if not dumpfiles:
        raise PiakError("impdp: tidak ada berkas dump (DUMPFILE)")
    action = exists_action(table_exists_action) if table_exists_action else None
    remap = {
        identifier(source, "REMAP_SCHEMA"): identifier(target, "REMAP_SCHEMA")
        for source, target in (remap_schema or {}).items()
    }
    if remap and action == "REPLACE":
        raise PiakError(
            "impdp: REMAP_SCHEMA bersama TABLE_EXISTS_ACTION=REPLACE ditolak "
            "(bisa menghapus tabel di skema tujuan); pakai TRUNCATE, APPEND atau SKIP"
        )
    if any(source == target for source, target in remap.items()):
        raise PiakError("impdp: REMAP_SCHEMA ke skema yang sama tidak ada gunanya")
    lines = _userid_lines(userid)
    lines += [
        f"DIRECTORY={identifier(directory, 'DIRECTORY')}",
        "DUMPFILE=" + ",".join(file_name(name, "DUMPFILE") for name in dumpfiles),
        f"LOGFILE={file_name(logfile, 'LOGFILE')}",
    ]
    if sqlfile:
        lines.append(f"SQLFILE={file_name(sqlfile, 'SQLFILE')}")
    if schemas:
        lines.append("SCHEMAS=" + ",".join(identifier(s, "SCHEMAS") for s in schemas))
    else:
        lines.append("TABLES=" + ",".join(table_name(t) for t in tables or []))
    lines += [f"REMAP_SCHEMA={source}:{target}" for source, target in remap.items()]
    if action:
        lines.append(f"TABLE_EXISTS_ACTION={action}")
    if job_name:
        lines.append(f"JOB_NAME={identifier(job_name, 'JOB_NAME')}")
    return "\n".join(lines) + "\n"
