"""Out-of-policy usage end to end: a SIAK user working with TOAD from a private laptop is
reported to the Kasi, the Kabid and the Kepala Dinas via REST, the service is stopped (access
blocked in the register) and the case is in the agenda; a compliant observation ends at step 1."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e

DAG = "out_of_policy_usage"


@pytest.fixture
def register(airflow):
    path = airflow.piak_home / "storage" / "access_rights" / "register.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(path.read_text()) if path.exists() else {}
    current["9901015505900123"] = {"user_id": "op.rina0123", "nama": "RINA"}
    path.write_text(json.dumps(current))
    return path


def test_a_violation_reported_up_to_the_kadis_and_the_service_stopped(airflow, register):
    run_id = airflow.trigger(
        DAG,
        {
            "user_id": "op.rina0123",
            "mesin": "laptop-rina",
            "program": "Toad.exe",
            "sid_serial": "231,877",
            "uraian": "Akses langsung ke basis data SIAK di luar jam layanan",
        },
        user="administrator",
    )
    for task_id, user in (
        ("report_to_kasi", "kasi"),
        ("report_to_kabid", "kabid"),
        ("report_to_kadis", "kadis"),
    ):
        airflow.wait_task(DAG, run_id, task_id, {"awaiting_input"})
        response = airflow.answer(user, DAG, run_id, task_id, ["Setujui"])
        assert response.status_code == 200, (task_id, response.text)
    assert airflow.wait_run(DAG, run_id) == "success"
    assert json.loads(register.read_text())["9901015505900123"]["status"] == "diblokir"
    by_task = {e.task_id: e for e in airflow.agenda(run_id)}
    assert {e.step_number for e in by_task.values()} == set(range(1, 7))
    assert "KILL SESSION '231,877'" in by_task["stop_service"].note
    assert by_task["report_to_kadis"].actor == "kadis"


def test_a_compliant_observation_ends_at_monitoring(airflow, register):
    run_id = airflow.trigger(
        DAG,
        {
            "user_id": "op.rina0123",
            "mesin": "pc-kec-02",
            "program": "SIAK Client",
            "uraian": "Pemeriksaan rutin sesi pengguna",
        },
        user="administrator",
    )
    assert airflow.wait_run(DAG, run_id) == "success"
    entries = airflow.agenda(run_id)
    assert [(e.task_id, e.step_number) for e in entries] == [("monitor_usage", 1)]
    assert "sesuai ketentuan" in entries[0].note
    assert airflow.task_state(DAG, run_id, "report_to_kasi") == "skipped"
