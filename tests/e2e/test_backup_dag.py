"""The nightly backup DAG end to end on the embedded default: export, verified offsite copy,
hand-over signed by the Kasi then the Kabid through the REST API, agenda."""

from __future__ import annotations

import pytest

from piak import backupset, registry

pytestmark = pytest.mark.e2e

DAG = "backup_database"


def _by_task(airflow, run_id: str) -> dict:
    return {e.task_id: e for e in airflow.agenda(run_id)}


def test_backup_run_with_handover_signed_by_kasi_then_kabid(airflow):
    run_id = airflow.trigger(DAG, {}, user="administrator")
    airflow.wait_task(DAG, run_id, "receive_copy_kasi", {"awaiting_input"})

    detail = airflow.api(
        "kasi",
        "GET",
        f"/dags/{DAG}/dagRuns/{run_id}/taskInstances/receive_copy_kasi/-1/hitlDetails",
    ).json()
    assert detail["options"] == ["Setujui", "Tolak"]
    assert "SHA-256" in detail["body"] and "flashdisk" in detail["body"]
    assert airflow.answer("kabid", DAG, run_id, "receive_copy_kasi", ["Setujui"]).status_code == 403
    ok = airflow.answer(
        "kasi", DAG, run_id, "receive_copy_kasi", ["Setujui"], {"catatan": "diterima"}
    )
    assert ok.status_code == 200, ok.text

    airflow.wait_task(DAG, run_id, "receive_copy_kabid", {"awaiting_input"})
    ok = airflow.answer("kabid", DAG, run_id, "receive_copy_kabid", ["Setujui"])
    assert ok.status_code == 200, ok.text
    assert airflow.wait_run(DAG, run_id) == "success"

    steps_recorded = {e.step_number for e in airflow.agenda(run_id)}
    assert steps_recorded == set(range(1, 9)), "every SOP step is in the agenda"
    entries = _by_task(airflow, run_id)
    set_name = entries["record_handover"].output_ref
    server = airflow.piak_home / "storage" / "backups" / set_name
    flashdisk = airflow.piak_home / "storage" / "offsite" / "flashdisk" / set_name
    assert backupset.verify_set(server).ok
    assert backupset.verify_set(flashdisk).ok
    assert backupset.load_manifest(server).row_counts["BIODATA_WNI"] == 3000
    assert [entries[t].outcome for t in ("receive_copy_kasi", "receive_copy_kabid")] == [
        "approved",
        "approved",
    ]
    assert entries["receive_copy_kasi"].actor == "kasi"
    assert entries["receive_copy_kabid"].actor == "kabid"
    # Mutu Baku: each step's duration (a sign-off: from the request to the answer) is measured
    # against the registry's standard time.
    signed = entries["receive_copy_kasi"]
    standard = registry.get_sop(DAG).step(6).standard_time.max_minutes
    assert signed.standard_minutes == standard
    assert 10 / 60 <= signed.duration_minutes < 10 and signed.within_standard is True


def test_a_rejected_handover_fails_the_run_loudly_with_its_note(airflow):
    run_id = airflow.trigger(DAG, {}, user="administrator")
    airflow.wait_task(DAG, run_id, "receive_copy_kasi", {"awaiting_input"})
    response = airflow.answer(
        "kasi", DAG, run_id, "receive_copy_kasi", ["Tolak"], {"catatan": "flash disk tidak terbaca"}
    )
    assert response.status_code == 200, response.text
    airflow.wait_task(DAG, run_id, "receive_copy_kasi", {"failed"}, timeout=180)
    entry = _by_task(airflow, run_id)["receive_copy_kasi"]
    assert (entry.outcome, entry.note) == ("rejected", "flash disk tidak terbaca")
    assert airflow.task_state(DAG, run_id, "apply_retention") in ("upstream_failed", None)
    log = airflow.task_log(DAG, run_id, "receive_copy_kasi")
    assert "PERINGATAN: Backup database SIAK gagal pada langkah receive_copy_kasi" in log
