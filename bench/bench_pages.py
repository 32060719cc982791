"""The office pages at 10,000 agenda entries in one month: "Agenda" (read, filter by rights,
render), "Kepatuhan SOP" (read, Mutu Baku per step, render) and the agenda's XLSX export, each
against reading the same rows with a bare SQL query, measured alternately in the same run.
Target: each page within 1 s (the server's work; the HTTP hop adds milliseconds)."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ENTRIES = 10_000
RUNS = 5
TARGET_SECONDS = 1.0


def _fill(url: str, month_start: datetime) -> None:
    from piak.core import agenda, registry

    sops = registry.load_registry()
    engine = agenda.engine(url)
    rows = []
    for i in range(ENTRIES):
        sop = sops[i % len(sops)]
        step = sop.steps[i % len(sop.steps)]
        started = month_start + timedelta(minutes=4 * i)  # 10,000 fit in any month
        rows.append(
            {
                "recorded_at": started + timedelta(minutes=1 + i % 40),
                "sop_code": sop.code,
                "dag_id": sop.code,
                "run_id": f"manual__bench_{i // 8}",
                "task_id": f"step_{step.number}",
                "map_index": -1,
                "step_number": step.number,
                "role": step.role,
                "actor": ["kasi", "kabid", "jfu", "administrator"][i % 4],
                "outcome": "approved" if i % 9 else "failed",
                "note": "catatan uji",
                "updated_at": started,
                "started_at": started,
                "standard_minutes": 30,
            }
        )
    with engine.begin() as conn:
        conn.execute(agenda.agenda_entry.insert(), rows)


def run() -> str:
    import sqlalchemy as sa

    from piak.core import agenda
    from piak.web import office_pages

    folder = Path(tempfile.mkdtemp(prefix="piak-bench-pages-"))
    url = f"sqlite:///{folder / 'agenda.db'}"
    os.environ["PIAK_AGENDA_URL"] = url
    month = office_pages.this_month()
    start = datetime.strptime(month + "-01", "%Y-%m-%d").replace(tzinfo=UTC)
    _fill(url, start)
    filters = office_pages.agenda_filters({"bulan": month})

    def bare() -> None:
        with agenda.engine(url).connect() as conn:
            assert len(conn.execute(sa.select(agenda.agenda_entry)).all()) == ENTRIES

    def agenda_page() -> None:
        items = office_pages.agenda_entries("admin", filters)
        assert len(items) == ENTRIES
        office_pages.agenda_page("admin", filters, items)

    def compliance_page() -> None:
        rows = agenda.compliance(office_pages.agenda_entries("admin", filters), "langkah")
        office_pages.compliance_page(month, "langkah", rows, [])

    def export() -> None:
        items = office_pages.agenda_entries("admin", filters)
        agenda.write_entries(items, folder / "agenda.xlsx", "Agenda")

    measures = {"bare SQL read": bare, "Agenda page": agenda_page,
                "Kepatuhan SOP page": compliance_page, "Agenda XLSX export": export}  # fmt: skip
    for call in measures.values():
        call()  # warm
    times: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(RUNS):
        for name, call in measures.items():
            t = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - t)
    base = statistics.median(times["bare SQL read"])
    lines = [
        "## Office pages at 10,000 agenda entries",
        "",
        f"{ENTRIES:,} entries in one month (SQLite agenda), {RUNS} alternating runs in one "
        "process; each page is the server's work (read, rights filter, figures, HTML).",
        "",
        "| measure | median (s) | x bare SQL | target |",
        "|---|---|---|---|",
    ]
    failed = False
    for name, values in times.items():
        median = statistics.median(values)
        target = "" if name == "bare SQL read" or "XLSX" in name else f"<= {TARGET_SECONDS} s"
        verdict = ""
        if target:
            verdict = " PASS" if median <= TARGET_SECONDS else " FAIL"
            failed |= median > TARGET_SECONDS
        lines.append(f"| {name} | {median:.3f} | {median / base:.1f}x | {target}{verdict} |")
    lines += ["", f"Verdict: {'FAIL' if failed else 'PASS'}."]
    return "\n".join(lines) + "\n"
