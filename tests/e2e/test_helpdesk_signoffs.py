"""Sign-offs against a real Airflow API server with the office's real logins.

The helpdesk SOP (Layanan Bantuan dan Gangguan SIAK) is all sign-offs, so it exercises the
building block end to end: who may answer (200 for the role holder, 403 for anyone else), a
second answer (409), branching on a decision, the note rule, and the agenda record.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

DAG = "helpdesk"
COMPLAINT = {
    "pelapor": "Siti Aminah",
    "asal": "Kecamatan Contoh Barat",
    "kontak": "0812-0000-0000",
    "kategori": "Aplikasi SIAK",
    "uraian": "Aplikasi SIAK tidak bisa mencetak KK sejak pagi, muncul pesan galat cetak.",
}


def _agenda(airflow, run_id: str) -> dict:
    return {e.task_id: e for e in airflow.agenda(run_id)}


def test_only_the_role_holder_can_answer_and_the_run_follows_the_decision(airflow, usual_office):
    run_id = airflow.trigger(DAG, COMPLAINT, user="jfu")
    airflow.wait_task(DAG, run_id, "decide_handling", {"awaiting_input"})

    detail = airflow.api("kasi", "GET", f"/dags/{DAG}/dagRuns/{run_id}/hitlDetails").json()
    (pending,) = [
        d for d in detail["hitl_details"] if d["task_instance"]["task_id"] == "decide_handling"
    ]
    assert pending["subject"].startswith("[Kepala Seksi] Prosedur Layanan Bantuan")
    assert [u["id"] for u in pending["assigned_users"]] == ["kasi"]
    assert "Siti Aminah" in pending["body"] and "mencetak KK" in pending["body"]
    assert "catatan" in pending["params"]

    for outsider in ("jfu", "kabid", "admin"):
        response = airflow.answer(outsider, DAG, run_id, "decide_handling", ["Laporkan ke Kabid"])
        assert response.status_code == 403, (outsider, response.text)

    response = airflow.answer(
        "kasi",
        DAG,
        run_id,
        "decide_handling",
        ["Laporkan ke Kabid"],
        {"jawaban": "Keluhan kami teruskan ke Kabid.", "catatan": "perlu Kabid"},
    )
    assert response.status_code == 200, response.text
    again = airflow.answer("kasi", DAG, run_id, "decide_handling", ["Laporkan ke Kabid"])
    assert again.status_code == 409

    airflow.wait_task(DAG, run_id, "review_by_kabid", {"awaiting_input"})
    assert (
        airflow.answer(
            "kasi", DAG, run_id, "review_by_kabid", ["Selesai: jawaban langsung ke pelapor"]
        ).status_code
        == 403
    )
    response = airflow.answer(
        "kabid",
        DAG,
        run_id,
        "review_by_kabid",
        ["Selesai: jawaban langsung ke pelapor"],
        {"jawaban": "Perbarui driver printer; sudah dijelaskan ke pelapor.", "catatan": None},
    )
    assert response.status_code == 200, response.text

    assert airflow.wait_run(DAG, run_id) == "success"
    assert airflow.task_state(DAG, run_id, "instruct_field_officer") == "skipped"
    assert airflow.task_state(DAG, run_id, "check_in_field") == "skipped"

    entries = _agenda(airflow, run_id)
    assert set(entries) == {
        "record_complaint",
        "decide_handling",
        "review_by_kabid",
        "answer_reporter:jawaban-dikirim",
        "archive_answer",
    }
    assert entries["decide_handling"].actor == "kasi"
    assert entries["decide_handling"].outcome == "approved"
    assert entries["decide_handling"].note == "perlu Kabid"
    assert entries["review_by_kabid"].actor == "kabid"
    assert entries["record_complaint"].actor == "jfu"
    archive = Path(entries["archive_answer"].output_ref)
    assert "Perbarui driver printer" in archive.read_text()


def test_return_without_note_is_refused_at_once_and_the_request_stays_open(airflow):
    run_id = airflow.trigger(DAG, COMPLAINT, user="jfu")
    airflow.wait_task(DAG, run_id, "decide_handling", {"awaiting_input"})
    back = "Kembalikan ke pelapor: keluhan belum jelas"

    empty = airflow.answer("kasi", DAG, run_id, "decide_handling", [back])
    assert empty.status_code == 400, empty.text
    assert empty.json()["detail"].startswith("Isian wajib belum diisi: Jawaban")
    answer = {"jawaban": "Mohon lengkapi keluhan.", "catatan": "  "}
    refused = airflow.answer("kasi", DAG, run_id, "decide_handling", [back], answer)
    assert refused.status_code == 400, refused.text
    assert refused.json()["detail"].startswith(f'Pilihan "{back}" wajib disertai catatan')
    detail = airflow.api(
        "kasi", "GET", f"/dags/{DAG}/dagRuns/{run_id}/taskInstances/decide_handling/-1/hitlDetails"
    ).json()
    assert detail["response_received"] is False
    assert airflow.task_state(DAG, run_id, "decide_handling") == "awaiting_input"

    response = airflow.answer(
        "kasi",
        DAG,
        run_id,
        "decide_handling",
        [back],
        {"jawaban": "Mohon lengkapi keluhan.", "catatan": "Sebutkan pesan galat dan waktunya."},
    )
    assert response.status_code == 200, response.text
    assert airflow.wait_run(DAG, run_id) == "success"
    entry = _agenda(airflow, run_id)["decide_handling"]
    assert (entry.outcome, entry.note) == ("returned", "Sebutkan pesan galat dan waktunya.")


def test_a_trigger_the_form_refuses_is_told_in_one_indonesian_sentence(airflow):
    before = airflow.api("admin", "GET", f"/dags/{DAG}/dagRuns").json()["total_entries"]
    body = {"logical_date": None, "conf": {**COMPLAINT, "pelapor": "ab"}}
    response = airflow.api("jfu", "POST", f"/dags/{DAG}/dagRuns", json=body)
    assert response.status_code == 400
    assert response.json()["detail"] == (
        'Isian "Nama pelapor": paling sedikit 3 karakter. Perbaiki isian itu, lalu picu lagi.'
    )
    assert airflow.api("admin", "GET", f"/dags/{DAG}/dagRuns").json()["total_entries"] == before
