"""Access rights end to end: a kecamatan's proposal checked against the demo SIAK database,
proposed by the Kabid, granted by the Kepala Dinas, ordered to the Kasi, issued with integrity
pacts; a refusal by the Kepala Dinas issues nothing."""

from __future__ import annotations

import json
import sqlite3

import pytest

pytestmark = pytest.mark.e2e

DAG = "access_rights"


def proposal(airflow) -> tuple[dict, list[str]]:
    with sqlite3.connect(airflow.piak_home / "siak_demo.db") as db:
        people = db.execute(
            "SELECT NIK, NAMA_LGKP FROM BIODATA_WNI WHERE FLAG_STATUS = '0' "
            "ORDER BY NIK DESC LIMIT 2"
        ).fetchall()
    lines = [f"{nik};{name};Operator Kecamatan;operator_siak" for nik, name in people]
    lines.append("9901019999999999;Bukan Penduduk;Operator;operator_ktpel")
    conf = {"asal": "Kecamatan Contoh Barat", "nomor_surat": "800/15/KEC/2026"}
    return {**conf, "anggota": "\n".join(lines)}, [nik for nik, _ in people]


def sign(airflow, run_id: str, task_id: str, user: str, option: str, note: str = "") -> None:
    airflow.wait_task(DAG, run_id, task_id, {"awaiting_input"})
    fields = {"catatan": note} if note else {}
    response = airflow.answer(user, DAG, run_id, task_id, [option], fields)
    assert response.status_code == 200, (task_id, response.text)


def test_access_granted_to_the_eligible_members_only(airflow):
    conf, niks = proposal(airflow)
    run_id = airflow.trigger(DAG, conf, user="kasi")
    sign(airflow, run_id, "propose_to_kadis", "kabid", "Setujui")
    sign(airflow, run_id, "direct_granting", "kadis", "Berikan hak akses kepada yang berhak")
    sign(airflow, run_id, "instruct_kasi", "kabid", "Setujui")
    assert airflow.wait_run(DAG, run_id) == "success"

    register = json.loads(
        (airflow.piak_home / "storage" / "access_rights" / "register.json").read_text()
    )
    assert set(niks) <= set(register) and "9901019999999999" not in register
    by_task = {e.task_id: e for e in airflow.agenda(run_id)}
    assert {e.step_number for e in by_task.values()} == {1, 2, 3, 4, 5}
    assert "2 dari 3 memenuhi syarat" in by_task["check_members"].note
    assert by_task["direct_granting"].actor == "kadis"
    assert airflow.task_state(DAG, run_id, "record_refusal") == "skipped"


def test_a_refused_proposal_issues_nothing(airflow):
    conf, _ = proposal(airflow)
    run_id = airflow.trigger(DAG, {**conf, "nomor_surat": "800/16/KEC/2026"}, user="kasi")
    sign(airflow, run_id, "propose_to_kadis", "kabid", "Setujui")
    sign(airflow, run_id, "direct_granting", "kadis", "Tolak usulan", "SK tim belum ada")
    assert airflow.wait_run(DAG, run_id) == "success"
    by_task = {e.task_id: e for e in airflow.agenda(run_id)}
    assert by_task["record_refusal"].outcome == "rejected"
    assert "SK tim belum ada" in by_task["record_refusal"].note
    assert airflow.task_state(DAG, run_id, "issue_access_rights") == "skipped"
