"""The production stack for real: ``docker-compose.yaml`` built and started by Debian's
docker-compose on the private Docker engine that ``make test-compose`` (``scripts/test-compose.sh``)
starts and stops; the images' bases are the local ones of ``scripts/build-local-images.sh``
(no registry can be reached), named in a generated ``.env`` with random secrets.

``compose_stack`` (package scope) runs the README's commands in a throwaway compose project of
its own: ``docker-compose build``, ``docker-compose up -d``, waits until every service is healthy
(and the init service has exited 0), and at the end ``docker-compose down -v`` - also when a test
or the start fails; the services' logs are then kept in ``tests/artifacts/compose/``. The
project's files (``.env``, a copy of ``config/`` whose backup schedules are off, the secrets
folder and the offsite disk) live under pytest's temporary directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from backup_helpers import unscheduled_backup_config, unscheduled_usage_policy
from e2e.conftest import DAG_IDS, Airflow

from piak import demo

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "compose"
DOCKER = "/usr/bin/docker"  # Debian's docker.io client (another `docker` may be first on PATH)
#: Every service of a plain `up` (profiles flower and debug stay off).
SERVICES = (
    "postgres",
    "redis",
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
)
LOCAL_IMAGES = ("PIAK_AIRFLOW_BASE_IMAGE", "PIAK_POSTGRES_IMAGE", "PIAK_REDIS_IMAGE")
BUILD_TIMEOUT = 3600
UP_TIMEOUT = 900
READY_TIMEOUT = 300
AIRFLOW_UID = 50000


class StackNotReady(AssertionError):
    """A service of the stack did not become healthy (or the init service failed)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ComposeStack:
    """One compose project on the private engine, driven through Debian's docker-compose."""

    project: str
    base: Path
    http_port: int
    flower_port: int

    @property
    def env_file(self) -> Path:
        return self.base / ".env"

    def compose(
        self, *args: str, files: tuple[Path, ...] = (), timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess:
        """``docker-compose -p PROJECT --env-file .env -f docker-compose.yaml ARGS``; only the
        engine's address comes from this process's environment."""
        command = ["docker-compose", "-p", self.project, "--env-file", str(self.env_file)]
        for path in (ROOT / "docker-compose.yaml", *files):
            command += ["-f", str(path)]
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(self.base)}
        env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
        result = subprocess.run(
            [*command, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker-compose {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout[-4000:]}{result.stderr[-4000:]}"
            )
        return result

    def docker(self, *args: str, timeout: float = 60, check: bool = True) -> str:
        result = subprocess.run(
            [DOCKER, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed:\n{result.stderr}")
        return result.stdout

    def containers(self, service: str | None = None) -> list[dict[str, Any]]:
        """``docker inspect`` of the project's containers (of one service), stopped ones too."""
        filters = ["--filter", f"label=com.docker.compose.project={self.project}"]
        if service:
            filters += ["--filter", f"label=com.docker.compose.service={service}"]
        ids = self.docker("ps", "-aq", *filters).split()
        return json.loads(self.docker("inspect", *ids)) if ids else []

    def hostnames(self, service: str) -> set[str]:
        return {c["Config"]["Hostname"] for c in self.containers(service)}

    def _problem(self, service: str, container: dict[str, Any]) -> str | None:
        state = container["State"]
        if service == "airflow-init":
            if state["Status"] == "exited" and state["ExitCode"] != 0:
                return f"exited with {state['ExitCode']}"
            return None
        health = (state.get("Health") or {}).get("Status")
        if state["Status"] != "running" or state.get("Restarting"):
            return f"{state['Status']} (exit code {state['ExitCode']})"
        if container.get("RestartCount"):
            return f"restarted {container['RestartCount']} time(s)"
        if health == "unhealthy":
            return "unhealthy"
        return None

    @staticmethod
    def _ready(service: str, container: dict[str, Any]) -> bool:
        state = container["State"]
        if service == "airflow-init":
            return state["Status"] == "exited" and state["ExitCode"] == 0
        return state["Status"] == "running" and (state.get("Health") or {}).get("Status") == (
            "healthy"
        )

    def wait_healthy(self, services: tuple[str, ...] = SERVICES, timeout: float = READY_TIMEOUT):
        """Wait until every container of ``services`` is healthy (the init service: exited 0).

        Raises ``StackNotReady`` at once when one fails (exited, restarted, unhealthy, init
        exited non-zero), else after ``timeout``; the message names the services with their
        last health probe and log lines."""
        deadline = time.monotonic() + timeout
        while True:
            by_service = {s: self.containers(s) for s in services}
            problems = {
                f"{s} {c['Name'].lstrip('/')}": p
                for s, found in by_service.items()
                for c in found
                if (p := self._problem(s, c))
            }
            pending = [
                s for s, found in by_service.items() if not found or not all(
                    self._ready(s, c) for c in found
                )
            ]  # fmt: skip
            if problems:
                raise StackNotReady(self.report(problems, by_service))
            if not pending:
                return
            if time.monotonic() > deadline:
                waiting = {s: f"not healthy after {timeout:.0f} s" for s in pending}
                raise StackNotReady(self.report(waiting, by_service))
            time.sleep(1)  # between polls of the services' health

    def report(self, problems: dict[str, str], by_service: dict[str, list[dict]]) -> str:
        lines = []
        for name, problem in problems.items():
            service = name.split()[0]
            lines.append(f"== {name}: {problem}")
            for container in by_service.get(service, []):
                probes = (container["State"].get("Health") or {}).get("Log") or []
                if probes:
                    lines.append(f"last health probe: {probes[-1]['Output'].strip()[-800:]}")
                logs = self.docker("logs", "--tail", "25", container["Id"], check=False)
                lines.append(logs[-3000:])
        return "\n".join(lines)

    def events(self, since: float) -> list[dict[str, Any]]:
        """The engine's container events of this project since ``since`` (epoch seconds)."""
        out = self.docker(
            "events",
            "--since", f"{since:.3f}",
            "--until", f"{time.time():.3f}",
            "--filter", f"label=com.docker.compose.project={self.project}",
            "--filter", "type=container",
            "--format", "{{json .}}",
        )  # fmt: skip
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def psql(self, database: str, sql: str, **variables: str) -> list[list[str]]:
        """Rows of ``sql`` run by psql in the PostgreSQL container (``:'name'`` binds a
        variable as a quoted literal)."""
        args = ["exec", "-T", "postgres", "psql", "-U", "airflow", "-d", database]
        args += ["-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1"]
        for name, value in variables.items():
            args += ["-v", f"{name}={value}"]
        command = [
            "docker-compose", "-p", self.project, "--env-file", str(self.env_file),
            "-f", str(ROOT / "docker-compose.yaml"), *args,
        ]  # fmt: skip
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DOCKER_HOST": os.environ["DOCKER_HOST"]}
        result = subprocess.run(
            command, input=sql, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return [line.split("\t") for line in result.stdout.splitlines() if line]

    def save_logs(self) -> Path:
        """Every service's log in ``tests/artifacts/compose/<project>/``."""
        target = ARTIFACTS / self.project
        target.mkdir(parents=True, exist_ok=True)
        for container in self.containers():
            logs = subprocess.run(
                [DOCKER, "logs", container["Id"]], capture_output=True, text=True, check=False
            )
            name = container["Name"].lstrip("/")
            (target / f"{name}.log").write_text(logs.stdout + logs.stderr)
        return target

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, volumes and networks of this project still on the engine."""
        label = f"label=com.docker.compose.project={self.project}"
        return {
            kind: found
            for kind, command in (
                ("containers", ("ps", "-aq", "--filter", label)),
                ("volumes", ("volume", "ls", "-q", "--filter", label)),
                ("networks", ("network", "ls", "-q", "--filter", label)),
            )
            if (found := self.docker(*command).split())
        }


@dataclass
class ComposeAirflow(Airflow):
    """The e2e REST client against the stack's API server, plus the stack itself."""

    stack: ComposeStack | None = None
    started: float = 0.0

    def agenda_rows(self, run_id: str) -> list[dict[str, str]]:
        """The run's agenda entries, read with psql from the PostgreSQL container."""
        assert self.stack is not None
        columns = ("step_number", "task_id", "role", "actor", "outcome", "output_ref")
        rows = self.stack.psql(
            "piak_agenda",
            f"SELECT {', '.join(columns)} FROM agenda_entry WHERE run_id = :'run' ORDER BY id;",
            run=run_id,
        )
        return [dict(zip(columns, row, strict=True)) for row in rows]


def _write_project(base: Path, http_port: int, flower_port: int) -> None:
    """.env with random secrets and the local bases; config/ without backup schedules;
    the secrets folder (an SSH key file for the Docker secret) and the offsite disk."""
    from cryptography.fernet import Fernet

    missing = [name for name in LOCAL_IMAGES if not os.environ.get(name)]
    if missing or not os.environ.get("DOCKER_HOST"):
        pytest.fail(
            "tests/compose runs on the private engine with the local bases: run it with "
            f"`make test-compose` (missing: {', '.join(missing) or 'DOCKER_HOST'})"
        )
    shutil.copytree(ROOT / "config", base / "config")
    (base / "config" / "backup.yaml").write_text(unscheduled_backup_config())
    (base / "config" / "usage_policy.yaml").write_text(unscheduled_usage_policy())
    (base / "secrets").mkdir(mode=0o700)
    key = base / "secrets" / "piak_ssh_key"
    key.write_text("not a key: no SSH Connection is used by these tests\n")
    key.chmod(0o600)
    offsite = base / "offsite"
    offsite.mkdir()
    os.chown(key, AIRFLOW_UID, 0)
    os.chown(offsite, AIRFLOW_UID, 0)
    env = {
        "AIRFLOW_UID": str(AIRFLOW_UID),
        "AIRFLOW_FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW_API_SECRET_KEY": secrets.token_urlsafe(32),
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        "PIAK_AGENDA_PASSWORD": secrets.token_urlsafe(24),
        "PIAK_BASE_URL": f"http://127.0.0.1:{http_port}",
        "PIAK_HTTP_PORT": str(http_port),
        "PIAK_FLOWER_PORT": str(flower_port),
        "PIAK_WORKER_CONCURRENCY": "2",
        "PIAK_DEMO_RESIDENTS": "3000",
        # the demo's accounts of config/access.yaml: production would refuse them
        "PIAK_DEPLOYMENT": "demo",
        "PIAK_CONFIG_DIR": str(base / "config"),
        "PIAK_SECRETS_DIR": str(base / "secrets"),
        "PIAK_OFFSITE_DIR": str(offsite),
        "PIAK_BUILD_NETWORK": os.environ.get("PIAK_BUILD_NETWORK", "host"),
        **{name: os.environ[name] for name in LOCAL_IMAGES},
        **demo.backup_key_connections(base / "keys"),
    }
    env_file = base / ".env"
    env_file.touch(mode=0o600)
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))


def _wait_parsed(server: ComposeAirflow, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    pending = set(DAG_IDS)
    while pending and time.monotonic() < deadline:
        pending -= server.parsed(pending)
        time.sleep(1)
    if pending:
        raise StackNotReady(f"DAGs not served after {timeout} s: {sorted(pending)}")


@pytest.fixture(scope="package")
def compose_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ComposeAirflow]:
    """The stack built and up, every service healthy, every DAG served; see the module doc."""
    failures_before = request.session.testsfailed
    base = tmp_path_factory.mktemp("compose")
    stack = ComposeStack(f"piaktest{os.getpid()}", base, _free_port(), _free_port())
    _write_project(base, stack.http_port, stack.flower_port)
    failed = True
    try:
        stack.compose("build", timeout=BUILD_TIMEOUT)
        started = time.time()
        stack.compose("up", "-d", timeout=UP_TIMEOUT)
        stack.wait_healthy()
        passwords = json.loads((base / "secrets" / "office-passwords.json").read_text())
        server = ComposeAirflow(
            url=f"http://127.0.0.1:{stack.http_port}",
            passwords=passwords,
            piak_home=base,
            env={},
            log=base / "api-server.log",
            stack=stack,
            started=started,
        )
        _wait_parsed(server)
        yield server
        failed = request.session.testsfailed > failures_before
    finally:
        if failed:
            with contextlib.suppress(Exception):
                print(f"compose logs kept in {stack.save_logs()}")
        stack.compose(
            "--profile", "flower", "--profile", "debug", "down", "-v", "--remove-orphans",
            timeout=300, check=False,
        )  # fmt: skip
        left = stack.leftovers()
        assert not left, f"docker-compose down -v left {left}"
