"""Recovery and the weekly restore drill end to end on the embedded default: trigger form,
reports signed by the Kasi then the Kabid through the REST API, agenda; refused requests; the
nightly backup waiting for a running recovery."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from piak import backup, backupset, catalogue

pytestmark = pytest.mark.e2e

DAG = "database_recovery"


@pytest.fixture(scope="module")
def set_name(airflow) -> str:
    """A verified backup set made by the backup DAG's own step code in the Airflow's home."""
    with pytest.MonkeyPatch.context() as patch:
        keys = ("AIRFLOW_CONN_PIAK_BACKUP_RECIPIENTS", "AIRFLOW_CONN_PIAK_BACKUP_IDENTITY")
        for name in ("PIAK_HOME", "PIAK_BACKUP_FILE", *keys):
            patch.setenv(name, airflow.env[name])
        ctx = {"logical_date": datetime(2026, 10, 1, 23, 0, tzinfo=ZoneInfo("Asia/Jakarta"))}
        for step in (backup.prepare, backup.export, backup.place, backup.copy_offsite):
            step(ctx)
    return "siak_20261001T2300"


def rows(db, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def sign_reports(airflow, run_id: str) -> None:
    airflow.wait_task(DAG, run_id, "report_to_kasi", {"awaiting_input"})
    detail = airflow.api(
        "kasi", "GET", f"/dags/{DAG}/dagRuns/{run_id}/taskInstances/report_to_kasi/-1/hitlDetails"
    ).json()
    assert "| BIODATA_WNI | 3000 | 3000 |" in detail["body"], detail["body"]
    assert airflow.answer("jfu", DAG, run_id, "report_to_kasi", ["Setujui"]).status_code == 403
    ok = airflow.answer("kasi", DAG, run_id, "report_to_kasi", ["Setujui"], {"catatan": "cek"})
    assert ok.status_code == 200, ok.text
    airflow.wait_task(DAG, run_id, "report_to_kabid", {"awaiting_input"})
    ok = airflow.answer("kabid", DAG, run_id, "report_to_kabid", ["Setujui"])
    assert ok.status_code == 200, ok.text
    assert airflow.wait_run(DAG, run_id, timeout=240) == "success"


def test_recovery_into_scratch_signed_by_kasi_and_kabid(airflow, set_name):
    run_id = airflow.trigger(DAG, {"set_name": set_name}, user="administrator")
    # While it runs, the nightly backup waits for it instead of failing.
    backup_run = airflow.trigger("backup_database", {}, user="administrator")
    airflow.wait_task("backup_database", backup_run, "wait_for_recovery", {"up_for_reschedule"})
    sign_reports(airflow, run_id)
    airflow.api(
        "admin", "PATCH", f"/dags/backup_database/dagRuns/{backup_run}", json={"state": "failed"}
    ).raise_for_status()

    scratch = airflow.piak_home / "storage" / "scratch" / "siak_scratch.db"
    assert rows(scratch, "BIODATA_WNI") == 3000
    assert {e.step_number for e in airflow.agenda(run_id)} == set(range(1, 10))
    entries = {e.task_id: e for e in airflow.agenda(run_id)}
    assert entries["report_to_kasi"].actor == "kasi"
    assert entries["record_recovery"].output_ref == set_name
    assert "sesuai manifest" in entries["record_recovery"].note


def test_recovery_into_production_with_the_typed_name(airflow, set_name):
    production = airflow.piak_home / "siak_demo.db"
    with sqlite3.connect(production) as conn:
        conn.execute("DELETE FROM BIODATA_WNI WHERE rowid <= 10")
    run_id = airflow.trigger(
        DAG,
        {"set_name": set_name, "target": "production", "confirmation": "siak_demo.db"},
        user="administrator",
    )
    sign_reports(airflow, run_id)
    assert rows(production, "BIODATA_WNI") == 3000
    made = sorted((airflow.piak_home / "storage" / "backups").glob("siak_pra_pulih_*"))
    assert len(made) == 1 and backupset.load_manifest(made[0]).row_counts["BIODATA_WNI"] == 2990


def test_a_production_recovery_without_the_confirmation_fails_without_retry(airflow, set_name):
    production = airflow.piak_home / "siak_demo.db"
    before = production.read_bytes()
    run_id = airflow.trigger(DAG, {"set_name": set_name, "target": "production"})
    airflow.wait_task(DAG, run_id, "prepare_recovery", {"failed"}, timeout=120)
    ti = airflow.api("admin", "GET", f"/dags/{DAG}/dagRuns/{run_id}/taskInstances/prepare_recovery")
    assert ti.json()["try_number"] == 1, "bad input is not retried"
    log = airflow.task_log(DAG, run_id, "prepare_recovery")
    assert "confirmation: pemulihan ke produksi harus dikonfirmasi" in log
    assert production.read_bytes() == before


def test_the_trigger_form_refuses_a_path_as_set_name(airflow, set_name):
    response = airflow.api(
        "administrator",
        "POST",
        f"/dags/{DAG}/dagRuns",
        json={"logical_date": None, "conf": {"set_name": "../../etc/passwd"}},
    )
    assert response.status_code == 400, response.text
    assert "set_name" in response.text


def test_the_weekly_drill_marks_the_newest_verified_set_restore_tested(airflow, set_name):
    run_id = airflow.trigger("restore_drill", {})
    assert airflow.wait_run("restore_drill", run_id, timeout=240) == "success"
    backups = airflow.piak_home / "storage" / "backups"
    marked = {e.task_id: e for e in airflow.agenda(run_id)}["mark_restore_tested"].output_ref
    on_server = [p.stem for p in (backups / catalogue.FOLDER).glob("*.json")]
    copied = [n for n in on_server if catalogue.read(backups, n).get("verified_targets")]
    newest = max((n for n in copied if (backups / n).is_dir()), key=catalogue.set_time)
    assert marked == newest
    entry = catalogue.read(backups, marked)
    assert entry["restore_tested_at"]
    assert (Path(entry["restore_evidence"]) / "validation.json").is_file()
