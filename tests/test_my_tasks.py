""" "Tugas saya" without a server: whose requests a person sees (the API's own rule on the assigned
users: holders, escalations from their time, never a refused one) and the page itself. (On a
running Airflow: tests/e2e/test_my_tasks.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from piak.core import approvers
from piak.web import my_tasks

OPENED = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


def request(*assigned: str, task_id: str = "receive_copy_kasi") -> my_tasks.Waiting:
    return my_tasks.Waiting(
        dag_id="backup_handover",
        run_id="handover__siak_20261202T2300",
        task_id=task_id,
        map_index=-1,
        subject="[Kepala Seksi] Prosedur Backup database - langkah 6 <uji>",
        body="Isi.\n\n**Tenggat:**\n- Batas waktu: 03-12-2026 10:00 WIB (1 jam)\n",
        assigned_ids=assigned,
        opened_at=OPENED,
    )


def test_a_person_sees_what_they_may_answer_now():
    escalated_at = OPENED + timedelta(hours=8)
    both = request("kasi", approvers.timed_id("kabid", escalated_at))
    refused = request(approvers.refused_id("jfu", "triggered"), "kasi", task_id="other")
    waiting = [both, refused]
    assert my_tasks.mine(waiting, "kasi", OPENED) == [both, refused]
    assert my_tasks.mine(waiting, "kabid", OPENED) == []
    assert my_tasks.mine(waiting, "kabid", escalated_at + timedelta(minutes=1)) == [both]
    assert my_tasks.mine(waiting, "jfu", OPENED) == []
    assert my_tasks.mine([request()], "kasi", OPENED) == []  # nobody assigned: nobody's task


def test_the_page_shows_due_time_and_link_and_escapes_text():
    html = my_tasks.page("kasi", [request("kasi")])
    assert "03-12-2026 10:00 WIB (1 jam)" in html and "03-12-2026 09:00 WIB" in html
    link = "/dags/backup_handover/runs/handover__siak_20261202T2300/tasks/receive_copy_kasi/"
    assert f'href="{link}required_actions"' in html
    assert "&lt;uji&gt;" in html and "<uji>" not in html
    assert "Tidak ada permintaan" in my_tasks.page("kabid", [])
