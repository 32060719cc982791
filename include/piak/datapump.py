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

from piak.errors import PiakError

_COMPLETED = re.compile(r'^Job "[^"]+"\."[^"]+" successfully completed at .*$', re.M)
_COMPLETED_WITH_ERRORS = re.compile(
    r'^Job "[^"]+"\."[^"]+" completed with (\d+) error\(s\) at .*$', re.M
)
_STOPPED = re.compile(r'^Job "[^"]+"\."[^"]+" stopped due to fatal error at .*$', re.M)
_ERROR_LINE = re.compile(r"^\s*((?:ORA|UDE|UDI|LRM|KUP)-\d{5}:.*)$", re.M)
_DUMP_SET = re.compile(r"^Dump file set for .* is:\s*$((?:\n\s+\S.*$)+)", re.M)
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_$#]{0,127}$")
_FILE = re.compile(r"^[A-Za-z0-9_.%-]{1,200}$")
#: ``. . imported "SCHEMA"."TABLE"  12.3 KB  100 rows`` (a partition adds ``:"PART"``).
_TABLE_ROWS = re.compile(
    r'^\s*\. \. (exported|imported) "([^"]+)"\."([^"]+)"(?::"[^"]+")?[^\n]*?\s(\d+)\s+rows\s*$',
    re.M,
)
TABLE_EXISTS_ACTIONS = ("SKIP", "APPEND", "TRUNCATE", "REPLACE")


class DataPumpError(PiakError):
    """Data Pump did not succeed; the message carries the log lines that say why."""


@dataclass
class DataPumpResult:
    exit_code: int
    completed: bool
    error_count: int
    errors: list[str] = field(default_factory=list)
    dump_files: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.completed and not self.errors

    def failure_message(self, what: str = "expdp") -> str | None:
        """Why the job failed (with the log lines that say so), or None when it succeeded."""
        if self.ok:
            return None
        code = f"kode keluar {self.exit_code}" if self.exit_code >= 0 else "terhenti tanpa kode"
        reasons = [code]
        if self.error_count:
            reasons.append(f"selesai dengan {self.error_count} galat")
        if not self.completed and not self.error_count:
            reasons.append("baris 'successfully completed' tidak ada di log")
        detail = "\n".join(self.errors[:20])
        return f"{what} gagal ({', '.join(reasons)})" + (f":\n{detail}" if detail else "")

    def raise_for_failure(self, what: str = "expdp") -> None:
        message = self.failure_message(what)
        if message:
            raise DataPumpError(message)


def error_lines(text: str) -> list[str]:
    """The ORA-/UDE-/UDI-/LRM-/KUP- lines of a log or of the tool's own output."""
    return [m.group(1).strip() for m in _ERROR_LINE.finditer(text)]


def parse_log(text: str | None, exit_code: int, output: str = "") -> DataPumpResult:
    """Read an expdp/impdp log. ``text`` None means the log could not be fetched; then the
    error lines of the tool's own ``output`` (a client error never reaches the log) are kept."""
    if text is None:
        errors = ["log Data Pump tidak ditemukan", *error_lines(output)]
        return DataPumpResult(exit_code, False, 0, errors)
    errors = error_lines(text)
    with_errors = _COMPLETED_WITH_ERRORS.search(text)
    stopped = _STOPPED.search(text)
    if stopped:
        errors.append(stopped.group(0).strip())
    dump_files: list[str] = []
    for block in _DUMP_SET.finditer(text):
        dump_files += [line.strip() for line in block.group(1).splitlines() if line.strip()]
    return DataPumpResult(
        exit_code=exit_code,
        completed=bool(_COMPLETED.search(text)),
        error_count=int(with_errors.group(1)) if with_errors else len(errors),
        errors=errors,
        dump_files=dump_files,
    )


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
    return "\n".join(lines) + "\n"


def table_rows(log_text: str, verb: str = "imported") -> dict[str, int]:
    """``SCHEMA.TABLE -> rows`` from the ``. . exported`` / ``. . imported`` lines of a log;
    the partitions of a partitioned table are added up."""
    counts: dict[str, int] = {}
    for found, schema, table, rows in _TABLE_ROWS.findall(log_text):
        if found == verb:
            key = f"{schema}.{table}"
            counts[key] = counts.get(key, 0) + int(rows)
    return counts


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
