"""Shared by the Oracle Data Pump tests (export and import): a server directory, the backup
configuration pointing at the TEST STAND-INs in tests/oracle_standin, the Airflow Connections as
environment variables, and an SSH client of the real loopback sshd (the ``sshd`` fixture).

The fixtures are registered in ``tests/conftest.py``; tests import the constants from here."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import paramiko
import pytest

from piak import demo
from piak.engines import backup_config

ROOT = Path(__file__).resolve().parents[1]

STANDINS = Path(__file__).resolve().parent / "oracle_standin"
EXPDP = STANDINS / "expdp"
IMPDP = STANDINS / "impdp"
PASSWORD = "Rahasia-Sekali-123"


def scenario(server_dir: Path, name: str) -> None:
    """What the stand-ins do next (see their docstrings)."""
    (server_dir / ".standin_scenario").write_text(name)


def with_oracle(
    config: backup_config.BackupConfig, **changes: object
) -> backup_config.BackupConfig:
    """``config`` with some ``oracle:`` settings changed, unchecked: the modules' own guards are
    what these tests exercise."""
    return config.model_copy(update={"oracle": config.oracle.model_copy(update=changes)})


@pytest.fixture(scope="session")
def age_tool() -> str:
    """The age tool the "database server" (loopback) encrypts dump files with (Debian's)."""
    import shutil
    import subprocess

    if not shutil.which("age"):
        subprocess.run([str(ROOT / "scripts/ensure-debian-packages.sh"), "age"], check=True)
    return shutil.which("age")


@pytest.fixture
def oracle_server_dir(tmp_path) -> Path:
    """The directory object's path on the "database server" (loopback)."""
    folder = tmp_path / "dpdump"
    folder.mkdir()
    return folder


@pytest.fixture
def oracle_config(tmp_path, oracle_server_dir) -> backup_config.BackupConfig:
    return backup_config.BackupConfig(
        label="siak",
        schedule=None,
        engine="oracle",
        backup_dir=tmp_path / "backups",
        oracle=backup_config.OracleConfig(
            ssh_conn_id="siak_server",
            db_conn_id="siak_oracle",
            directory="DATA_PUMP_DIR",
            server_dir=str(oracle_server_dir),
            schemas=("SIAKOFF",),
            full=False,
            filesize="4G",
            checksum=False,
            timeout=timedelta(seconds=20),
            expdp=str(EXPDP),
            impdp=str(IMPDP),
            scratch_schema="SIAKOFF_SCRATCH",
        ),
    )


@pytest.fixture
def oracle_connections(monkeypatch, sshd, tmp_path, age_tool):
    """Airflow Connections as environment variables, as a deployment would set them."""
    key = Path(sshd["key_file"]).read_text()
    ssh = {
        "conn_type": "ssh",
        "host": sshd["host"],
        "port": sshd["port"],
        "login": sshd["user"],
        "extra": {"private_key": key, "host_key": " ".join(sshd["host_key"])},
    }
    oracle = {
        "conn_type": "oracle",
        "host": "db.siak.local",
        "port": 1521,
        "login": "BACKUP_OP",
        "password": PASSWORD,
        "schema": "SIAK",
    }
    monkeypatch.setenv("AIRFLOW_CONN_SIAK_SERVER", json.dumps(ssh))
    monkeypatch.setenv("AIRFLOW_CONN_SIAK_ORACLE", json.dumps(oracle))
    for name, value in demo.backup_key_connections(tmp_path / "keys").items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def ssh_client(sshd, oracle_connections):
    """A paramiko client of the loopback sshd (the Connections are set too)."""
    ssh = paramiko.SSHClient()
    ssh.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    ssh.connect(
        sshd["host"], port=sshd["port"], username=sshd["user"], key_filename=sshd["key_file"]
    )
    yield ssh
    ssh.close()
