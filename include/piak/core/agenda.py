"""The agenda (log book): every finished step of every SOP run, in one store.

Reached through SQLAlchemy Core at ``piak.core.settings.agenda_url()``: a SQLite file by default,
PostgreSQL in the production stack. Writing is an upsert keyed on (dag_id, run_id, task_id,
map_index, step_number): a retry or a rerun of the same task replaces its entry, never
duplicates it (a task that carries out two SOP steps has one entry per step).
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from piak.core import settings
from piak.core.errors import PiakError
from piak.core.indonesian import MONTHS
from piak.core.roles import ROLE_TITLES, ROLES
from piak.core.spreadsheet import safe_row

OUTCOMES: dict[str, str] = {
    "done": "selesai",
    "approved": "disetujui",
    "rejected": "ditolak",
    "failed": "gagal",
    "returned": "dikembalikan",
    "skipped": "dilewati",
    "reminded": "pengingat",
    "escalated": "dieskalasi",
    "exception": "pengecualian",
}
#: Entries that are events around a step, not the step itself: never measured (Mutu Baku).
EVENTS = ("failed", "reminded", "escalated", "exception")
WIB = ZoneInfo(settings.TIMEZONE)
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
#: Longest value each bounded text column takes (PostgreSQL refuses longer ones).
_LENGTHS = {"sop_code": 64, "dag_id": 250, "run_id": 250, "task_id": 250, "actor": 250}

metadata = sa.MetaData()
agenda_entry = sa.Table(
    "agenda_entry",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("sop_code", sa.String(64), nullable=False),
    sa.Column("dag_id", sa.String(250), nullable=False),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.Column("task_id", sa.String(250), nullable=False),
    sa.Column("map_index", sa.Integer, nullable=False, server_default="-1"),
    sa.Column("step_number", sa.Integer, nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(250), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("output_ref", sa.Text),
    sa.Column("note", sa.Text),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("standard_minutes", sa.Integer),
    sa.UniqueConstraint(
        "dag_id", "run_id", "task_id", "map_index", "step_number", name="uq_agenda_task_step"
    ),
)

#: Sign-off answers as the API server accepted them (``piak.workflow.answers``): what lets an answer
#: survive a retry of its task. One row per request; a later answer replaces it.
signoff_answer = sa.Table(
    "signoff_answer",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dag_id", sa.String(250), nullable=False),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.Column("task_id", sa.String(250), nullable=False),
    sa.Column("map_index", sa.Integer, nullable=False),
    sa.Column("try_number", sa.Integer, nullable=False),
    sa.Column("opened_at", sa.DateTime(timezone=True)),
    sa.Column("responded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("answer", sa.JSON, nullable=False),
    sa.UniqueConstraint("dag_id", "run_id", "task_id", "map_index", name="uq_signoff_answer"),
)


@dataclass(frozen=True)
class AgendaEntry:
    """One finished step. ``recorded_at`` is when it finished (timezone-aware); ``started_at``
    when it began (a sign-off: when the request was opened); ``standard_minutes`` the upper end
    of the step's standard time (Mutu Baku), which the duration is measured against."""

    recorded_at: datetime
    sop_code: str
    dag_id: str
    run_id: str
    task_id: str
    step_number: int
    role: str
    actor: str
    outcome: str
    map_index: int = -1
    output_ref: str | None = None
    note: str | None = None
    started_at: datetime | None = None
    standard_minutes: int | None = None

    @property
    def duration_minutes(self) -> float | None:
        if self.started_at is None:
            return None
        return max((self.recorded_at - self.started_at).total_seconds(), 0.0) / 60

    @property
    def within_standard(self) -> bool | None:
        """True when the step took no longer than its standard time (None: not measurable)."""
        if self.duration_minutes is None or self.standard_minutes is None:
            return None
        return self.duration_minutes <= self.standard_minutes

    def validate(self) -> None:
        """Raise :class:`PiakError` naming the first bad field; touches nothing."""
        if self.outcome not in OUTCOMES:
            raise PiakError(
                f"agenda: outcome {self.outcome!r} bukan salah satu dari {list(OUTCOMES)}"
            )
        if self.role not in ROLES:
            raise PiakError(f"agenda: role {self.role!r} bukan salah satu dari {list(ROLES)}")
        if not isinstance(self.recorded_at, datetime) or self.recorded_at.tzinfo is None:
            raise PiakError("agenda: recorded_at harus waktu dengan zona waktu")
        if self.started_at is not None and (
            not isinstance(self.started_at, datetime) or self.started_at.tzinfo is None
        ):
            raise PiakError("agenda: started_at harus waktu dengan zona waktu atau None")
        if self.standard_minutes is not None and (
            not _is_int(self.standard_minutes) or self.standard_minutes < 1
        ):
            raise PiakError("agenda: standard_minutes harus bilangan bulat positif atau None")
        if not _is_int(self.step_number) or self.step_number < 1:
            raise PiakError(
                f"agenda: step_number {self.step_number!r} harus bilangan bulat positif"
            )
        if not _is_int(self.map_index) or self.map_index < -1:
            raise PiakError(f"agenda: map_index {self.map_index!r} harus bilangan bulat >= -1")
        for name, limit in _LENGTHS.items():
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise PiakError(f"agenda: {name} wajib diisi")
            if len(value) > limit:
                raise PiakError(f"agenda: {name} lebih dari {limit} karakter")
        for name in ("output_ref", "note"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise PiakError(f"agenda: {name} harus teks atau None")
        for name in (*_LENGTHS, "output_ref", "note"):
            if "\x00" in (getattr(self, name) or ""):
                raise PiakError(f"agenda: {name} memuat karakter NUL")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_engines: dict[str, sa.Engine] = {}
_engines_lock = threading.Lock()


def _forget_engines_after_fork() -> None:
    """A forked child must not reuse its parent's pooled connections (or a held lock)."""
    global _engines_lock
    _engines_lock = threading.Lock()
    for cached in _engines.values():
        cached.dispose(close=False)
    _engines.clear()


os.register_at_fork(after_in_child=_forget_engines_after_fork)


def engine(url: str | None = None) -> sa.Engine:
    """The agenda's engine for ``url`` (default: settings), tables created on first use."""
    url = url or settings.agenda_url()
    with _engines_lock:
        if url not in _engines:
            if url.startswith("sqlite:///"):
                Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
                created = sa.create_engine(url, connect_args={"timeout": 30})
            else:
                created = sa.create_engine(url, pool_pre_ping=True)
            for table in metadata.sorted_tables:
                _create(created, table)
            _add_missing_columns(created)
            _engines[url] = created
        return _engines[url]


def _create(eng: sa.Engine, table: sa.Table, attempts: int = 5) -> None:
    """Create ``table`` unless it exists; another process creating it between the check and the
    create (processes start together) is not an error."""
    for attempt in range(attempts):
        try:
            table.create(eng, checkfirst=True)
            return
        except sa.exc.DBAPIError:
            if attempt == attempts - 1:
                raise


def _add_missing_columns(eng: sa.Engine) -> None:
    """An agenda made by an earlier version gets the columns added since (all nullable)."""
    present = {c["name"] for c in sa.inspect(eng).get_columns(agenda_entry.name)}
    missing = [c for c in agenda_entry.columns if c.name not in present]
    for column in missing:
        kind = column.type.compile(dialect=eng.dialect)
        try:
            with eng.begin() as conn:
                conn.execute(
                    sa.text(f"ALTER TABLE {agenda_entry.name} ADD COLUMN {column.name} {kind}")
                )
        except sa.exc.DBAPIError:  # added by another process meanwhile
            pass


def record(entry: AgendaEntry, url: str | None = None) -> None:
    """Write ``entry``; the same task of the same run is replaced, never duplicated."""
    entry.validate()
    eng = engine(url)
    values = {f.name: getattr(entry, f.name) for f in fields(entry)}
    values["recorded_at"] = entry.recorded_at.astimezone(UTC)
    if entry.started_at is not None:
        values["started_at"] = entry.started_at.astimezone(UTC)
    values["updated_at"] = datetime.now(UTC)
    if eng.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif eng.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the two supported stores
        raise PiakError(f"agenda: basis data {eng.dialect.name} tidak didukung")
    statement = insert(agenda_entry).values(**values)
    key = ["dag_id", "run_id", "task_id", "map_index", "step_number"]
    statement = statement.on_conflict_do_update(
        index_elements=key,
        set_={k: statement.excluded[k] for k in values if k not in key},
    )
    with eng.begin() as conn:
        conn.execute(statement)


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The UTC instants where a WIB month ``YYYY-MM`` starts and ends."""
    match = _MONTH.fullmatch(month) if isinstance(month, str) else None
    if not match or not 1 <= int(match.group(1)) <= 9998:
        raise PiakError(f"bulan tidak sah: {month!r} (format YYYY-MM, mis. 2026-11)")
    year, mon = int(match.group(1)), int(match.group(2))
    start = datetime(year, mon, 1, tzinfo=WIB)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=WIB)
    return start.astimezone(UTC), end.astimezone(UTC)


def entries(
    month: str | None = None,
    dag_id: str | None = None,
    run_id: str | None = None,
    url: str | None = None,
) -> list[AgendaEntry]:
    """Entries ordered by when they finished, optionally of one WIB month, DAG or run."""
    query = sa.select(agenda_entry).order_by(agenda_entry.c.recorded_at, agenda_entry.c.id)
    if month is not None:
        start, end = month_bounds(month)
        query = query.where(agenda_entry.c.recorded_at >= start, agenda_entry.c.recorded_at < end)
    if dag_id is not None:
        query = query.where(agenda_entry.c.dag_id == dag_id)
    if run_id is not None:
        query = query.where(agenda_entry.c.run_id == run_id)
    with engine(url).connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [_entry(row) for row in rows]


def _entry(row: Any) -> AgendaEntry:
    names = {f.name for f in fields(AgendaEntry)}
    values = {k: row[k] for k in names}
    for key in ("recorded_at", "started_at"):
        if values[key] is not None and values[key].tzinfo is None:  # SQLite keeps no zone: UTC
            values[key] = values[key].replace(tzinfo=UTC)
    return AgendaEntry(**values)


def standard_time_report(month: str, url: str | None = None) -> list[dict[str, Any]]:
    """Per SOP step of a WIB month: how many measured, median duration, the standard time, and
    how many took longer than it (the Mutu Baku the office measures itself against)."""
    import statistics

    groups: dict[tuple[str, int], list[AgendaEntry]] = {}
    for e in entries(month=month, url=url):
        if e.duration_minutes is not None and e.outcome not in EVENTS:
            groups.setdefault((e.sop_code, e.step_number), []).append(e)
    report = []
    for (sop_code, step), items in sorted(groups.items()):
        durations = [e.duration_minutes for e in items]
        report.append(
            {
                "sop": sop_code,
                "step": step,
                "count": len(items),
                "median_minutes": round(statistics.median(durations), 1),
                "max_minutes": round(max(durations), 1),
                "standard_minutes": items[-1].standard_minutes,
                "over_standard": sum(1 for e in items if e.within_standard is False),
            }
        )
    return report


HEADERS = [
    "No.",
    "Tanggal (WIB)",
    "Jam (WIB)",
    "SOP",
    "Langkah",
    "Peran",
    "Pelaksana/Penanda tangan",
    "Hasil",
    "Keluaran",
    "Catatan",
    "Durasi (menit)",
    "Waktu baku",
    "Sesuai waktu baku",
    "Run",
]
WITHIN = {True: "ya", False: "melebihi", None: ""}


def _rows(items: list[AgendaEntry]) -> list[list[Any]]:
    rows = []
    for number, e in enumerate(items, start=1):
        local = e.recorded_at.astimezone(WIB)
        rows.append(
            [
                number,
                local.strftime("%d-%m-%Y"),
                local.strftime("%H:%M"),
                e.sop_code,
                e.step_number,
                ROLE_TITLES.get(e.role, e.role),
                e.actor,
                OUTCOMES[e.outcome],
                e.output_ref or "",
                e.note or "",
                round(e.duration_minutes, 1) if e.duration_minutes is not None else "",
                _standard_text(e),
                WITHIN[e.within_standard],
                e.run_id,
            ]
        )
    return rows


def _standard_text(e: AgendaEntry) -> str:
    """The step's standard time in the SOP's own words ("2 Hari", not 2880 minutes); in
    minutes when the registry has changed since the entry was judged against it."""
    from piak.core import registry

    if not e.standard_minutes:
        return ""
    step = registry.find_step(e.sop_code, e.step_number)
    same = step and step.standard_time and step.standard_time.max_minutes == e.standard_minutes
    return step.time_text if same and step.time_text else f"{e.standard_minutes} menit"


def month_title(month: str) -> str:
    """``2026-11`` -> ``November 2026`` (the month in Bahasa Indonesia)."""
    month_bounds(month)
    year, mon = month.split("-")
    return f"{MONTHS[int(mon) - 1]} {year}"


def export_month(month: str, out: str | Path, url: str | None = None) -> tuple[Path, int]:
    """Write the month's agenda to ``out`` (.xlsx for the paper book, or .csv)."""
    _check_format(Path(out))
    title = month_title(month)
    return write_entries(entries(month=month, url=url), out, title)


def _check_format(out: Path) -> None:
    if out.suffix.lower() not in (".xlsx", ".csv"):
        raise PiakError(f"format keluaran tidak didukung: {out.name} (pakai .xlsx atau .csv)")


def write_entries(items: list[AgendaEntry], out: str | Path, title: str) -> tuple[Path, int]:
    """Write ``items`` to ``out`` (.xlsx or .csv) atomically; returns the file and its rows."""
    out = Path(out)
    _check_format(out)
    suffix = out.suffix.lower()
    rows = _rows(items)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        if suffix == ".csv":
            _write_csv(tmp, rows)
        else:
            _write_xlsx(tmp, rows, title)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out, len(rows)


def _write_csv(path: Path, rows: list[list[Any]]) -> None:
    import csv

    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        writer.writerows(safe_row(row) for row in rows)


def _write_xlsx(path: Path, rows: list[list[Any]], title: str) -> None:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = "Agenda"
    sheet.append([f"Agenda Bidang PIAK - {title}"])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADERS))
    sheet.append([])
    sheet.append(HEADERS)
    thin = Side(style="thin", color="999999")
    for cell in sheet[3]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        cell.border = Border(top=thin, bottom=thin, left=thin, right=thin)
    for row in rows:
        sheet.append(
            safe_row(ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in row)
        )
    widths = [5, 13, 9, 22, 8, 20, 24, 13, 40, 40, 10, 10, 11, 36]
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    # one style object for every body cell: openpyxl registers a new one per cell otherwise
    body = NamedStyle(
        name="agenda",
        alignment=Alignment(wrap_text=True, vertical="top"),
        border=Border(top=thin, bottom=thin, left=thin, right=thin),
    )
    book.add_named_style(body)
    for row in sheet.iter_rows(min_row=4):
        for cell in row:
            cell.style = "agenda"
    sheet.freeze_panes = "A4"
    sheet.print_title_rows = "3:3"
    sheet.page_setup.orientation = "landscape"
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    book.save(path)


#: How the Mutu Baku figures group the measured steps (page, export, monthly report).
GROUPINGS = {"langkah": "SOP dan langkah", "peran": "Peran", "orang": "Orang"}


def compliance(items: list[Any], by: str) -> list[dict[str, Any]]:
    """Mutu Baku of the measured steps (events such as reminders are not steps), grouped
    ``by`` ``langkah`` / ``peran`` / ``orang``: count, median, p90, longest, share within the
    standard time."""
    import statistics

    def key(e: Any) -> str:
        if by == "peran":
            return ROLE_TITLES.get(e.role, e.role)
        if by == "orang":
            return e.actor
        return f"{e.sop_code} langkah {e.step_number}"

    groups: dict[str, list[Any]] = {}
    for e in items:
        if e.duration_minutes is not None and e.outcome not in EVENTS:
            groups.setdefault(key(e), []).append(e)
    rows = []
    for name, found in sorted(groups.items()):
        minutes = sorted(e.duration_minutes for e in found)
        judged = [e.within_standard for e in found if e.within_standard is not None]
        p90 = minutes[max(0, -(-len(minutes) * 9 // 10) - 1)]  # nearest rank
        rows.append(
            {
                "group": name,
                "count": len(found),
                "median": round(statistics.median(minutes), 1),
                "p90": round(p90, 1),
                "max": round(minutes[-1], 1),
                "within": round(100 * sum(judged) / len(judged)) if judged else None,
            }
        )
    return rows
