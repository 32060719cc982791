"""The nightly backup end to end on the embedded default: export, verified offsite copy, then the
hand-over in its own run (backup_handover), signed by the Kasi then the Kabid through the REST
API, with the evidence the system re-verified; a backup that runs while an earlier night's
hand-over still waits; reminders, escalation and a hand-over nobody signs, with deadlines short
enough for a test (the Kabid's receipt due after 10 s, escalated to the Kadis after 25 s, given
up after 60 s)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from piak.core import registry
from piak.engines import backupset

pytestmark = pytest.mark.e2e

DAG = "backup_database"
HANDOVER = "backup_handover"


def _by_task(airflow, run_id: str) -> dict:
    return {e.task_id: e for e in airflow.agenda(run_id)}


def backed_up(airflow, night: int) -> tuple[str, str]:
    """The backup of 2026-09-<night> 23:00 WIB, finished, and the hand-over run it started."""
    run_id = airflow.backed_up(f"2026-09-{night:02d}T16:00:00Z")
    set_name = _by_task(airflow, run_id)["place_backup_set"].output_ref.rsplit("/", 1)[-1]
    return set_name, f"handover__{set_name}"


def wait_agenda(airflow, run_id: str, task_id: str, timeout: float = 120) -> object:
    """The agenda entry of ``task_id`` in ``run_id``, once it is written."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _by_task(airflow, run_id).get(task_id)
        if found:
            return found
        time.sleep(1)
    waiting = task_id.split(":")[0]
    raise AssertionError(
        f"no agenda entry {task_id} in {run_id}:\n"
        + airflow.failure_report(HANDOVER, run_id)
        + airflow.task_log(HANDOVER, run_id, waiting)
    )


def test_backup_then_handover_signed_by_kasi_then_kabid(airflow):
    set_name, handover = backed_up(airflow, 1)
    assert set_name == "siak_20260901T2300"
    airflow.wait_task(HANDOVER, handover, "receive_copy_kasi", {"awaiting_input"})

    detail = airflow.api(
        "kasi",
        "GET",
        f"/dags/{HANDOVER}/dagRuns/{handover}/taskInstances/receive_copy_kasi/-1/hitlDetails",
    ).json()
    body = detail["body"]
    assert detail["options"] == ["Setujui", "Tolak"]
    assert f"set **{set_name}**" in body and "SHA-256 cocok dengan manifest" in body
    assert "flashdisk" in body and "BIODATA_WNI: 3000" in body and "Batas waktu" in body
    assert "verify-backup" not in body  # evidence, not homework
    assert (
        airflow.answer("kabid", HANDOVER, handover, "receive_copy_kasi", ["Setujui"]).status_code
        == 403
    )
    answered_at = datetime.now(UTC)
    ok = airflow.answer(
        "kasi", HANDOVER, handover, "receive_copy_kasi", ["Setujui"], {"catatan": "diterima"}
    )
    assert ok.status_code == 200, ok.text

    airflow.wait_task(HANDOVER, handover, "receive_copy_kabid", {"awaiting_input"})
    ok = airflow.answer("kabid", HANDOVER, handover, "receive_copy_kabid", ["Setujui"])
    assert ok.status_code == 200, ok.text
    assert airflow.wait_run(HANDOVER, handover) == "success"

    entries = _by_task(airflow, handover)
    assert {e.step_number for e in entries.values()} >= {6, 7, 8}
    assert entries["record_handover"].output_ref == set_name
    server = airflow.piak_home / "storage" / "backups" / set_name
    flashdisk = airflow.piak_home / "storage" / "offsite" / "flashdisk" / set_name
    assert backupset.verify_set(server).ok and backupset.verify_set(flashdisk).ok
    assert [entries[t].outcome for t in ("receive_copy_kasi", "receive_copy_kabid")] == [
        "approved",
        "approved",
    ]
    assert (entries["receive_copy_kasi"].actor, entries["receive_copy_kabid"].actor) == (
        "kasi",
        "kabid",
    )
    # Mutu Baku: a sign-off's duration runs from the request to the answer
    signed = entries["receive_copy_kasi"]
    assert signed.standard_minutes == registry.get_sop(DAG).step(6).standard_time.max_minutes
    assert signed.started_at <= answered_at <= signed.recorded_at
    assert signed.duration_minutes < 10


def test_the_next_nights_backup_runs_while_a_handover_still_waits(airflow):
    _, first = backed_up(airflow, 2)
    airflow.wait_task(HANDOVER, first, "receive_copy_kasi", {"awaiting_input"})
    _, second = backed_up(airflow, 3)  # not blocked by the unsigned hand-over
    assert (first, second) == ("handover__siak_20260902T2300", "handover__siak_20260903T2300")
    assert airflow.task_state(HANDOVER, first, "receive_copy_kasi") == "awaiting_input"
    airflow.wait_task(HANDOVER, second, "receive_copy_kasi", {"awaiting_input"})
    for run in (first, second):
        response = airflow.answer(
            "kasi", HANDOVER, run, "receive_copy_kasi", ["Tolak"], {"catatan": "uji: ditutup"}
        )
        assert response.status_code == 200, response.text


@pytest.fixture
def short_deadlines(airflow):
    """The hand-over's Kabid receipt (step 7) due in 10 s, escalated after 45 s and given up
    after two minutes while this test runs (a busy machine wakes a waiting sign-off some
    seconds late: the reminder must still come before the escalation)."""
    with airflow.deadlines(
        DAG, 7, due="10s", remind_every="90s", escalate_after="45s", give_up_after="2m"
    ):
        yield


def test_waiting_receipts_are_reminded_escalated_and_given_up(airflow, short_deadlines):
    """Two hand-overs wait for the Kabid: one is answered by the Kadis once escalated, the
    other, which nobody answers, is given up loudly."""
    runs = [backed_up(airflow, night)[1] for night in (4, 5)]
    # exactly who is asked and mailed: the usual access file from the requests on
    with airflow.holding("access", exclusive=False):
        _remind_escalate_give_up(airflow, runs)


def _remind_escalate_give_up(airflow, runs: list[str]) -> None:
    for run in runs:
        airflow.wait_task(HANDOVER, run, "receive_copy_kasi", {"awaiting_input"})
        assert airflow.answer("kasi", HANDOVER, run, "receive_copy_kasi", ["Setujui"]).ok
    escalate, abandon = runs
    airflow.wait_task(HANDOVER, escalate, "receive_copy_kabid", {"awaiting_input"})
    too_early = airflow.answer("kadis", HANDOVER, escalate, "receive_copy_kabid", ["Setujui"])
    assert too_early.status_code == 403, "the Kadis may answer only once it is escalated"

    reminded = wait_agenda(airflow, escalate, "receive_copy_kabid:reminded-1")
    assert reminded.outcome == "reminded" and "kepada: Kepala Bidang PIAK" in reminded.output_ref
    escalated = wait_agenda(airflow, escalate, "receive_copy_kabid:escalated-2")
    assert escalated.outcome == "escalated" and "Kepala Dinas" in escalated.note
    log = airflow.task_log(HANDOVER, escalate, "receive_copy_kabid")
    assert "PERINGATAN: Serah terima backup SIAK: Langkah 7" in log
    # by mail (the loopback SMTP server): the reminder to the Kabid, the escalation to the
    # Kabid and the Kadis, each with the link to this run's Required Action
    subject = "[PIAK Ops] Serah terima backup SIAK: menunggu tanda tangan"
    link = f"/dags/{HANDOVER}/runs/{escalate}/tasks/receive_copy_kabid/required_actions"
    kabid, kadis = "kabid@disdukcapil.example", "kadis@disdukcapil.example"
    mail = airflow.inbox.text(airflow.inbox.wait_for(subject, [kabid], body=link))
    assert "Langkah 7 (" in mail and "menunggu jawaban Kepala Bidang PIAK" in mail
    mail = airflow.inbox.text(airflow.inbox.wait_for(subject, [kabid, kadis], body=link))
    assert "kini Kepala Dinas juga dapat menjawabnya (eskalasi)" in mail
    # answered the moment the escalation is in the agenda (the request has just parked again)
    ok = airflow.answer("kadis", HANDOVER, escalate, "receive_copy_kabid", ["Setujui"])
    assert ok.status_code == 200, ok.text
    assert airflow.wait_run(HANDOVER, escalate) == "success"
    assert _by_task(airflow, escalate)["receive_copy_kabid"].actor == "kadis"

    airflow.wait_task(HANDOVER, abandon, "receive_copy_kabid", {"failed"}, timeout=300)
    entry = _by_task(airflow, abandon)["receive_copy_kabid"]
    assert entry.outcome == "failed" and "Tidak dijawab dalam 2 menit" in entry.note
    log = airflow.task_log(HANDOVER, abandon, "receive_copy_kabid")
    assert "PERINGATAN: Serah terima backup SIAK gagal pada langkah receive_copy_kabid" in log
    assert airflow.api("admin", "GET", f"/dags/{DAG}").json()["is_paused"] is False


def test_a_rejected_handover_fails_its_run_loudly_with_its_note(airflow):
    _, handover = backed_up(airflow, 6)
    airflow.wait_task(HANDOVER, handover, "receive_copy_kasi", {"awaiting_input"})
    response = airflow.answer(
        "kasi",
        HANDOVER,
        handover,
        "receive_copy_kasi",
        ["Tolak"],
        {"catatan": "flash disk tidak terbaca"},
    )
    assert response.status_code == 200, response.text
    airflow.wait_task(HANDOVER, handover, "receive_copy_kasi", {"failed"}, timeout=180)
    entry = _by_task(airflow, handover)["receive_copy_kasi"]
    assert (entry.outcome, entry.note) == ("rejected", "flash disk tidak terbaca")
    log = airflow.task_log(HANDOVER, handover, "receive_copy_kasi")
    assert "PERINGATAN: Serah terima backup SIAK gagal pada langkah receive_copy_kasi" in log
