""" "Tugas saya" (``piak.my_tasks``) on the running Airflow: the signed-in person sees the
sign-offs waiting for their answer - not everyone's - with due time and a link that answers
it; the page is in the UI's menu and behind Airflow's login."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

DAG = "helpdesk"
COMPLAINT = {
    "pelapor": "Siti Aminah",
    "asal": "Kecamatan Contoh Timur",
    "kontak": "0812-0000-0000",
    "kategori": "Jaringan",
    "uraian": "Jaringan ke server SIAK putus sejak pagi di kantor kecamatan.",
}
PAGE = "/piak/tugas-saya/"


def test_my_tasks_lists_only_what_i_may_answer_with_a_link_to_answer_it(airflow):
    run_id = airflow.trigger(DAG, COMPLAINT, user="jfu")
    airflow.wait_task(DAG, run_id, "decide_handling", {"awaiting_input"})
    quoted = run_id.replace(":", "%3A").replace("+", "%2B")
    link = f"/dags/{DAG}/runs/{quoted}/tasks/decide_handling/required_actions"

    kasi = airflow.request("kasi", "GET", PAGE)
    assert kasi.status_code == 200 and "Tugas saya" in kasi.text
    assert f'href="{link}"' in kasi.text and "Prosedur Layanan Bantuan" in kasi.text
    assert "WIB" in kasi.text and "Buka dan jawab" in kasi.text

    kabid = airflow.request("kabid", "GET", PAGE)
    assert kabid.status_code == 200 and link not in kabid.text
    assert airflow.request("jfu", "GET", PAGE).text.count(link) == 0  # who triggered it

    params = {"jawaban": "Telkom sudah dihubungi.", "catatan": None}
    done = "Selesai: jawaban langsung ke pelapor"
    assert airflow.answer("kasi", DAG, run_id, "decide_handling", [done], params).ok
    assert airflow.wait_run(DAG, run_id) == "success"
    assert link not in airflow.request("kasi", "GET", PAGE).text


def test_my_tasks_needs_a_login_and_is_in_the_menu(airflow):
    import requests

    assert requests.get(f"{airflow.url}{PAGE}", timeout=30).status_code == 401
    plugins = airflow.api("kasi", "GET", "/plugins").json()["plugins"]
    views = [v for p in plugins for v in p.get("external_views", [])]
    assert any(v["name"] == "Tugas saya" and v["href"] == PAGE for v in views), views
