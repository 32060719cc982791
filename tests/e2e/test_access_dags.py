"""Who may start what, on the embedded default (``airflow standalone``, simple auth manager): for
every DAG, a user without a role that may trigger it gets a run that stops at its first task,
with the reason in the task log and the agenda and nothing else run; a holder's run passes it.
The UI's Trigger button is disabled for those who may not trigger; office users cannot pause a
DAG or delete a run. (The same with the FAB auth manager's 403s: tests/distributed.)"""

from __future__ import annotations

import pytest
from access_helpers import OUTSIDER, TRIGGER_CONF
from e2e.conftest import DAG_IDS

pytestmark = pytest.mark.e2e

FIRST = "check_trigger_rights"
OFFICE_DAGS = {"monthly_report"}


def test_every_dag_stops_a_user_without_the_role_at_its_first_task(airflow):
    assert set(TRIGGER_CONF) == set(DAG_IDS)
    runs = {dag_id: airflow.trigger(dag_id, conf, user=OUTSIDER) for dag_id, conf in
            TRIGGER_CONF.items()}  # fmt: skip
    for dag_id, run_id in runs.items():
        assert airflow.wait_finished(dag_id, run_id, timeout=240) == "failed", dag_id
        states = {ti["task_id"]: ti for ti in airflow.task_instances(dag_id, run_id)}
        assert (states[FIRST]["state"], states[FIRST]["try_number"]) == ("failed", 1), dag_id
        ran = {t for t, ti in states.items() if ti["state"] not in ("upstream_failed", None)}
        assert ran == {FIRST}, f"{dag_id}: {ran} ran after a refused trigger"
        refused = f"Ditolak: '{OUTSIDER}' (Petugas Lapangan) tidak berhak memicu DAG {dag_id}."
        log = airflow.task_log(dag_id, run_id, FIRST)
        assert refused in log and "Tidak ada langkah yang dijalankan." in log
        if dag_id in OFFICE_DAGS:  # no one SOP's: its log says so, the SOP agenda has no step
            assert airflow.agenda(run_id) == []
            continue
        (entry,) = airflow.agenda(run_id)
        assert (entry.task_id, entry.outcome, entry.actor) == (FIRST, "failed", OUTSIDER)
        assert entry.note.startswith(refused + " Yang berhak memicu:"), entry.note


@pytest.fixture(scope="module")
def holders_run(airflow):
    """A run of the freshness check started by the administrator, stopped once its first task
    passed (what the check then finds does not matter here)."""
    run_id = airflow.trigger("backup_freshness", {}, user="administrator")
    airflow.wait_task("backup_freshness", run_id, FIRST, {"success"})
    yield run_id
    path = f"/dags/backup_freshness/dagRuns/{run_id}"
    airflow.api("admin", "PATCH", path, json={"state": "failed"}).raise_for_status()


def test_a_holder_passes_the_first_task(airflow, holders_run):
    """Every other e2e test starts its DAG as a holder (and the hand-over from the backup run);
    the freshness check is started by nobody else."""
    assert airflow.task_state("backup_freshness", holders_run, FIRST) == "success"
    (entry,) = [ti for ti in airflow.task_instances("backup_freshness", holders_run)
                if ti["task_id"] == FIRST]  # fmt: skip
    assert entry["try_number"] == 1


def test_the_trigger_button_is_disabled_for_those_who_may_not_trigger(airflow):
    def manual(user: str, path: str) -> bool:
        response = airflow.api(user, "GET", path)
        assert response.status_code == 200, response.text
        found = response.json()
        dag = next(d for d in found.get("dags", [found]) if d["dag_id"] == "database_recovery")
        return dag["allowed_run_types"] is None or "manual" in dag["allowed_run_types"]

    for path in ("/dags/database_recovery", "/dags/database_recovery/details", "/dags"):
        assert manual("administrator", path), path
        assert not manual(OUTSIDER, path), path
    ui = airflow.request(OUTSIDER, "GET", "/ui/dags", params={"dag_ids": "database_recovery"})
    assert ui.status_code == 200
    (listed,) = [d for d in ui.json()["dags"] if d["dag_id"] == "database_recovery"]
    assert "manual" not in listed["allowed_run_types"]


def test_office_users_cannot_pause_dags_or_delete_runs(airflow, holders_run):
    try:
        paused = airflow.api("kasi", "PATCH", "/dags/backup_freshness", json={"is_paused": True})
        assert paused.status_code == 403, paused.text
        run = f"/dags/backup_freshness/dagRuns/{holders_run}"
        deleted = airflow.api("administrator", "DELETE", run)
        assert deleted.status_code == 403, deleted.text
        marked = airflow.api("administrator", "PATCH", run, json={"state": "success"})
        assert marked.status_code == 403, marked.text
        cleared = airflow.api(
            "administrator",
            "POST",
            "/dags/backup_freshness/clearTaskInstances",
            json={"dry_run": False, "dag_run_id": holders_run},
        )
        assert cleared.status_code == 403, cleared.text
    finally:
        airflow.api("admin", "PATCH", "/dags/backup_freshness", json={"is_paused": False})
    assert airflow.api("admin", "GET", "/dags/backup_freshness").json()["is_paused"] is False
