"""Recovery and the weekly restore drill end to end on the embedded default: trigger form,
reports signed by the Kasi then the Kabid through the REST API, agenda; a production restore
that waits for both permissions before anything is touched and stops cleanly on a refusal;
separation of duties (who triggered the run, who signed the previous step), an exception and a
deputy (a.n.) in a small office; refused requests; the nightly backup waiting for a running
recovery."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from access_helpers import access_yaml

from piak.engines import backupset, catalogue
from piak.sops import backup

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


@pytest.fixture(autouse=True)
def recovering(airflow):
    """No backup of another process starts while a test here runs (it would wait for this
    test's recovery runs); every test here waits for its runs to end."""
    with airflow.holding("recovery", exclusive=True):
        yield


@pytest.fixture
def small_office(recovering, airflow):
    """A small office while a test runs: ``serba`` also holds kasi and kabid, ``wakil`` stands
    in for the Kabid (Plh.), ``plt`` holds kasi and kabid with an exception for successive
    sign-offs here (the e2e Airflow's access file, read when each request opens)."""
    path = Path(airflow.env["PIAK_ACCESS_FILE"])
    with airflow.holding("access", exclusive=True):
        before = path.read_text(encoding="utf-8")
        path.write_text(access_yaml(date.today(), office=True), encoding="utf-8")
        try:
            yield
        finally:
            path.write_text(before, encoding="utf-8")


@pytest.fixture
def production_changed(small_office, airflow):
    """This test deletes residents from the SIAK demo database and restores them."""
    with airflow.holding("siak", exclusive=True):
        yield


def rows(db, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def detail(airflow, run_id: str, task_id: str) -> dict:
    path = f"/dags/{DAG}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails"
    return airflow.api("admin", "GET", path).json()


def refused(airflow, user: str, run_id: str, task_id: str, reason: str) -> None:
    response = airflow.answer(user, DAG, run_id, task_id, ["Setujui"])
    assert response.status_code == 403, response.text
    assert reason in response.json()["detail"], response.text


def sign(airflow, user: str, run_id: str, task_id: str, note: str = "") -> None:
    airflow.wait_task(DAG, run_id, task_id, {"awaiting_input"})
    fields = {"catatan": note} if note else {}
    ok = airflow.answer(user, DAG, run_id, task_id, ["Setujui"], fields)
    assert ok.status_code == 200, ok.text


def safety_sets(airflow) -> list[Path]:
    return sorted((airflow.piak_home / "storage" / "backups").glob("siak_pra_pulih_*"))


SELF = "Anda memicu run ini, jadi tidak boleh menandatangani langkahnya"
TWICE = "satu orang tidak boleh memberi dua tanda tangan berurutan"


def test_recovery_into_scratch_signed_by_kasi_and_kabid(airflow, set_name, small_office):
    run_id = airflow.trigger(DAG, {"set_name": set_name}, user="administrator")
    # While it runs, the nightly backup waits for it instead of failing.
    backup_run = airflow.trigger("backup_database", {}, user="administrator")
    airflow.wait_task("backup_database", backup_run, "wait_for_recovery", {"up_for_reschedule"})
    airflow.wait_task(DAG, run_id, "report_to_kasi", {"awaiting_input"})
    body = detail(airflow, run_id, "report_to_kasi")["body"]
    assert "| BIODATA_WNI | 3000 | 3000 |" in body, body
    for task_id in ("permit_production_restore_kasi", "permit_production_restore_kabid"):
        assert airflow.task_state(DAG, run_id, task_id) == "skipped", "scratch: no permission"
    assert airflow.answer("jfu", DAG, run_id, "report_to_kasi", ["Setujui"]).status_code == 403
    sign(airflow, "serba", run_id, "report_to_kasi", "cek")  # serba holds kasi and kabid
    airflow.wait_task(DAG, run_id, "report_to_kabid", {"awaiting_input"})
    kabid = detail(airflow, run_id, "report_to_kabid")
    assert "serba!berurutan" in [u["id"] for u in kabid["assigned_users"]]
    assert "Tidak boleh menjawab (pemisahan tugas)" in kabid["body"]
    refused(airflow, "serba", run_id, "report_to_kabid", TWICE)
    sign(airflow, "kabid", run_id, "report_to_kabid")
    assert airflow.wait_run(DAG, run_id, timeout=240) == "success"
    airflow.api(
        "admin", "PATCH", f"/dags/backup_database/dagRuns/{backup_run}", json={"state": "failed"}
    ).raise_for_status()

    scratch = airflow.piak_home / "storage" / "scratch" / "siak_scratch.db"
    assert rows(scratch, "BIODATA_WNI") == 3000
    assert {e.step_number for e in airflow.agenda(run_id)} == set(range(1, 10))
    entries = {e.task_id: e for e in airflow.agenda(run_id)}
    assert (entries["report_to_kasi"].actor, entries["report_to_kabid"].actor) == ("serba", "kabid")
    assert entries["record_recovery"].output_ref == set_name
    assert "sesuai manifest" in entries["record_recovery"].note


def test_a_refused_production_recovery_touches_nothing(airflow, set_name):
    production = airflow.piak_home / "siak_demo.db"
    before, sets_before = production.read_bytes(), safety_sets(airflow)
    run_id = airflow.trigger(
        DAG,
        {"set_name": set_name, "target": "production", "confirmation": "siak_demo.db"},
        user="administrator",
    )
    task_id = "permit_production_restore_kasi"
    airflow.wait_task(DAG, run_id, task_id, {"awaiting_input"})
    body = detail(airflow, run_id, task_id)["body"]
    for shown in (
        "Pemulihan ke PRODUKSI menunggu izin Anda. Belum ada yang diubah.",
        f"Set: **{set_name}**",
        "Verifikasi set: set utuh di server",
        "Uji coba impor: integrity_check: ok",
        "set pengaman **siak_pra_pulih_",
        "| BIODATA_WNI | 3000 |",
    ):
        assert shown in body, (shown, body)
    response = airflow.answer(
        "kasi", DAG, run_id, task_id, ["Tolak"], {"catatan": "belum ada surat permintaan"}
    )
    assert response.status_code == 200, response.text
    assert airflow.wait_finished(DAG, run_id) == "failed"
    for untouched in ("export_safety_backup", "import_backup_set", "validate_restore"):
        assert airflow.task_state(DAG, run_id, untouched) == "upstream_failed", untouched
    assert production.read_bytes() == before and safety_sets(airflow) == sets_before
    entry = {e.task_id: e for e in airflow.agenda(run_id)}[f"{task_id}:izin-pulih-produksi"]
    assert (entry.outcome, entry.actor, entry.note) == (
        "rejected",
        "kasi",
        "belum ada surat permintaan",
    )


def test_a_production_recovery_waits_for_both_permissions_in_a_small_office(
    airflow, set_name, small_office, production_changed
):
    """Triggered by ``serba`` (who may not sign it); the Kasi permits; nothing touched yet; the
    Kabid's deputy permits a.n. the Kabid; after the restore ``plt`` signs both reports under
    the exception, which the agenda records."""
    production = airflow.piak_home / "siak_demo.db"
    with sqlite3.connect(production) as conn:
        conn.execute("DELETE FROM BIODATA_WNI WHERE rowid <= 10")
    run_id = airflow.trigger(
        DAG,
        {"set_name": set_name, "target": "production", "confirmation": "siak_demo.db"},
        user="serba",
    )
    kasi, kabid = "permit_production_restore_kasi", "permit_production_restore_kabid"
    airflow.wait_task(DAG, run_id, kasi, {"awaiting_input"})
    refused(airflow, "serba", run_id, kasi, SELF)
    sign(airflow, "kasi", run_id, kasi)
    airflow.wait_task(DAG, run_id, kabid, {"awaiting_input"})
    assert rows(production, "BIODATA_WNI") == 2990 and not safety_sets(airflow)
    body = detail(airflow, run_id, kabid)["body"]
    assert "Wakil (Plh. Kepala Bidang PIAK, a.n. Kepala Bidang PIAK" in body, body
    refused(airflow, "serba", run_id, kabid, SELF)
    sign(airflow, "wakil", run_id, kabid)
    sign(airflow, "plt", run_id, "report_to_kasi")
    sign(airflow, "plt", run_id, "report_to_kabid")  # successive: allowed by the exception
    assert airflow.wait_run(DAG, run_id, timeout=240) == "success"

    assert rows(production, "BIODATA_WNI") == 3000
    (made,) = safety_sets(airflow)
    assert backupset.load_manifest(made).row_counts["BIODATA_WNI"] == 2990
    entries = {e.task_id: e for e in airflow.agenda(run_id)}
    assert entries[f"{kasi}:izin-pulih-produksi"].actor == "kasi"
    assert entries[f"{kabid}:izin-pulih-produksi"].actor == "wakil a.n. kabid"
    assert entries["report_to_kabid"].actor == "plt"
    used = entries["report_to_kabid:pengecualian"]
    assert used.outcome == "exception" and "Plt. Kabid merangkap Kasi (uji)" in used.note
    assert "report_to_kasi:pengecualian" not in entries


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
    # the run ends there (the drill and the nightly backup wait while a recovery runs)
    assert airflow.wait_finished(DAG, run_id) == "failed"


def test_the_trigger_form_refuses_a_path_as_set_name(airflow, set_name):
    response = airflow.api(
        "administrator",
        "POST",
        f"/dags/{DAG}/dagRuns",
        json={"logical_date": None, "conf": {"set_name": "../../etc/passwd"}},
    )
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert detail.startswith('Isian "Nama set cadangan": bentuknya tidak sesuai'), detail
    assert "passwd" not in detail, "the value typed is not repeated"


def test_the_weekly_drill_marks_the_newest_verified_set_restore_tested(airflow, set_name):
    airflow.wait_no_run("backup_database")  # a backup of another test placing a newer set
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
