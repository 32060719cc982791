"""The agenda store on SQLite and on a real PostgreSQL: idempotent writes, WIB months, export."""

from __future__ import annotations

import csv
import multiprocessing
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from piak.core import agenda
from piak.core.errors import PiakError

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
    later = datetime(2026, 11, 20, 4, 30, tzinfo=UTC)
    agenda.record(entry(outcome="approved", note="diterima utuh", recorded_at=later), url)
    (only,) = agenda.entries(url=url)
    assert (only.outcome, only.note, only.recorded_at) == ("approved", "diterima utuh", later)


def test_recorded_at_comes_back_as_the_same_instant(url):
    wib = datetime(2026, 11, 20, 10, 15, 30, 123456, tzinfo=ZoneInfo("Asia/Jakarta"))
    agenda.record(entry(recorded_at=wib), url)
    (only,) = agenda.entries(url=url)
    assert only.recorded_at.utcoffset() is not None
    assert only.recorded_at == wib == datetime(2026, 11, 20, 3, 15, 30, 123456, tzinfo=UTC)


def test_one_task_carrying_out_two_steps_gives_one_entry_per_step(url):
    agenda.record(entry(step_number=4), url)
    agenda.record(entry(step_number=5), url)
    agenda.record(entry(step_number=5, outcome="rejected", note="ulang"), url)
    assert [(e.step_number, e.outcome) for e in agenda.entries(url=url)] == [
        (4, "approved"),
        (5, "rejected"),
    ]


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


def test_concurrent_processes_leave_one_entry(url):
    context = multiprocessing.get_context("spawn")
    with context.Pool(8) as pool:  # each process creates the table too: that races as well
        pool.starmap(_record_many, [(url, w) for w in range(8)])
    (only,) = agenda.entries(url=url)
    assert only.note.endswith("try 9")


def test_concurrent_threads_leave_one_entry(url):
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        start.wait()
        try:
            _record_many(url, worker)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    (only,) = agenda.entries(url=url)
    assert only.note.endswith("try 9")


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
        ({"map_index": -2}, "map_index"),
        ({"step_number": True}, "step_number"),
        ({"sop_code": "x" * 65}, "sop_code"),
        ({"note": "a\x00b"}, "note"),
        ({"output_ref": 7}, "output_ref"),
    ],
)
def test_invalid_entries_are_refused_and_nothing_written(tmp_path, changes, field):
    url = f"sqlite:///{tmp_path / 'agenda.db'}"
    with pytest.raises(PiakError, match=field):
        agenda.record(entry(**changes), url)
    assert not (tmp_path / "agenda.db").exists()  # refused before the store was touched


@pytest.mark.parametrize(
    ("changes", "field"), [({"outcome": "ok"}, "outcome"), ({"role": "bupati"}, "role")]
)
def test_invalid_entries_leave_the_store_as_it_was(url, changes, field):
    agenda.record(entry(), url)
    with pytest.raises(PiakError, match=field):
        agenda.record(entry(**changes), url)
    (only,) = agenda.entries(url=url)
    assert (only.outcome, only.role) == ("approved", "kasi")


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "November", "", "2026-11\n", "0000-01"])
def test_bad_month_is_refused(month, tmp_path):
    with pytest.raises(PiakError, match="bulan tidak sah"):
        agenda.month_bounds(month)
    url = f"sqlite:///{tmp_path / 'agenda.db'}"
    with pytest.raises(PiakError, match="bulan tidak sah"):
        agenda.entries(month=month, url=url)
    with pytest.raises(PiakError, match="bulan tidak sah"):
        agenda.export_month(month, tmp_path / "agenda.xlsx", url)
    assert not (tmp_path / "agenda.xlsx").exists()


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
    assert (
        [c.value for c in sheet[3]]
        == agenda.HEADERS
        == [
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
    )
    assert all(c.font.bold for c in sheet[3])
    assert sheet.freeze_panes == "A4"
    assert sheet.column_dimensions["J"].width >= 30
    assert sheet["J4"].alignment.wrap_text
    body = [[c.value for c in row] for row in sheet.iter_rows(min_row=4)]
    assert [row[0] for row in body] == [1, 2, 3]
    assert body[0][1:3] == ["01-11-2026", "08:00"]  # 01:00 UTC = 08:00 WIB
    assert [row[7] for row in body] == ["disetujui", "ditolak", "selesai"]
    assert body[1][9] == "catatan 1"
    assert body[0][5] == "Kepala Seksi"
    assert body[0][3] == "backup_database"
    assert [row[11] for row in body] == [None, None, None]  # no standard time recorded
    assert len(body) == 3  # the October entry is not in November's book
    assert list(tmp_path.glob(".*.tmp")) == []


def test_export_states_the_standard_time_in_the_sop_s_own_words(url, tmp_path):
    from openpyxl import load_workbook

    began = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)
    field_check = entry(sop_code="helpdesk", dag_id="helpdesk", step_number=5, role="petugas",
                        standard_minutes=1440, started_at=began)  # fmt: skip
    agenda.record(field_check, url)
    path, _ = agenda.export_month("2026-11", tmp_path / "agenda.xlsx", url)
    row = [c.value for c in load_workbook(path).active[4]]
    assert (row[10], row[11], row[12]) == (2880, "1 hari", "melebihi")  # not "1440"


def test_export_xlsx_keeps_notes_as_text(url, tmp_path):
    from openpyxl import load_workbook

    agenda.record(entry(note='=HYPERLINK("http://x")\x07', output_ref="+62 811"), url)
    path, count = agenda.export_month("2026-11", tmp_path / "agenda.xlsx", url)
    cell = load_workbook(path).active["J4"]
    assert (count, cell.value, cell.data_type) == (1, '\'=HYPERLINK("http://x")', "s")


def test_export_csv(url, tmp_path):
    _november(url)
    path, count = agenda.export_month("2026-11", tmp_path / "agenda.csv", url)
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == agenda.HEADERS
    assert len(rows) == 1 + count == 4
    assert rows[1][1:4] == ["01-11-2026", "08:00", "backup_database"]
    assert [row[7] for row in rows[1:]] == ["disetujui", "ditolak", "selesai"]
    assert all(row[1].endswith("-11-2026") for row in rows[1:]) and rows[3][9] == "catatan 2"


@pytest.mark.parametrize("name", ["agenda.pdf", "agenda.xls", "agenda"])
def test_export_refuses_other_formats_and_writes_nothing(tmp_path, name):
    with pytest.raises(PiakError, match=r"\.xlsx atau \.csv"):
        agenda.export_month("2026-11", tmp_path / name, f"sqlite:///{tmp_path}/a.db")
    assert list(tmp_path.iterdir()) == []


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


def test_each_step_is_measured_against_its_standard_time(url, tmp_path):
    from openpyxl import load_workbook

    finished = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    agenda.record(
        entry(
            task_id="fast",
            recorded_at=finished,
            started_at=finished - timedelta(minutes=4),
            standard_minutes=5,
        ),
        url,
    )
    agenda.record(
        entry(
            task_id="slow",
            recorded_at=finished + timedelta(hours=1),
            started_at=finished - timedelta(minutes=50),
            standard_minutes=30,
        ),
        url,
    )
    agenda.record(entry(task_id="unmeasured", recorded_at=finished + timedelta(hours=2)), url)
    fast, slow, unmeasured = agenda.entries(month="2026-11", url=url)
    assert (fast.duration_minutes, fast.within_standard) == (4.0, True)
    assert (round(slow.duration_minutes), slow.within_standard) == (110, False)
    assert unmeasured.within_standard is None
    path, _ = agenda.export_month("2026-11", tmp_path / "agenda.xlsx", url)
    rows = [[c.value for c in row] for row in load_workbook(path).active.iter_rows(min_row=4)]
    assert [row[10:13] for row in rows] == [
        [4, "5 menit", "ya"],
        [110, "30 menit", "melebihi"],
        [None, None, None],
    ]
    report = agenda.standard_time_report("2026-11", url)
    assert [(r["count"], r["over_standard"], r["standard_minutes"]) for r in report] == [(2, 1, 30)]


def test_an_agenda_of_an_earlier_version_gets_the_new_columns(tmp_path):
    import sqlalchemy as sa

    path = tmp_path / "old.db"
    old = sa.create_engine(f"sqlite:///{path}")
    with old.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE agenda_entry (id INTEGER PRIMARY KEY, recorded_at DATETIME NOT NULL,"
                " sop_code VARCHAR(64) NOT NULL, dag_id VARCHAR(250) NOT NULL,"
                " run_id VARCHAR(250) NOT NULL, task_id VARCHAR(250) NOT NULL,"
                " map_index INTEGER NOT NULL DEFAULT -1, step_number INTEGER NOT NULL,"
                " role VARCHAR(32) NOT NULL, actor VARCHAR(250) NOT NULL,"
                " outcome VARCHAR(16) NOT NULL, output_ref TEXT, note TEXT,"
                " updated_at DATETIME NOT NULL,"
                " CONSTRAINT uq_agenda_task_step UNIQUE (dag_id, run_id, task_id, map_index,"
                " step_number))"
            )
        )
    old.dispose()
    url = f"sqlite:///{path}"
    agenda.record(entry(standard_minutes=5, started_at=datetime(2026, 11, 3, tzinfo=UTC)), url)
    assert agenda.entries(url=url)[0].standard_minutes == 5


def test_a_failure_note_is_one_sentence_without_class_names_or_nik():
    from airflow.sdk.exceptions import AirflowFailException

    from piak.workflow import steps

    assert steps.failure_note(AirflowFailException("Set siak_1 rusak:\n manifest  hilang")) == (
        "Set siak_1 rusak: manifest hilang"
    )
    unexpected = steps.failure_note(KeyError("kolom NIK 3201010101900001"))
    assert unexpected.startswith("Kesalahan tak terduga: ") and "KeyError" not in unexpected
    assert "3201010101900001" not in unexpected and unexpected.endswith("di log tugas)")
    assert steps.failure_note(PiakError("")) == "tanpa keterangan"
    assert steps.failure_note(None) is None
