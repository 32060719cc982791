"""Oracle Data Pump (expdp / impdp): parameter files and reading their logs.

Options and credentials go into a parameter file (PARFILE) written with owner-only permissions
on the database server and removed afterwards, so the password never appears on a command line.
Success is decided from the log and the exit code together: exit 0 *and* the "successfully
completed" line. Exit 5 ("completed with N error(s)"), ORA-/UDE-/UDI- lines, a fatal stop, a
missing log or missing dump files are failures, reported with the lines that say why.
"""

from __future__ import annotations

import re
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

    def raise_for_failure(self, what: str = "expdp") -> None:
        if self.ok:
            return
        reasons = [f"kode keluar {self.exit_code}"]
        if self.error_count:
            reasons.append(f"selesai dengan {self.error_count} galat")
        if not self.completed and not self.error_count:
            reasons.append("baris 'successfully completed' tidak ada di log")
        detail = "\n".join(self.errors[:20])
        raise DataPumpError(
            f"{what} gagal ({', '.join(reasons)})" + (f":\n{detail}" if detail else "")
        )


def parse_log(text: str | None, exit_code: int) -> DataPumpResult:
    """Read an expdp/impdp log. ``text`` None means the log could not be fetched."""
    if text is None:
        return DataPumpResult(exit_code, False, 0, ["log Data Pump tidak ditemukan"])
    errors = [m.group(1).strip() for m in _ERROR_LINE.finditer(text)]
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
    lines = []
    if userid:
        lines.append(f"USERID={userid}")
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
