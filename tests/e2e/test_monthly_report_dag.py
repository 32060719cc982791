"""The Kadis's monthly report on the running Airflow: started by the Kabid for a month, it
writes the XLSX and PDF and mails both to the Kadis (the loopback SMTP server); someone the
office did not allow to start it is refused before anything is made."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from piak.core import agenda
from piak.workflow import steps

pytestmark = pytest.mark.e2e

DAG = "monthly_report"
KADIS = "kadis@disdukcapil.example"


def test_the_report_is_made_and_mailed_to_the_kadis(airflow):
    month = f"{steps.wib(datetime.now(UTC)):%Y-%m}"
    run = airflow.trigger(DAG, {"bulan": month}, user="kabid")
    assert airflow.wait_run(DAG, run) == "success"
    folder = airflow.piak_home / "storage" / "laporan-bulanan" / month
    files = [f"laporan-bulanan-{month}.pdf", f"laporan-bulanan-{month}.xlsx"]
    assert sorted(p.name for p in folder.iterdir()) == [*files, "terkirim.json"]
    subject = f"[PIAK Ops] Laporan Bulanan Kepatuhan SOP Bidang PIAK {agenda.month_title(month)}"
    mail = airflow.inbox.wait_for(subject, [KADIS])
    assert sorted(part.get_filename() for part in mail.iter_attachments()) == files


def test_a_person_not_allowed_to_start_it_is_refused(airflow):
    run = airflow.trigger(DAG, {"bulan": "2026-01"}, user="jfu")
    assert airflow.wait_finished(DAG, run) == "failed"
    assert airflow.task_state(DAG, run, "check_trigger_rights") == "failed"
    assert airflow.task_state(DAG, run, "compile_report") == "upstream_failed"
    assert not (airflow.piak_home / "storage" / "laporan-bulanan" / "2026-01").exists()
