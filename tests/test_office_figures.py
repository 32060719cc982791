"""The office's pages without a server (``piak.web.office_pages``): Mutu Baku figures from agenda
entries (count, median, p90, share within the standard time; reminders are not steps), the
chart, the page and its export; the agenda filters. (On a running Airflow:
tests/e2e/test_office_pages.py.)"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from piak.core import agenda
from piak.core.errors import InvalidRequest
from piak.web import my_tasks, office_pages

START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def entry(minutes: float, *, step=6, role="kasi", actor="kasi", outcome="approved", standard=5):
    return agenda.AgendaEntry(
        recorded_at=START + timedelta(minutes=minutes),
        sop_code="backup_database",
        dag_id="backup_handover",
        run_id=f"handover__{minutes}",
        task_id="receive_copy_kasi",
        map_index=-1,
        step_number=step,
        role=role,
        actor=actor,
        outcome=outcome,
        started_at=START,
        standard_minutes=standard,
    )


ITEMS = [entry(m) for m in (1, 2, 3, 4, 10)] + [
    entry(30, step=7, role="kabid", actor="wakil a.n. kabid"),
    entry(90, outcome="reminded"),  # an event beside the step: not measured
]


def test_mutu_baku_per_step_role_and_person():
    by_step = {r["group"]: r for r in agenda.compliance(ITEMS, "langkah")}
    six = by_step["backup_database langkah 6"]
    assert (six["count"], six["median"], six["p90"], six["max"], six["within"]) == (
        5, 3.0, 10.0, 10.0, 80)  # fmt: skip
    assert by_step["backup_database langkah 7"]["within"] == 0
    by_role = {r["group"]: r["count"] for r in agenda.compliance(ITEMS, "peran")}
    assert by_role == {"Kepala Seksi": 5, "Kepala Bidang PIAK": 1}
    by_person = {r["group"] for r in agenda.compliance(ITEMS, "orang")}
    assert by_person == {"kasi", "wakil a.n. kabid"}


def test_the_page_chart_and_export_show_the_figures():
    rows = agenda.compliance(ITEMS, "langkah")
    late = [my_tasks.Waiting("backup_handover", "r", "receive_copy_kabid", -1, "Serah <b>",
                             "- Batas waktu: 01-12-2026 10:00 WIB (1 jam)", ("kabid",),
                             START)]  # fmt: skip
    html = office_pages.compliance_page("2026-12", "langkah", rows, late)
    assert "Kepatuhan SOP Desember 2026" in html and "<td>80%</td>" in html
    assert "<svg" in html and 'width="240"' in html  # 80% of 300 px
    assert "Serah &lt;b&gt;" in html and "batas 01-12-2026 10:00 WIB (1 jam)" in html
    buffer = io.BytesIO()
    office_pages.compliance_xlsx("2026-12", "langkah", rows, buffer)
    sheet = load_workbook(io.BytesIO(buffer.getvalue())).active
    assert list(sheet.iter_rows(values_only=True))[1][:2] == ("backup_database langkah 6", 5)


def test_a_due_time_is_read_from_the_request_in_wib():
    due = "- Batas waktu: 01-12-2026 10:00 WIB (1 jam)"
    waiting = my_tasks.Waiting("d", "r", "t", -1, "s", due, (), START)
    assert waiting.due_at == datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    assert my_tasks.Waiting("d", "r", "t", -1, "s", "tanpa tenggat", (), START).due_at is None


def test_agenda_filters_refuse_a_bad_month_and_default_to_this_one():
    with pytest.raises(InvalidRequest, match="bulan tidak sah"):
        office_pages.agenda_filters({"bulan": "2026-13"})
    assert office_pages.agenda_filters({})["bulan"] == office_pages.this_month()
