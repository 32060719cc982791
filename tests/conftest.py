"""Shared fixtures: a real PostgreSQL for the stores that run on it in production, a real sshd;
the Oracle Data Pump fixtures live in ``oracle_helpers``."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from oracle_helpers import (  # ruff: ignore[unused-import] - fixtures of the Oracle Data Pump tests
    age_tool,
    oracle_config,
    oracle_connections,
    oracle_server_dir,
    ssh_client,
)

ROOT = Path(__file__).resolve().parents[1]


def _listening(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def _postgres_bindir() -> Path:
    """The newest Debian PostgreSQL's bin directory (``/usr/lib/postgresql/<major>/bin``)."""
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]
    if not found:
        pytest.fail("postgresql is installed but no /usr/lib/postgresql/*/bin/initdb was found")
    return max(found, key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)])


def _private_cluster() -> Iterator[tuple[str, int]]:
    """Start a throwaway PostgreSQL cluster on a loopback port of its own, stop it at the end.

    As root the package is installed when missing and the cluster runs as user postgres (initdb
    refuses root); otherwise it runs as the current user, and a missing package fails the test
    with the exact command to run.
    """
    ensure = subprocess.run(
        [str(ROOT / "scripts/ensure-debian-packages.sh"), "postgresql"],
        capture_output=True,
        text=True,
    )
    if ensure.returncode != 0:
        pytest.fail(
            "No PostgreSQL listens on 127.0.0.1:5432 and none could be installed:\n"
            f"{ensure.stdout}{ensure.stderr}"
        )
    bindir = _postgres_bindir()
    data = Path(tempfile.mkdtemp(prefix="piak-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    pg_ctl = [*prefix, str(bindir / "pg_ctl"), "-D", str(data / "db")]
    initdb = [*prefix, str(bindir / "initdb"), "-D", str(data / "db"), "-A", "trust"]
    try:
        subprocess.run([*initdb, "-U", "postgres"], check=True, capture_output=True, text=True)
        subprocess.run(
            [*pg_ctl, "-w", "-l", str(data / "log"), "-o", f"-k {data} -h 127.0.0.1 -p {port}",
             "start"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    except subprocess.CalledProcessError as exc:
        log = data / "log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        shutil.rmtree(data, ignore_errors=True)
        pytest.fail(f"Could not start a private PostgreSQL: {exc}\n{exc.stderr}\n{tail}")
    try:
        yield "127.0.0.1", port
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], check=False, capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[tuple[str, int]]:
    """The machine's PostgreSQL on 127.0.0.1:5432 when it runs, else a private one."""
    if _listening("127.0.0.1", 5432):
        yield "127.0.0.1", 5432
    else:
        yield from _private_cluster()


@pytest.fixture(scope="session")
def postgres_databases(postgres_server) -> Iterator[Callable[[str], str]]:
    """Factory: ``new(label)`` creates a database of this test session's own and returns its
    SQLAlchemy URL; every database made is dropped at the end of the session."""
    import sqlalchemy as sa

    host, port = postgres_server
    admin = sa.create_engine(
        f"postgresql+psycopg2://postgres@{host}:{port}/postgres", isolation_level="AUTOCOMMIT"
    )
    names: list[str] = []

    def new(label: str = "test") -> str:
        name = f"piak_{label}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        except sa.exc.DBAPIError as exc:
            pytest.fail(
                f"Could not create a test database on PostgreSQL {host}:{port} as user postgres "
                f"without a password (the tests need trust auth on loopback): {exc.orig}"
            )
        names.append(name)
        return f"postgresql+psycopg2://postgres@{host}:{port}/{name}"

    try:
        yield new
    finally:
        from piak.core import agenda

        for name in names:
            for url in [u for u in agenda._engines if u.endswith(f"/{name}")]:
                agenda._engines.pop(url).dispose()
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url(postgres_databases) -> str:
    """SQLAlchemy URL of a database of this test session's own, dropped at the end."""
    return postgres_databases("test")


@pytest.fixture(scope="session")
def sshd(tmp_path_factory) -> Iterator[dict]:
    """A real OpenSSH server on a loopback port of its own, key-only login as the current user.

    Installs Debian's openssh-server when missing (as root); stopped at the end of the session.
    """
    import getpass
    import time

    if not Path("/usr/sbin/sshd").exists():
        subprocess.run(
            [str(ROOT / "scripts/ensure-debian-packages.sh"), "openssh-server"], check=True
        )
    base = tmp_path_factory.mktemp("sshd")
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / "host")], check=True
    )
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / "client")], check=True
    )
    (base / "authorized_keys").write_text((base / "client.pub").read_text())
    (base / "authorized_keys").chmod(0o600)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    Path("/run/sshd").mkdir(exist_ok=True)
    (base / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {base / 'host'}\n"
        f"AuthorizedKeysFile {base / 'authorized_keys'}\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        "PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n"
        f"PidFile {base / 'sshd.pid'}\n"
    )
    proc = subprocess.Popen(
        ["/usr/sbin/sshd", "-D", "-e", "-f", str(base / "sshd_config")],
        stderr=(base / "sshd.log").open("wb"),
    )
    deadline = time.monotonic() + 20
    while not _listening("127.0.0.1", port):
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"sshd did not start: {(base / 'sshd.log').read_text()}")
        time.sleep(0.1)
    try:
        yield {
            "host": "127.0.0.1",
            "port": port,
            "user": getpass.getuser(),
            "key_file": str(base / "client"),
            "host_key": (base / "host.pub").read_text().split()[:2],
        }
    finally:
        proc.terminate()
        proc.wait(10)


def _start_dnsmasq(log: Path) -> tuple[int, subprocess.Popen | None]:
    """dnsmasq on a free loopback port, once it says it started; None if the port was taken."""
    import time

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        ["dnsmasq", "--keep-in-foreground", f"--port={port}", "--listen-address=127.0.0.1",
         "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
         "--pid-file=", "--local=/dinas.local/", "--address=/siak.dinas.local/127.0.0.5",
         "--log-facility=-"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while "started" not in log.read_text():
        if proc.poll() is not None and "Address already in use" in log.read_text():
            return port, None
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"dnsmasq did not start: {log.read_text()}")
        time.sleep(0.1)
    return port, proc


@pytest.fixture(scope="session")
def dns_server() -> Iterator[dict]:
    """A real DNS server (Debian's dnsmasq) on a loopback port of its own, answering for
    ``dinas.local`` only: ``siak.dinas.local`` -> 127.0.0.5, any other name there NXDOMAIN.
    Installs dnsmasq-base when missing (as root); stopped at the end of the session."""
    subprocess.run([str(ROOT / "scripts/ensure-debian-packages.sh"), "dnsmasq-base"], check=True)
    log = Path(tempfile.mkdtemp(prefix="piak-dns-")) / "dnsmasq.log"
    # dnsmasq listens on UDP and TCP: a port free for UDP may be taken for TCP by another test
    # process meanwhile - then it is tried again on another port
    for _attempt in range(5):
        port, proc = _start_dnsmasq(log)
        if proc is not None:
            break
    else:
        pytest.fail(f"dnsmasq did not start: {log.read_text()}")
    try:
        yield {
            "server": "127.0.0.1",
            "port": port,
            "name": "siak.dinas.local",
            "address": "127.0.0.5",
        }
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(log.parent, ignore_errors=True)
