"""docker-compose.yaml built and running (``make test-compose``): the start gated by health and
by the init service, real FAB logins with the roles and DAG permissions of config/access.yaml,
the nightly backup and a data request run by the Celery worker containers with their sign-offs
answered only by the role holders, the agenda in the PostgreSQL container, the optional
profiles - and a broken service caught by the health check.

The last test breaks the workers' broker on purpose (and puts them back afterwards)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
import requests
from access_helpers import OUTSIDER, TRIGGER_CONF, expected_fab_state, fab_state
from e2e.test_data_provision_dag import CHAIN, REQUEST

from piak.core import access
from piak.engines import backupset

from .conftest import StackNotReady

pytestmark = [pytest.mark.compose, pytest.mark.slow]

#: A worker is healthy about 30 s after it starts (its first probe); a broken one never is.
BROKEN_TIMEOUT = 90
GATED_BY_INIT = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
)


def _timeline(events: list[dict]) -> dict[str, dict[str, list]]:
    """service -> event ("start", "healthy", "die") -> [(time in ns, exit code)] in order."""
    timeline: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for event in events:
        attributes = event["Actor"]["Attributes"]
        action = event["Action"].removeprefix("health_status: ")
        timeline[attributes["com.docker.compose.service"]][action].append(
            (event["timeNano"], attributes.get("exitCode"))
        )
    return timeline


def test_startup_is_gated_by_health_and_the_init_service(compose_stack):
    stack = compose_stack.stack
    timeline = _timeline(stack.events(since=compose_stack.started - 1))
    first = {
        s: {a: min(t for t, _ in v) for a, v in actions.items()} for s, actions in timeline.items()
    }

    # PostgreSQL and Redis were healthy before the init service started (service_healthy) ...
    assert first["postgres"]["healthy"] < first["airflow-init"]["start"]
    assert first["redis"]["healthy"] < first["airflow-init"]["start"]
    # ... which ran once and exited 0 before any Airflow component started
    # (service_completed_successfully) ...
    assert [code for _, code in timeline["airflow-init"]["die"]] == ["0"]
    for service in GATED_BY_INIT:
        assert first["airflow-init"]["die"] < first[service]["start"], service
    # ... and the workers waited for a healthy API server.
    worker_starts = [t for t, _ in timeline["airflow-worker"]["start"]]
    assert len(worker_starts) == 2, "two worker replicas"
    assert first["airflow-apiserver"]["healthy"] < min(worker_starts)

    # Profiles: flower and the CLI container are not part of a plain `up`.
    assert stack.containers("flower") == [] and stack.containers("airflow-cli") == []
    # Only the API server is published, and only on loopback.
    published = {
        container["Config"]["Labels"]["com.docker.compose.service"]: [
            binding["HostIp"]
            for bindings in (container["NetworkSettings"]["Ports"] or {}).values()
            for binding in bindings or []
        ]
        for container in stack.containers()
        if container["State"]["Status"] == "running"
    }
    assert published.pop("airflow-apiserver") == ["127.0.0.1"]
    assert all(hosts == [] for hosts in published.values()), published


def _sign(airflow, dag_id: str, run_id: str, task_id: str, user: str, intruder: str, option):
    """``intruder`` is refused (403) and the request stays open; then ``user`` answers."""
    airflow.wait_task(dag_id, run_id, task_id, {"awaiting_input"}, timeout=300)
    refused = airflow.answer(intruder, dag_id, run_id, task_id, [option])
    assert refused.status_code == 403, refused.text
    assert airflow.task_state(dag_id, run_id, task_id) == "awaiting_input"
    ok = airflow.answer(user, dag_id, run_id, task_id, [option], {"catatan": "diterima"})
    assert ok.status_code == 200, ok.text


def _ran_on_workers(airflow, dag_id: str, run_id: str) -> None:
    """Every task that ran did so in a worker container - none in the scheduler's."""
    stack = airflow.stack
    hosts = {
        ti["task_id"]: ti["hostname"]
        for ti in airflow.task_instances(dag_id, run_id)
        if ti["state"] == "success"
    }
    workers = stack.hostnames("airflow-worker")
    assert hosts and set(hosts.values()) <= workers, (hosts, workers)
    assert not set(hosts.values()) & stack.hostnames("airflow-scheduler")


def test_backup_runs_on_the_workers_and_the_handover_is_signed_by_fab_users(compose_stack):
    airflow = compose_stack
    dag, handover_dag = "backup_database", "backup_handover"
    run_id = airflow.trigger(dag, {}, user="administrator")
    assert airflow.wait_run(dag, run_id, timeout=300) == "success"
    _ran_on_workers(airflow, dag, run_id)
    placed = {row["task_id"]: row for row in airflow.agenda_rows(run_id)}["place_backup_set"]
    set_name = placed["output_ref"].rsplit("/", 1)[-1]
    handover = f"handover__{set_name}"
    _sign(airflow, handover_dag, handover, "receive_copy_kasi", "kasi", intruder="kabid",
          option="Setujui")  # fmt: skip
    _sign(airflow, handover_dag, handover, "receive_copy_kabid", "kabid", intruder="jfu",
          option="Setujui")  # fmt: skip
    assert airflow.wait_run(handover_dag, handover, timeout=300) == "success"
    _ran_on_workers(airflow, handover_dag, handover)

    recorded = airflow.agenda_rows(run_id) + airflow.agenda_rows(handover)
    assert {int(row["step_number"]) for row in recorded} == set(range(1, 9))
    rows = {row["task_id"]: row for row in recorded}
    signed = [
        (rows[t]["actor"], rows[t]["outcome"]) for t in ("receive_copy_kasi", "receive_copy_kabid")
    ]
    assert signed == [("kasi", "approved"), ("kabid", "approved")]
    assert rows["record_handover"]["output_ref"] == set_name
    # The verified offsite copy is on the host's disk (PIAK_OFFSITE_DIR), written by a worker.
    offsite = airflow.stack.base / "offsite" / "flashdisk" / set_name
    assert backupset.verify_set(offsite).ok


def test_a_data_request_is_decided_only_by_the_role_holders(compose_stack):
    airflow = compose_stack
    dag = "data_provision"
    run_id = airflow.trigger(dag, REQUEST, user="jfu")
    task_id, user, option, _ = CHAIN[0]
    _sign(airflow, dag, run_id, task_id, user, intruder="kabid", option=option)
    for task_id, user, option, fields in CHAIN[1:]:
        airflow.wait_task(dag, run_id, task_id, {"awaiting_input"}, timeout=300)
        reply = airflow.answer(user, dag, run_id, task_id, [option] if option else ["OK"], fields)
        assert reply.status_code == 200, (task_id, reply.text)
    assert airflow.wait_run(dag, run_id, timeout=300) == "success"
    _ran_on_workers(airflow, dag, run_id)

    rows = airflow.agenda_rows(run_id)
    by_task = {row["task_id"]: row for row in rows}
    assert by_task["record_request"]["actor"] == "jfu"
    assert (by_task["dispose_request"]["actor"], by_task["dispose_request"]["role"]) == (
        "sekretaris",
        "sekretaris",
    )
    assert {int(row["step_number"]) for row in rows} == set(range(1, 12))


def test_fab_roles_and_dag_permissions_are_the_access_file_the_stack_mounts(compose_stack):
    """What airflow-init (``piak.deploy access``) and the DAG processor (each DAG's
    access_control) made in the stack's FAB tables is what the mounted config/access.yaml
    says - the file each DAG's first task checks triggers against."""
    airflow = compose_stack
    config = access.load(airflow.stack.base / "config" / "access.yaml")
    expected = expected_fab_state(config)
    found = fab_state(airflow)
    assert {name: found.get(name) for name in expected} == expected
    refused = airflow.api(
        OUTSIDER,
        "POST",
        "/dags/database_recovery/dagRuns",
        json={"logical_date": None, "conf": TRIGGER_CONF["database_recovery"]},
    )
    assert refused.status_code == 403, refused.text


def test_flower_and_the_cli_start_only_with_their_profiles(compose_stack):
    stack = compose_stack.stack
    cli = stack.compose("--profile", "debug", "run", "--rm", "airflow-cli", "airflow", "version")
    assert cli.stdout.strip().splitlines()[-1] == "3.3.2"
    stack.compose("--profile", "flower", "up", "-d", "flower", timeout=300)
    stack.wait_healthy(("flower",), timeout=120)
    (container,) = stack.containers("flower")
    bindings = container["NetworkSettings"]["Ports"]["5555/tcp"]
    assert [(b["HostIp"], b["HostPort"]) for b in bindings] == [
        ("127.0.0.1", str(stack.flower_port))
    ]
    page = requests.get(f"http://127.0.0.1:{stack.flower_port}/workers", timeout=30)
    assert page.status_code == 200 and "celery@" in page.text


def test_a_wrong_broker_url_fails_the_health_check(compose_stack, tmp_path: Path):
    stack = compose_stack.stack
    broken = tmp_path / "broken-broker.yaml"
    broken.write_text(
        "services:\n  airflow-worker:\n    environment:\n"
        "      AIRFLOW__CELERY__BROKER_URL: redis://redis:6390/0\n"
    )
    stack.compose("up", "-d", "--no-deps", "airflow-worker", files=(broken,), timeout=300)
    try:
        with pytest.raises(StackNotReady) as failure:
            stack.wait_healthy(("airflow-worker",), timeout=BROKEN_TIMEOUT)
        report = str(failure.value)
        assert "airflow-worker" in report and "redis:6390" in report, report
    finally:
        stack.compose("up", "-d", "--no-deps", "airflow-worker", timeout=300)
