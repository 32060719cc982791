"""Shared fixtures: a real PostgreSQL for the stores that run on it in production."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _listening(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def _private_cluster() -> Iterator[tuple[str, int]]:
    """Start a throwaway PostgreSQL cluster on a loopback port of its own (as user postgres)."""
    if os.geteuid() != 0:
        pytest.fail(
            "No PostgreSQL on 127.0.0.1:5432 and not root to install one: "
            "sudo apt-get install -y postgresql, or start PostgreSQL on 127.0.0.1:5432"
        )
    subprocess.run([str(ROOT / "scripts/ensure-debian-packages.sh"), "postgresql"], check=True)
    bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    data = Path(tempfile.mkdtemp(prefix="piak-pg-"))
    shutil.chown(data, "postgres")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    def as_postgres(*args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True)

    as_postgres(str(bindir / "initdb"), "-D", str(data / "db"), "-A", "trust", "-U", "postgres")
    as_postgres(
        str(bindir / "pg_ctl"), "-D", str(data / "db"), "-w", "-l", str(data / "log"),
        "-o", f"-k {data} -h 127.0.0.1 -p {port}", "start",
    )  # fmt: skip
    try:
        yield "127.0.0.1", port
    finally:
        as_postgres(str(bindir / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop")
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[tuple[str, int]]:
    """The machine's PostgreSQL on 127.0.0.1:5432 when it runs, else a private one."""
    if _listening("127.0.0.1", 5432):
        yield "127.0.0.1", 5432
    else:
        yield from _private_cluster()


@pytest.fixture(scope="session")
def postgres_url(postgres_server) -> Iterator[str]:
    """A database of this test session's own, dropped at the end."""
    import sqlalchemy as sa

    host, port = postgres_server
    name = f"piak_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(
        f"postgresql+psycopg2://postgres@{host}:{port}/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://postgres@{host}:{port}/{name}"
    finally:
        from piak import agenda

        for url, engine in list(agenda._engines.items()):
            if name in url:
                engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
