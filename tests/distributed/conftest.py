"""The production topology without Docker: Airflow on CeleryExecutor, on loopback only.

``distributed_airflow`` (session fixture) starts from the venv: api-server, scheduler,
dag-processor, triggerer and two Celery workers (``worker-a``, ``worker-b``), with the metadata
and the agenda in databases of this session's own on the machine's PostgreSQL, the broker in a
Redis database number of its own (a private ``redis-server`` when none listens on
127.0.0.1:6379) and the FAB auth manager with its roles and users made by the same command as
compose's init service (``piak.deploy access``) from an access file of this session: the
project's plus the small office of ``access_helpers.access_yaml(office=True)``. Each worker has
its own working and temporary directory, so a task relying on another task's local file fails;
what tasks share is PIAK_HOME/PIAK_STORAGE.
Every process runs in a process group of its own and all are stopped after the last test of
this package (package scope: the rest of the suite runs without it), also when a test or the
start-up fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from access_helpers import access_yaml
from backup_helpers import unscheduled_backup_config, unscheduled_usage_policy
from e2e.conftest import DAG_IDS, Airflow

from piak import demo

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WORKERS = ("worker-a", "worker-b")
#: Task slots per worker, as compose's workers have (PIAK_WORKER_CONCURRENCY).
WORKER_CONCURRENCY = 4
READY_TIMEOUT = 300
STOP_TIMEOUT = 30
REDIS_CLAIM_KEY = "piak:test-topology"


@dataclass
class DistributedAirflow(Airflow):
    """The running topology; the e2e REST client plus where everything lives."""

    agenda_url: str = ""
    base: Path = Path()
    worker_dirs: dict[str, Path] = field(default_factory=dict)

    def agenda(self, run_id: str) -> list[Any]:
        """The agenda entries of a run, read from the topology's PostgreSQL agenda store."""
        from piak.core import agenda

        return agenda.entries(run_id=run_id, url=self.agenda_url)


# --- Redis -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_ping(port: int) -> bool:
    import redis

    try:
        return bool(redis.Redis(host="127.0.0.1", port=port, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def _private_redis(base: Path) -> Iterator[int]:
    """A throwaway ``redis-server`` on a loopback port of its own (installed as root if missing)."""
    if not shutil.which("redis-server"):
        ensure = subprocess.run(
            [str(ROOT / "scripts/ensure-debian-packages.sh"), "redis-server"],
            capture_output=True,
            text=True,
        )
        if ensure.returncode != 0:
            pytest.fail(
                "No Redis answers on 127.0.0.1:6379 and none could be installed:\n"
                f"{ensure.stdout}{ensure.stderr}"
            )
    port = _free_port()
    base.mkdir(parents=True, exist_ok=True)
    command = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(base)]
    command += ["--save", "", "--appendonly", "no"]
    with (base / "redis.log").open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not _redis_ping(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start: {(base / 'redis.log').read_text()}")
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="package")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The machine's Redis on 127.0.0.1:6379 when it answers, else a private one."""
    if _redis_ping(6379):
        yield 6379
    else:
        yield from _private_redis(tmp_path_factory.mktemp("redis"))


_FLUSH_IF_OWNER = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('FLUSHDB') return 1 end return 0"
)


def _claim(client: Any) -> bool:
    """Claim an empty database for this process; a claim left by a test session that died
    (its process is gone) is flushed first, atomically."""
    owner = client.get(REDIS_CLAIM_KEY)
    if owner is not None and not _alive(int(owner)):
        client.eval(_FLUSH_IF_OWNER, 1, REDIS_CLAIM_KEY, owner)
    return client.dbsize() == 0 and bool(client.set(REDIS_CLAIM_KEY, os.getpid(), nx=True, ex=7200))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="package")
def redis_url(redis_port: int) -> Iterator[str]:
    """``redis://`` URL of a database number this session claimed (others may share the
    server); the database is flushed and given back at the end."""
    import redis

    for number in range(15, 0, -1):
        client = redis.Redis(host="127.0.0.1", port=redis_port, db=number)
        if _claim(client):
            break
        client.close()
    else:
        pytest.fail(f"Redis 127.0.0.1:{redis_port}: no free database number among 1-15")
    try:
        yield f"redis://127.0.0.1:{redis_port}/{number}"
    finally:
        client.flushdb()
        client.close()


# --- Processes -------------------------------------------------------------------------------


@dataclass
class Processes:
    """Named processes, each in a process group of its own with its own log file."""

    logs: Path
    running: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, name: str, command: list[str], env: dict[str, str], cwd: Path) -> None:
        with (self.logs / f"{name}.log").open("wb") as out:
            self.running[name] = subprocess.Popen(
                command,
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def check_alive(self) -> None:
        for name, proc in self.running.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({proc.returncode}):\n{self.tail(name)}")

    def tail(self, name: str, size: int = 4000) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-size:]

    def stop_all(self) -> None:
        """SIGTERM to every group, then SIGKILL to whatever is left (children included)."""
        for proc in self.running.values():
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for proc in self.running.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
        for proc in self.running.values():
            _signal_group(proc, signal.SIGKILL)
            proc.wait(10)


def _signal_group(proc: subprocess.Popen, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


# --- The topology ----------------------------------------------------------------------------


def _topology_env(base: Path, port: int, metadata_url: str, agenda_url: str, broker: str) -> dict:
    """The embedded default's environment (``piak.demo.airflow_env``) on CeleryExecutor."""
    from cryptography.fernet import Fernet

    piak_home = base / "piak_home"
    access_file = base / "access.yaml"
    access_file.write_text(access_yaml(date.today(), office=True), encoding="utf-8")
    env = demo.airflow_env(
        base / "airflow_home",
        port=port,
        piak_home=piak_home,
        access_path=access_file,
        metadata_url=metadata_url,
        parallelism=len(WORKERS) * WORKER_CONCURRENCY,
    )
    env.update(
        {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__AUTH_MANAGER": "piak.web.auth.PiakFabAuthManager",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__CELERY__BROKER_URL": broker,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata_url,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
            # the DAG files do not change while the tests run: parsed once (on two cores the
            # re-parsing every 30 s took CPU the load test's runs need)
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
            "PIAK_AGENDA_URL": agenda_url,
            "PIAK_STORAGE": str(piak_home / "storage"),
            "PIAK_BACKUP_FILE": str(base / "backup.yaml"),
            "PIAK_USAGE_POLICY_FILE": str(base / "usage_policy.yaml"),
        }
    )
    return env


def _worker_env(env: dict[str, str], name: str, workdir: Path) -> dict[str, str]:
    """A worker's own name, temporary directory and log-server port."""
    return env | {
        "PIAK_TEST_WORKER": name,
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "worker_host.hostname",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
        "TMPDIR": str(workdir / "tmp"),
        "PYTHONPATH": os.pathsep.join([str(HERE), env["PYTHONPATH"]]),
    }


def _write_backup_config(base: Path) -> None:
    """The project's backup configuration, triggered by the tests instead of on a schedule."""
    (base / "backup.yaml").write_text(unscheduled_backup_config())
    (base / "usage_policy.yaml").write_text(unscheduled_usage_policy())


def _prepare(env: dict[str, str], base: Path) -> dict[str, str]:
    """Metadata schema (FAB tables included), demo database and users; returns passwords."""
    airflow = demo.airflow_bin()
    run = {"env": env, "cwd": base, "capture_output": True, "text": True}
    migrate = subprocess.run([airflow, "db", "migrate"], **run, check=False)
    if migrate.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{migrate.stdout[-3000:]}{migrate.stderr}")
    passwords = base / "airflow_home" / "passwords.json"
    sync = [sys.executable, "-m", "piak.deploy", "access", "--passwords", str(passwords)]
    users = subprocess.run(sync, **run, check=False)
    if users.returncode != 0:
        raise RuntimeError(f"piak.deploy access failed:\n{users.stdout}{users.stderr[-3000:]}")
    demo.prepare_home(Path(env["PIAK_HOME"]), residents=3000)
    return json.loads(passwords.read_text())


def _start(procs: Processes, env: dict[str, str], base: Path) -> dict[str, Path]:
    """Start every component; return each worker's own directory."""
    airflow = demo.airflow_bin()
    for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
        procs.start(component, [airflow, component], env, base)
    worker_dirs = {}
    for name in WORKERS:
        workdir = base / "workers" / name
        (workdir / "tmp").mkdir(parents=True)
        command = [airflow, "celery", "worker", "--celery-hostname", f"{name}@%h"]
        procs.start(name, command, _worker_env(env, name, workdir), workdir)
        worker_dirs[name] = workdir
    return worker_dirs


def _wait_ready(server: DistributedAirflow, procs: Processes) -> None:
    """API server answering with every DAG parsed, and both Celery workers ready."""
    deadline = time.monotonic() + READY_TIMEOUT
    pending = set(DAG_IDS) | set(WORKERS)
    while time.monotonic() < deadline:
        procs.check_alive()
        for name in WORKERS:
            if name in pending and " ready." in procs.tail(name, 100_000):
                pending.discard(name)
        pending -= server.parsed(pending - set(WORKERS))
        if not pending:
            return
        time.sleep(1)
    raise RuntimeError(
        f"Topology not ready after {READY_TIMEOUT}s (waiting for {sorted(pending)}):\n"
        + "\n".join(f"--- {name}\n{procs.tail(name, 1500)}" for name in procs.running)
    )


@pytest.fixture(scope="package")
def distributed_airflow(
    postgres_databases, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DistributedAirflow]:
    """Airflow on CeleryExecutor with two workers, on loopback; see the module docstring."""
    base = Path(tempfile.mkdtemp(prefix="piak-topology-", dir=tmp_path_factory.getbasetemp()))
    port = _free_port()
    metadata_url = postgres_databases("airflow")
    agenda_url = postgres_databases("agenda")
    env = _topology_env(base, port, metadata_url, agenda_url, redis_url)
    _write_backup_config(base)
    (base / "logs").mkdir()
    procs = Processes(base / "logs")
    try:
        passwords = _prepare(env, base)
        worker_dirs = _start(procs, env, base)
        server = DistributedAirflow(
            url=f"http://127.0.0.1:{port}",
            passwords=passwords,
            piak_home=Path(env["PIAK_HOME"]),
            env=env,
            log=base / "logs" / "api-server.log",
            agenda_url=agenda_url,
            base=base,
            worker_dirs=worker_dirs,
        )
        _wait_ready(server, procs)
        yield server
    finally:
        procs.stop_all()
