"""One real Airflow for all end-to-end tests: ``airflow standalone`` on a loopback port of its own.

It runs the embedded default exactly as ``make demo`` does (``piak.demo.airflow_env``), but with
its own AIRFLOW_HOME and PIAK_HOME under pytest's temporary directory. Tests talk to it only
through its REST API, as the office's users (simple auth manager logins: the users of the
project's config/access.yaml and the extra people of ``access_helpers.EXTRA``, in an access file
of its own that a test may swap while its runs wait).

``make test`` runs the end-to-end files in four pytest processes on the same Airflow
(``scripts/test.sh``): the one that starts it publishes it (``PIAK_E2E_PUBLISH``: a folder for
``airflow.json``) and, at its end, waits for the others to be done before stopping it; the others
attach (``PIAK_E2E_ATTACH``: the same folder) and read the same mail spool. What tests share
across processes is locked (:meth:`Airflow.holding`: recovery runs, the access file, the SIAK
demo database);
which tests go together is in ``scripts/test.sh``. Without either variable, one process starts
its own Airflow, as before.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from access_helpers import access_yaml
from backup_helpers import unscheduled_backup_config, unscheduled_usage_policy
from mail_helpers import Inbox, smtp_server

from piak import demo

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 240
#: How long the publishing process waits, at its end, for the attached one to finish.
SHARED_TIMEOUT = 1800
DAG_IDS = (
    "helpdesk",
    "backup_database",
    "backup_handover",
    "backup_freshness",
    "database_recovery",
    "restore_drill",
    "data_provision",
    "network_maintenance",
    "access_rights",
    "out_of_policy_usage",
    "out_of_policy_case",
    "monthly_report",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Airflow:
    """A running Airflow and the office's logins."""

    url: str
    passwords: dict[str, str]
    piak_home: Path
    env: dict[str, str]
    log: Path
    inbox: Inbox | None = None  # the loopback SMTP server, where the topology has one
    _tokens: dict[str, str] = field(default_factory=dict)

    def token(self, user: str) -> str:
        if user not in self._tokens:
            response = requests.post(
                f"{self.url}/auth/token",
                json={"username": user, "password": self.passwords[user]},
                timeout=30,
            )
            response.raise_for_status()
            self._tokens[user] = response.json()["access_token"]
        return self._tokens[user]

    @contextmanager
    def deadlines(self, sop_code: str, step: int, **spec: str) -> Generator[None]:
        """This Airflow's sign-off deadlines with one step's replaced (read by the waiting tasks
        when they open and at each deadline), put back afterwards; every other step keeps its
        own, also one another lane replaces meanwhile. Held as lock ``deadlines.<sop>.<step>``:
        a test relying on that step's usual deadlines holds it shared."""
        with self.holding(f"deadlines.{sop_code}.{step}", exclusive=True):
            usual = self._set_deadlines(sop_code, step, spec)
            try:
                yield
            finally:
                self._set_deadlines(sop_code, step, usual)

    def _set_deadlines(self, sop_code: str, step: int, spec: dict | None) -> dict | None:
        """One step's entry in the deadlines file (None: none), written aside and renamed so a
        sign-off reading it never sees half; returns the entry it replaced."""
        import yaml

        path = Path(self.env["PIAK_SIGNOFFS_FILE"])
        with self.holding("signoffs-file", exclusive=True):
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            steps = data.setdefault("steps", {}).setdefault(sop_code, {})
            replaced = steps.pop(step, None)
            if spec is not None:
                steps[step] = spec
            partial = path.with_suffix(".partial")
            partial.write_text(yaml.safe_dump(data), encoding="utf-8")
            partial.replace(path)
        return replaced

    @contextmanager
    def holding(self, what: str, *, exclusive: bool) -> Generator[None]:
        """A lock on something this Airflow's tests share across pytest processes: held
        exclusively by a test that changes it, shared by a test whose outcome depends on it.
        ``recovery``: a recovery test's runs (a backup waits for a running recovery, so one
        starts only while no recovery test holds it: :meth:`backed_up`);
        ``access``: the access file; ``siak``: the SIAK demo database; before them
        ``deadlines.<sop>.<step>`` (:meth:`deadlines`). A test holding several takes them in
        that order (no two processes wait for each other)."""
        import fcntl

        path = Path(self.env["PIAK_HOME"]).parent / f"{what}.lock"
        with path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def backed_up(self, logical_date: str) -> str:
        """A nightly backup for ``logical_date`` run to success. It starts while no recovery
        test of another process runs (it would wait for that test's recovery runs)."""
        dag_id = "backup_database"
        with self.holding("recovery", exclusive=False):
            run_id = self.trigger(dag_id, {}, user="administrator", logical_date=logical_date)
            self.wait_task(dag_id, run_id, "wait_for_recovery", {"success"}, timeout=240)
        assert self.wait_run(dag_id, run_id, timeout=240) == "success"
        return run_id

    def wait_no_run(self, dag_id: str, timeout: float = 240) -> None:
        """Until no run of ``dag_id`` is queued or running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.api(
                "admin", "GET", f"/dags/{dag_id}/dagRuns", params={"state": ["queued", "running"]}
            )
            response.raise_for_status()
            if response.json()["total_entries"] == 0:
                return
            time.sleep(1)
        raise AssertionError(f"{dag_id}: runs still active after {timeout}s")

    def api(self, user: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.request(user, method, f"/api/v2{path}", **kwargs)

    def request(self, user: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        """``path`` under the server's root, as ``user`` (bearer token)."""
        headers = {"Authorization": f"Bearer {self.token(user)}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=60, **kwargs)

    def agenda(self, run_id: str) -> list[Any]:
        """The agenda entries of a run, read from this Airflow's agenda store."""
        from piak.core import agenda

        return agenda.entries(run_id=run_id, url=f"sqlite:///{self.piak_home / 'agenda.db'}")

    def trigger(
        self,
        dag_id: str,
        conf: dict[str, Any],
        user: str = "admin",
        logical_date: str | None = None,
    ) -> str:
        response = self.api(
            user,
            "POST",
            f"/dags/{dag_id}/dagRuns",
            json={"logical_date": logical_date, "conf": conf},
        )
        assert response.status_code == 200, response.text
        return response.json()["dag_run_id"]

    def task_state(self, dag_id: str, run_id: str, task_id: str) -> str | None:
        response = self.api(
            "admin", "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
        )
        response.raise_for_status()
        return response.json()["state"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of a run as the REST API shows it."""
        response = self.api("admin", "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        response.raise_for_status()
        return response.json()["task_instances"]

    def hostnames(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """Task id -> the worker that ran it (the task instance's ``hostname``)."""
        return {ti["task_id"]: ti["hostname"] for ti in self.task_instances(dag_id, run_id)}

    def wait_task(
        self, dag_id: str, run_id: str, task_id: str, states: set[str], timeout: float = 180
    ) -> str:
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            state = self.task_state(dag_id, run_id, task_id)
            if state in states:
                return state
            if state in {"failed", "upstream_failed"} - states:
                break
            time.sleep(1)
        raise AssertionError(
            f"{dag_id}/{run_id}/{task_id}: state {state!r}, expected {sorted(states)}\n"
            + self.failure_report(dag_id, run_id)
        )

    def drive(self, scripts: dict[tuple[str, str], list[tuple]], timeout: float = 600) -> None:
        """Answer the sign-offs of several runs at once: ``{(dag_id, run_id): [(task_id, user,
        options, params), ...]}``, each run's in order, each as soon as its request has settled
        (answered at once: a retry Airflow starts meanwhile applies the kept answer,
        ``piak.workflow.answers``). A run triggered by another may not exist yet."""
        pending = {key: list(steps) for key, steps in scripts.items()}
        deadline = time.monotonic() + timeout
        while any(pending.values()):
            if time.monotonic() > deadline:
                left = {k: s[0][0] for k, s in pending.items() if s}
                raise AssertionError(f"sign-offs still waiting after {timeout}s: {left}")
            for (dag_id, run_id), steps in pending.items():
                if not steps:
                    continue
                task_id, user, options, params = steps[0]
                response = self.api(
                    "admin", "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
                )
                state = response.json().get("state") if response.status_code == 200 else None
                if state in {"failed", "upstream_failed", "skipped"}:
                    raise AssertionError(
                        f"{dag_id}/{run_id}/{task_id}: {state}\n"
                        + self.failure_report(dag_id, run_id)
                    )
                if state != "awaiting_input":
                    continue
                answer = self.answer(user, dag_id, run_id, task_id, options, params)
                assert answer.status_code == 200, (dag_id, run_id, task_id, answer.text)
                steps.pop(0)
            time.sleep(1)

    def wait_finished(self, dag_id: str, run_id: str, timeout: float = 180) -> str:
        """The run's state once it is ``success`` or ``failed``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.api("admin", "GET", f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
            if state in ("success", "failed"):
                return state
            time.sleep(1)
        raise AssertionError(f"{dag_id}/{run_id}: not finished after {timeout}s")

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 180) -> str:
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            response = self.api("admin", "GET", f"/dags/{dag_id}/dagRuns/{run_id}")
            state = response.json()["state"]
            if state == "success":
                return state
            if state == "failed":
                raise AssertionError(
                    f"{dag_id}/{run_id} failed:\n" + self.failure_report(dag_id, run_id)
                )
            time.sleep(1)
        raise AssertionError(f"{dag_id}/{run_id}: still {state!r} after {timeout}s")

    def answer(
        self,
        user: str,
        dag_id: str,
        run_id: str,
        task_id: str,
        options: list[str],
        params: dict[str, Any] | None = None,
    ) -> requests.Response:
        return self.api(
            user,
            "PATCH",
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails",
            json={"chosen_options": options, "params_input": params or {}},
        )

    def parsed(self, dag_ids: set[str]) -> set[str]:
        """The DAGs of ``dag_ids`` the API server already serves (none while it starts)."""
        try:
            return {d for d in dag_ids if self.api("admin", "GET", f"/dags/{d}").status_code == 200}
        except requests.RequestException:
            return set()

    def failure_report(self, dag_id: str, run_id: str) -> str:
        """States of every task of the run and the logs of the failed ones."""
        response = self.api("admin", "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        lines = []
        for ti in response.json().get("task_instances", []):
            lines.append(f"{ti['task_id']}: {ti['state']}")
            if ti["state"] in ("failed", "up_for_retry"):
                lines.append(self.task_log(dag_id, run_id, ti["task_id"], ti["try_number"] or 1))
        return "\n".join(lines)

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, try_number: int | None = None
    ) -> str:
        """The task's log, of its latest try by default (a sign-off Airflow retried has
        more than one)."""
        if try_number is None:
            path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
            try_number = max(self.api("admin", "GET", path).json().get("try_number") or 1, 1)
        response = self.api(
            "admin",
            "GET",
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            params={"full_content": "true"},
        )
        content = response.json().get("content", [])
        lines = [
            " ".join(str(item.get(k, "")) for k in ("level", "event", "error_detail"))
            if isinstance(item, dict)
            else str(item)
            for item in content
        ]
        return "\n".join(lines)[-6000:]


@pytest.fixture(scope="module")
def usual_siak(airflow: Airflow) -> Iterator[None]:
    """For a module whose runs read or write the SIAK demo database: a recovery test in another
    process restores it meanwhile."""
    with airflow.holding("siak", exclusive=False):
        yield


@pytest.fixture
def usual_office(airflow: Airflow) -> Iterator[None]:
    """For a test that asserts exactly who is asked or mailed: the project's access file stays
    as it is while it runs (a test in another process may give people more roles meanwhile)."""
    with airflow.holding("access", exclusive=False):
        yield


@pytest.fixture(scope="session")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airflow]:
    if os.environ.get("PIAK_E2E_ATTACH"):
        yield _attached(Path(os.environ["PIAK_E2E_ATTACH"]))
        return
    base = tmp_path_factory.mktemp("airflow")
    port = _free_port()
    access_file = base / "access.yaml"
    access_file.write_text(access_yaml(date.today()), encoding="utf-8")
    # Not under pytest's own temporary folder: every pytest session started on this machine
    # resets that folder to 0700, which a PostgreSQL run as pgserver's user (tests as root) could
    # then no longer enter.
    data = Path(tempfile.mkdtemp(prefix="piak-e2e-postgres-"))
    try:
        with demo.metadata_database(data) as metadata_url, smtp_server(base / "inbox") as inbox:
            yield from _standalone(base, port, access_file, metadata_url, inbox)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def _standalone(
    base: Path, port: int, access_file: Path, metadata_url: str, inbox: Inbox
) -> Iterator[Airflow]:
    airflow_home, piak_home = base / "airflow_home", base / "piak_home"
    env = demo.airflow_env(
        airflow_home,
        port=port,
        piak_home=piak_home,
        access_path=access_file,
        metadata_url=metadata_url,
    )
    # The project's backup configuration, triggered by the tests instead of nightly (a scheduled
    # run would wait for its hand-over and, with one active run at a time, block the tests').
    (base / "backup.yaml").write_text(unscheduled_backup_config())
    env["PIAK_BACKUP_FILE"] = str(base / "backup.yaml")
    (base / "usage_policy.yaml").write_text(unscheduled_usage_policy())
    env["PIAK_USAGE_POLICY_FILE"] = str(base / "usage_policy.yaml")
    # The project's network configuration, in a file tests/e2e/test_network_dag.py points at
    # the loopback services it starts (read when a probe runs).
    (base / "network.yaml").write_text((ROOT / "config" / "network.yaml").read_text())
    env["PIAK_NETWORK_FILE"] = str(base / "network.yaml")
    # The project's sign-off deadlines, in a file a test may swap for short ones
    # (tests/e2e/test_backup_dag.py) while its runs wait.
    (base / "signoffs.yaml").write_text((ROOT / "config" / "signoffs.yaml").read_text())
    env["PIAK_SIGNOFFS_FILE"] = str(base / "signoffs.yaml")
    # The DAG files do not change while the tests run: parsed once, not every 30 s (on two
    # cores the re-parsing of twelve files took CPU the tests and their runs need).
    env["AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL"] = "3600"
    # The office's mail: a real SMTP server on loopback receives every notification.
    env["AIRFLOW_CONN_PIAK_SMTP"] = inbox.connection
    demo.prepare_home(piak_home, residents=3000)
    passwords = demo.ensure_passwords(airflow_home, access_file)
    log = base / "standalone.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [demo.airflow_bin(), "standalone"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Airflow(f"http://127.0.0.1:{port}", passwords, piak_home, env, log, inbox)
    try:
        _wait_ready(server, proc)
        shared = os.environ.get("PIAK_E2E_PUBLISH")
        if shared:
            _publish(server, Path(shared))
        yield server
        if shared:
            _wait_for_attached(Path(shared))
    finally:
        demo.stop(proc, timeout=10)  # its last runs are the tests': no need to wait longer


def _publish(server: Airflow, folder: Path) -> None:
    """Where the attached process finds this Airflow (written last, renamed into place)."""
    state = {
        "url": server.url,
        "passwords": server.passwords,
        "piak_home": str(server.piak_home),
        "env": server.env,
        "log": str(server.log),
        "inbox": str(server.inbox.spool) if server.inbox else None,
    }
    partial = folder / "airflow.json.partial"
    partial.write_text(json.dumps(state), encoding="utf-8")
    partial.replace(folder / "airflow.json")


def _attached(folder: Path) -> Airflow:
    """The Airflow another pytest process started; its inbox is read from the same spool."""
    deadline = time.monotonic() + READY_TIMEOUT + 120
    while not (folder / "airflow.json").exists():
        if (folder / "publisher-ended").exists() or time.monotonic() > deadline:
            raise RuntimeError(f"no shared Airflow published in {folder}")
        time.sleep(1)
    state = json.loads((folder / "airflow.json").read_text(encoding="utf-8"))
    inbox = Inbox(Path(state["inbox"])) if state.get("inbox") else None
    return Airflow(
        state["url"],
        state["passwords"],
        Path(state["piak_home"]),
        state["env"],
        Path(state["log"]),
        inbox,
    )


def _wait_for_attached(folder: Path) -> None:
    """The attached process's tests use this Airflow until scripts/test.sh says it ended."""
    deadline = time.monotonic() + SHARED_TIMEOUT
    while not (folder / "done").exists() and time.monotonic() < deadline:
        time.sleep(1)


def _wait_ready(server: Airflow, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    pending = set(DAG_IDS)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"airflow standalone exited: {server.log.read_text()[-4000:]}")
        pending -= server.parsed(pending)
        if not pending:
            return
        time.sleep(1)
    raise RuntimeError(
        f"Airflow not ready after {READY_TIMEOUT}s (DAGs missing: {sorted(pending)}):\n"
        + server.log.read_text()[-4000:]
    )
