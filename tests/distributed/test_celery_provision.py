"""Population data provision on the production topology (CeleryExecutor, two workers,
PostgreSQL metadata and agenda, FAB logins): one request, then 20 at once with their sign-offs
answered by a test client as the office's people would - every run completes, every agenda entry
exists exactly once, no run is lost or duplicated. The wall time and runs per minute are printed
and written to the test's artifacts."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from e2e.test_data_provision_dag import CHAIN, REQUEST

pytestmark = [pytest.mark.distributed, pytest.mark.slow]

DAG = "data_provision"
LOAD = 20
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
#: The agenda of an approved request: one entry per task and step carried out.
APPROVED_ENTRIES = 13


def answer_pending(airflow, answered: set[str]) -> int:
    """Answer every waiting sign-off at once; return how many. A request is answered once: one
    that opened again (its answer lost to a retry) fails the test."""
    response = airflow.api(
        "admin",
        "GET",
        f"/dags/{DAG}/dagRuns/~/hitlDetails",
        params={"response_received": "false", "limit": 100},
    )
    response.raise_for_status()
    script = {task_id: (user, option, fields) for task_id, user, option, fields in CHAIN}
    count = 0
    for detail in response.json()["hitl_details"]:
        ti = detail["task_instance"]
        key = f"{ti['dag_run_id']}/{ti['task_id']}"
        if ti["state"] != "awaiting_input":
            continue
        assert key not in answered, f"{key}: the request opened again after its answer"
        user, option, fields = script[ti["task_id"]]
        reply = airflow.answer(
            user, DAG, ti["dag_run_id"], ti["task_id"], [option] if option else ["OK"], fields
        )
        assert reply.status_code in (200, 409), reply.text  # 409: answered meanwhile
        answered.add(key)
        count += 1
    return count


def run_states(airflow, run_ids: list[str]) -> dict[str, str]:
    """The state of each run, from one listing (the API server also serves the workers: a
    request per run each second took a large part of its time)."""
    response = airflow.api("admin", "GET", f"/dags/{DAG}/dagRuns", params={"limit": 100})
    response.raise_for_status()
    states = {run["dag_run_id"]: run["state"] for run in response.json()["dag_runs"]}
    return {run_id: states.get(run_id, "missing") for run_id in run_ids}


def drive_all(airflow, run_ids: list[str], timeout: float) -> dict[str, str]:
    answered: set[str] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer_pending(airflow, answered)
        states = run_states(airflow, run_ids)
        if all(state in ("success", "failed") for state in states.values()):
            return states
        time.sleep(1)
    return run_states(airflow, run_ids)


def check_agenda(airflow, run_id: str) -> None:
    entries = airflow.agenda(run_id)
    keys = Counter((e.task_id, e.step_number) for e in entries)
    assert len(entries) == APPROVED_ENTRIES and max(keys.values()) == 1, keys
    assert {e.step_number for e in entries} == set(range(1, 12))


def test_a_request_runs_on_both_workers(distributed_airflow):
    airflow = distributed_airflow
    run_id = airflow.trigger(DAG, REQUEST, user="jfu")
    assert drive_all(airflow, [run_id], timeout=600) == {run_id: "success"}
    check_agenda(airflow, run_id)
    assert set(airflow.hostnames(DAG, run_id).values()) >= {"worker-a", "worker-b"}
    # Tasks hand files over through the shared storage only: nothing is left in a worker's own
    # working or temporary directory.
    for name, workdir in airflow.worker_dirs.items():
        leftovers = [p for p in (workdir / "tmp").rglob("*") if p.is_file()]
        assert leftovers == [], (name, leftovers[:5])


@pytest.mark.load
def test_twenty_requests_at_once_all_complete_exactly_once(distributed_airflow):
    airflow = distributed_airflow
    started = time.monotonic()
    run_ids = [airflow.trigger(DAG, REQUEST, user="jfu") for _ in range(LOAD)]
    states = drive_all(airflow, run_ids, timeout=1500)
    wall = time.monotonic() - started
    assert states == dict.fromkeys(run_ids, "success")

    listed = airflow.api("admin", "GET", f"/dags/{DAG}/dagRuns", params={"limit": 100}).json()
    assert len({r["dag_run_id"] for r in listed["dag_runs"]} & set(run_ids)) == LOAD
    numbers = []
    for run_id in run_ids:
        check_agenda(airflow, run_id)
        numbers.append(next(e.output_ref for e in airflow.agenda(run_id) if e.step_number == 1))
    assert len(set(numbers)) == LOAD, "every request has its own number and folder"
    archive = airflow.piak_home / "storage" / "archive" / "provision"
    assert len({p.name for p in archive.rglob("PD-*.zip")} & {f"{n}.zip" for n in numbers}) == LOAD

    report = (
        f"{LOAD} data-provision requests (8 sign-offs each, answered as soon as they open) "
        f"on CeleryExecutor with 2 workers: {wall:.0f} s wall time, "
        f"{LOAD / wall * 60:.1f} runs per minute"
    )
    print(report)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load_report.txt").write_text(report + "\n")
