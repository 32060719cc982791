"""The agenda store on SQLite and on a real PostgreSQL: idempotent writes, WIB months, export."""

from __future__ import annotations

import csv
import multiprocessing
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from piak import agenda
from piak.errors import PiakError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'agenda.db'}"
    base = request.getfixturevalue("postgres_url")
    with agenda.engine(base).begin() as conn:  # a clean table per test
        conn.execute(agenda.agenda_entry.delete())
    return base


def entry(**changes) -> agenda.AgendaEntry:
    values = {
        "recorded_at": datetime(2026, 11, 20, 3, 0, tzinfo=UTC),
        "sop_code": "backup_database",
        "dag_id": "backup_database",
        "run_id": "scheduled__2026-11-19T16:00:00+00:00",
        "task_id": "receive_copy_kasi",
        "step_number": 6,
        "role": "kasi",
        "actor": "kasi",
        "outcome": "approved",
        "output_ref": "siak_20261119T2300",
        "note": None,
    }
    values.update(changes)
    return agenda.AgendaEntry(**values)


def test_a_retry_replaces_never_duplicates(url):
    agenda.record(entry(outcome="failed", note="timeout"), url)
    agenda.record(entry(outcome="failed", note="timeout"), url)
    agenda.record(entry(outcome="approved", note="diterima utuh"), url)
    (only,) = agenda.entries(url=url)
    assert (only.outcome, only.note) == ("approved", "diterima utuh")


def test_different_tasks_and_runs_are_separate_entries(url):
    agenda.record(entry(), url)
    agenda.record(entry(task_id="receive_copy_kabid", step_number=7, role="kabid"), url)
    agenda.record(entry(run_id="manual__2026-11-21"), url)
    agenda.record(entry(map_index=0), url)
    assert len(agenda.entries(url=url)) == 4
    assert len(agenda.entries(run_id="manual__2026-11-21", url=url)) == 1


def _record_many(url: str, worker: int) -> None:
    for i in range(10):
        agenda.record(entry(note=f"worker {worker} try {i}"), url)


def test_concurrent_writers_leave_one_entry(url):
    agenda.engine(url)  # create the table before the race
    context = multiprocessing.get_context("spawn")
    with context.Pool(6) as pool:
        pool.starmap(_record_many, [(url, w) for w in range(6)])
    assert len(agenda.entries(url=url)) == 1


def test_month_uses_wib_boundaries(url):
    # 2026-10-31 18:30 UTC is 1 November 01:30 WIB.
    agenda.record(entry(task_id="a", recorded_at=datetime(2026, 10, 31, 18, 30, tzinfo=UTC)), url)
    agenda.record(entry(task_id="b", recorded_at=datetime(2026, 10, 31, 16, 59, tzinfo=UTC)), url)
    agenda.record(entry(task_id="c", recorded_at=datetime(2026, 11, 30, 16, 59, tzinfo=UTC)), url)
    agenda.record(entry(task_id="d", recorded_at=datetime(2026, 11, 30, 17, 0, tzinfo=UTC)), url)
    assert [e.task_id for e in agenda.entries(month="2026-11", url=url)] == ["a", "c"]
    assert [e.task_id for e in agenda.entries(month="2026-10", url=url)] == ["b"]
    assert [e.task_id for e in agenda.entries(month="2026-12", url=url)] == ["d"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"outcome": "ok"}, "outcome"),
        ({"role": "bupati"}, "role"),
        ({"actor": " "}, "actor"),
        ({"step_number": 0}, "step_number"),
        ({"recorded_at": datetime(2026, 11, 1)}, "recorded_at"),
    ],
)
def test_invalid_entries_are_refused_and_nothing_written(url, changes, field):
    with pytest.raises(PiakError, match=field):
        agenda.record(entry(**changes), url)
    assert agenda.entries(url=url) == []


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "November", ""])
def test_bad_month_is_refused(month):
    with pytest.raises(PiakError, match="bulan tidak sah"):
        agenda.month_bounds(month)


def _november(url: str) -> None:
    start = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)
    for i in range(3):
        agenda.record(
            entry(
                task_id=f"t{i}",
                recorded_at=start + timedelta(days=i),
                outcome=["approved", "rejected", "done"][i],
                note=f"catatan {i}",
            ),
            url,
        )
    agenda.record(entry(task_id="october", recorded_at=datetime(2026, 10, 2, tzinfo=UTC)), url)


def test_export_xlsx_has_the_month_in_indonesian(url, tmp_path):
    from openpyxl import load_workbook

    _november(url)
    path, count = agenda.export_month("2026-11", tmp_path / "agenda.xlsx", url)
    assert count == 3
    sheet = load_workbook(path).active
    assert sheet["A1"].value == "Agenda Bidang PIAK - November 2026"
    assert [c.value for c in sheet[3]] == agenda.HEADERS
    body = [[c.value for c in row] for row in sheet.iter_rows(min_row=4)]
    assert [row[0] for row in body] == [1, 2, 3]
    assert body[0][1:3] == ["01-11-2026", "08:00"]  # 01:00 UTC = 08:00 WIB
    assert [row[7] for row in body] == ["disetujui", "ditolak", "selesai"]
    assert body[1][9] == "catatan 1"
    assert body[0][5] == "Kepala Seksi"


def test_export_csv(url, tmp_path):
    _november(url)
    path, count = agenda.export_month("2026-11", tmp_path / "agenda.csv", url)
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == agenda.HEADERS
    assert len(rows) == 1 + count == 4


def test_export_refuses_other_formats_and_writes_nothing(tmp_path):
    with pytest.raises(PiakError, match=r"\.xlsx atau \.csv"):
        agenda.export_month("2026-11", tmp_path / "agenda.pdf", f"sqlite:///{tmp_path}/a.db")
    assert not (tmp_path / "agenda.pdf").exists()


def test_cli_export(tmp_path):
    url = f"sqlite:///{tmp_path / 'agenda.db'}"
    _november(url)
    out = tmp_path / "buku" / "agenda-2026-11.xlsx"
    result = subprocess.run(
        [sys.executable, "-m", "piak", "agenda", "export", "--month", "2026-11", "--out", str(out)],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "include"), PIAK_AGENDA_URL=url),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "3 entri agenda bulan 2026-11" in result.stdout
    assert out.exists()
    bad = subprocess.run(
        [sys.executable, "-m", "piak", "agenda", "export", "--month", "11-2026", "--out", str(out)],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "include"), PIAK_AGENDA_URL=url),
        timeout=60,
    )
    assert bad.returncode == 2 and "bulan tidak sah" in bad.stderr
