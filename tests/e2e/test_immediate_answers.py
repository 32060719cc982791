"""A person who answers the moment a request opens - a Kasi with the page already open - never
sees it open again and never loses the answer (``piak.workflow.answers``: Airflow 3.3.2 may retry a
task answered in the first seconds of its wait; the retry applies the kept answer)."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.e2e

DAG = "helpdesk"
TASK = "decide_handling"
DONE = "Selesai: jawaban langsung ke pelapor"
RUNS = 20
WINDOW = 3  # requests waiting to be answered at a time
COMPLAINT = {
    "pelapor": "Siti Aminah",
    "asal": "Kecamatan Contoh Barat",
    "kontak": "0812-0000-0000",
    "kategori": "Aplikasi SIAK",
    "uraian": "Aplikasi SIAK tidak bisa dibuka sejak pagi.",
}


def test_twenty_answers_given_the_moment_each_request_opens_are_all_kept(airflow):
    """20 requests in a row, each answered as soon as the API shows it waiting (a few runs
    overlap, as in an office; many more at once overload the embedded default's SQLite)."""
    runs: list[str] = []
    answers: dict[str, str] = {}
    answered: set[str] = set()
    finished: dict[str, str] = {}
    deadline = time.monotonic() + 900
    while len(finished) < RUNS:
        assert time.monotonic() < deadline, f"not finished: {sorted(set(runs) - set(finished))}"
        if len(runs) < RUNS and len(set(runs) - answered) < WINDOW:
            run_id = airflow.trigger(DAG, COMPLAINT, user="jfu")
            answers[run_id] = f"Jawaban nomor {len(runs) + 1}: aplikasi sudah pulih."
            runs.append(run_id)
        for run_id in runs:
            if run_id in finished:
                continue
            state = airflow.task_state(DAG, run_id, TASK)
            if state == "awaiting_input":
                assert run_id not in answered, f"{run_id}: the request opened again"
                params = {"jawaban": answers[run_id], "catatan": None}
                response = airflow.answer("kasi", DAG, run_id, TASK, [DONE], params)
                assert response.status_code == 200, response.text
                answered.add(run_id)
            elif state in ("failed", "upstream_failed"):
                raise AssertionError(airflow.failure_report(DAG, run_id))
            if run_id in answered:
                run = airflow.api("admin", "GET", f"/dags/{DAG}/dagRuns/{run_id}").json()
                if run["state"] in ("success", "failed"):
                    finished[run_id] = run["state"]
        time.sleep(0.2)

    assert set(finished.values()) == {"success"}
    retried = 0
    for run_id in runs:
        entries = [e for e in airflow.agenda(run_id) if e.task_id == TASK]
        assert len(entries) == 1, run_id
        (entry,) = entries
        assert (entry.actor, entry.outcome) == ("kasi", "approved"), run_id
        assert answers[run_id] in (entry.output_ref or ""), run_id
        ti = next(t for t in airflow.task_instances(DAG, run_id) if t["task_id"] == TASK)
        retried += ti["try_number"] > 1
    print(f"{RUNS} jawaban seketika; {retried} di antaranya melewati percobaan ulang Airflow")
