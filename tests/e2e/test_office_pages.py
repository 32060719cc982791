""" "Tugas saya" (``piak.web.my_tasks``) on the running Airflow: the signed-in person sees the
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


@pytest.fixture(scope="module")
def answered_complaint(airflow):
    """A helpdesk run: its first sign-off seen on the Kasi's page, then answered to the end."""
    return _complaint_through_my_tasks(airflow)


def test_my_tasks_lists_only_what_i_may_answer_with_a_link_to_answer_it(answered_complaint):
    assert answered_complaint


def _complaint_through_my_tasks(airflow) -> str:
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
    return run_id


def test_my_tasks_needs_a_login_and_is_in_the_menu(airflow):
    import requests

    assert requests.get(f"{airflow.url}{PAGE}", timeout=30).status_code == 401
    plugins = airflow.api("kasi", "GET", "/plugins").json()["plugins"]
    views = {v["name"]: v["href"] for p in plugins for v in p.get("external_views", [])}
    assert views == {"Tugas saya": PAGE, "Agenda": "/piak/agenda/",
                     "Kepatuhan SOP": "/piak/kepatuhan/",
                     "Katalog backup": "/piak/katalog-backup/",
                     "Diagram SOP": "/piak/diagram/"}  # fmt: skip
    for path in views.values():
        assert requests.get(f"{airflow.url}{path}", timeout=30).status_code == 401


def test_each_dag_s_docs_link_its_sop_diagram_served_behind_the_login(airflow):
    import requests

    doc = airflow.api("kasi", "GET", f"/dags/{DAG}/details").json()["doc_md"]
    assert f"[Diagram alur (swimlane)]({airflow.url}/piak/diagram/{DAG}.svg)" in doc
    svg = airflow.request("kasi", "GET", f"/piak/diagram/{DAG}.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in svg.text and "Menerima keluhan" in svg.text
    index = airflow.request("kasi", "GET", "/piak/diagram/")
    assert f'href="/piak/diagram/{DAG}.svg"' in index.text
    for wrong in ("..%2Fetc.svg", "nosuch.svg", DAG, "%3Cscript%3E.svg"):
        assert airflow.request("kasi", "GET", f"/piak/diagram/{wrong}").status_code == 404
    assert requests.get(f"{airflow.url}/piak/diagram/{DAG}.svg", timeout=30).status_code == 401


def test_the_agenda_shows_the_run_filtered_linked_and_exported(airflow, answered_complaint):
    from io import BytesIO

    from openpyxl import load_workbook

    month = answered_complaint.split("__")[1][:7]
    quoted = answered_complaint.replace(":", "%3A").replace("+", "%2B")
    page = airflow.request("kasi", "GET", f"/piak/agenda/?bulan={month}&sop={DAG}&oleh=kasi")
    assert page.status_code == 200 and f'href="/dags/{DAG}/runs/{quoted}"' in page.text
    assert "<td>kasi</td><td>disetujui</td>" in page.text  # the Kasi's decision, in Indonesian
    assert "record_complaint" not in page.text  # oleh=kasi: the JFU's step is filtered out

    export = airflow.request("kasi", "GET", f"/piak/agenda/ekspor?bulan={month}&sop={DAG}")
    assert export.status_code == 200
    sheet = load_workbook(BytesIO(export.content)).active
    runs = [row[-1] for row in sheet.iter_rows(values_only=True)]
    assert runs.count(answered_complaint) >= 4  # complaint, decision, answer, archive

    hidden = airflow.request("sekretaris", "GET", f"/piak/agenda/?bulan={month}&sop={DAG}")
    assert hidden.status_code == 200 and answered_complaint not in hidden.text
    bad = airflow.request("kasi", "GET", "/piak/agenda/?bulan=2026-13")
    assert bad.status_code == 400 and "bulan tidak sah" in bad.text


def test_sop_compliance_measures_the_run_s_steps_and_exports_them(airflow, answered_complaint):
    from io import BytesIO

    from openpyxl import load_workbook

    month = answered_complaint.split("__")[1][:7]
    page = airflow.request("kasi", "GET", f"/piak/kepatuhan/?bulan={month}&menurut=langkah")
    assert page.status_code == 200 and "helpdesk langkah 2" in page.text and "<svg" in page.text
    by_person = airflow.request("kasi", "GET", f"/piak/kepatuhan/?bulan={month}&menurut=orang")
    assert "<td>kasi</td>" in by_person.text and "<td>jfu</td>" in by_person.text
    export = airflow.request("kasi", "GET", f"/piak/kepatuhan/ekspor?bulan={month}")
    rows = list(load_workbook(BytesIO(export.content)).active.iter_rows(values_only=True))
    assert rows[0][:2] == ("SOP dan langkah", "Jumlah")
    assert any(r[0] == "helpdesk langkah 2" and r[1] >= 1 for r in rows[1:])
    wrong = airflow.request("kasi", "GET", "/piak/kepatuhan/?menurut=bulan")
    assert wrong.status_code == 400 and "menurut" in wrong.text


def test_the_backup_catalogue_is_for_those_who_see_the_backups(airflow):
    page = airflow.request("administrator", "GET", "/piak/katalog-backup/")
    assert page.status_code == 200 and "Katalog backup" in page.text
    assert "Set terverifikasi terbaru" in page.text or "Belum ada set" in page.text
    assert airflow.request("jfu", "GET", "/piak/katalog-backup/").status_code == 403
