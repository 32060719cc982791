"""The Kadis's monthly report (``piak.sops.monthly_report``): figures from a real agenda store, the
XLSX and PDF written whole, the month before the run's date, and the mail to the Kadis with
both files attached (a real SMTP server on loopback)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from access_helpers import ROOT
from mail_helpers import smtp_server
from openpyxl import load_workbook
from pdf_helpers import pdf_text

from piak.core import agenda
from piak.core.errors import PiakError
from piak.sops import monthly_report

NOVEMBER = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)


def entry(run: str, minutes: float, *, step=6, role="kasi", outcome="approved", at=NOVEMBER):
    return agenda.AgendaEntry(
        recorded_at=at + timedelta(minutes=minutes),
        sop_code="backup_database",
        dag_id="backup_handover",
        run_id=run,
        task_id=f"step_{step}_{outcome}",
        map_index=-1,
        step_number=step,
        role=role,
        actor=role,
        outcome=outcome,
        started_at=at,
        standard_minutes=5,
    )


@pytest.fixture
def office(tmp_path, monkeypatch):
    """A PIAK home with an agenda of November (and one December entry that must not count)."""
    monkeypatch.setenv("PIAK_HOME", str(tmp_path))
    access = yaml.safe_load((ROOT / "config" / "access.yaml").read_text())
    access["users"]["kadis"]["email"] = "kadis@disdukcapil.example"
    (tmp_path / "access.yaml").write_text(yaml.safe_dump(access))
    monkeypatch.setenv("PIAK_ACCESS_FILE", str(tmp_path / "access.yaml"))
    for item in [
        entry("r1", 3),
        entry("r1", 30, step=7, role="kabid"),
        entry("r2", 4),
        entry("r2", 90, step=7, role="kabid", outcome="reminded"),
        entry("r2", 95, step=7, role="kabid", outcome="failed"),
        entry("r3", 2, at=datetime(2026, 12, 1, 1, 0, tzinfo=UTC)),  # 1 December, 08:02 WIB
    ]:
        agenda.record(item)
    return tmp_path


def test_figures_count_the_month_and_keep_events_apart(office):
    found = monthly_report.figures("2026-11")
    ((_title, runs, measured, within, failed, reminded, escalated),) = found.by_sop
    assert (runs, measured, within, failed, reminded, escalated) == (2, 3, 67, 1, 1, 0)
    six = next(r for r in found.by_step if r[1] == 6)
    assert six[3] == "5 menit" and six[4:] == [2, 3.5, 4.0, 4.0, 100]
    roles = {r[0]: r[1] for r in found.by_role}
    assert roles == {"Kepala Seksi": 2, "Kepala Bidang PIAK": 1}


def test_a_run_on_the_first_reports_the_month_before_in_wib():
    assert monthly_report.previous_month(datetime(2026, 12, 1, 0, 0, tzinfo=UTC)) == "2026-11"
    # 31 December 17:30 UTC is 1 January 00:30 WIB: December is reported
    assert monthly_report.previous_month(datetime(2026, 12, 31, 17, 30, tzinfo=UTC)) == "2026-12"
    assert monthly_report.previous_month(datetime(2027, 1, 1, 0, 0, tzinfo=UTC)) == "2026-12"


def test_compile_and_send_mail_both_files_to_the_kadis(office, monkeypatch):
    context = {"params": {"bulan": ""}, "logical_date": datetime(2026, 12, 1, 0, 0, tzinfo=UTC)}
    made = monthly_report.compile_report(**context)
    assert made["month"] == "2026-11"
    folder = office / "storage" / "laporan-bulanan" / "2026-11"
    assert sorted(p.name for p in folder.iterdir()) == [
        "laporan-bulanan-2026-11.pdf",
        "laporan-bulanan-2026-11.xlsx",
    ]
    book = load_workbook(folder / "laporan-bulanan-2026-11.xlsx")
    assert book.sheetnames == ["Per SOP", "Per langkah", "Per peran"]
    assert book["Per SOP"]["C2"].value == 3
    text = pdf_text(folder / made["files"][0])
    assert "Laporan Bulanan Kepatuhan SOP" in text and "November 2026" in text
    assert "5 menit" in text and "67%" in text

    again = monthly_report.compile_report(**context)  # a rerun writes the same files again
    assert again == made and len(list(folder.iterdir())) == 2

    class TI:
        def xcom_pull(self, task_ids):
            assert task_ids == "compile_report"
            return made

    logged = monthly_report.send_report(ti=TI())  # no mail Connection yet: only logged
    assert logged["sent"] is False and not (folder / monthly_report.SENT_MARKER).exists()
    with smtp_server() as inbox:
        monkeypatch.setenv("AIRFLOW_CONN_PIAK_SMTP", inbox.connection)
        sent = monthly_report.send_report(ti=TI())
        again = monthly_report.send_report(ti=TI())  # a retry of the task: not mailed twice
    assert sent["receipt"] == "dikirim lewat e-mail ke kadis@disdukcapil.example"
    assert (sent["sent"], again["sent"], again["receipt"]) == (True, False, sent["receipt"])
    ((mail, to),) = inbox.received
    assert to == ["kadis@disdukcapil.example"]
    assert mail["Subject"] == "[PIAK Ops] Laporan Bulanan Kepatuhan SOP Bidang PIAK November 2026"
    attached = {part.get_filename(): part.get_content() for part in mail.iter_attachments()}
    assert set(attached) == set(made["files"])
    assert load_workbook(io.BytesIO(attached["laporan-bulanan-2026-11.xlsx"])).sheetnames[0] == (
        "Per SOP"
    )


def test_a_month_without_entries_is_an_empty_report_not_an_error(office):
    found = monthly_report.figures("2026-10")
    assert found.by_sop == [] and found.measured == 0
    made = monthly_report.compile_report(
        params={"bulan": "2026-10"}, logical_date=datetime(2026, 12, 3, tzinfo=UTC)
    )
    text = pdf_text(office / "storage" / "laporan-bulanan" / "2026-10" / made["files"][0])
    assert "Tidak ada catatan agenda" in text


def test_a_run_started_by_hand_reports_the_month_before_it_was_started(office):
    class Run:  # an Airflow 3 manual run: no logical date, only when it was to run
        run_after = datetime(2026, 12, 3, 5, 0, tzinfo=UTC)

    made = monthly_report.compile_report(params={"bulan": ""}, logical_date=None, dag_run=Run())
    assert made["month"] == "2026-11"


@pytest.mark.parametrize("month", ["2026-13", "2026-11/../../etc", "../2026-11", "2026-1"])
def test_a_bad_month_is_refused_naming_it(office, month):
    context = {"params": {"bulan": month}, "logical_date": NOVEMBER}
    with pytest.raises(PiakError, match="bulan tidak sah"):
        monthly_report.compile_report(**context)
    assert not (office / "storage" / "laporan-bulanan").exists()


def test_the_mutu_baku_command_states_standard_times_in_the_sop_s_own_words(office):
    import os
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(ROOT / "include"))
    result = subprocess.run(
        [sys.executable, "-m", "piak", "mutu-baku", "--month", "2026-11"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    (six,) = [
        line
        for line in result.stdout.splitlines()
        if line.startswith("backup_database") and " 6 " in line
    ]
    assert "5 menit" in six and "5m" not in six
