"""SSH and SFTP plumbing shared by the Oracle Data Pump export and import.

Everything here talks to the database server through one paramiko ``SSHClient`` (an Airflow SSH
Connection in production, a plain client in tests): owner-only parameter files, running a Data
Pump client with only ``PARFILE=...`` on its command line under a timeout, and streamed, hashed
transfers of dump files and logs.
"""

from __future__ import annotations

import contextlib
import logging
import posixpath
import re
import shlex
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

from piak.core import sealed
from piak.core.errors import PiakError
from piak.engines import datapump
from piak.engines.backup_config import OracleConfig

log = logging.getLogger(__name__)
_PID = re.compile(rb"^PIAK_PID=(\d+)\n", re.M)
_OUTPUT_TAIL = 64 * 1024
MASK = "********"


class RemoteTimeout(PiakError):
    """A command on the server did not finish in time; it has been told to stop."""


def connect(oracle: OracleConfig, ssh_client: Any = None) -> Any:
    """``ssh_client`` itself, or a client of the Airflow SSH Connection ``oracle.ssh_conn_id``."""
    if ssh_client is not None:
        return ssh_client
    from airflow.providers.ssh.hooks.ssh import SSHHook

    return SSHHook(ssh_conn_id=oracle.ssh_conn_id).get_conn()


def login(oracle: OracleConfig) -> tuple[str, str | None]:
    """``(USERID value, password)`` for Data Pump, by ``oracle.auth`` - never SYSDBA:

    * ``connection``: the dedicated backup user of the Airflow Connection ``db_conn_id``
      (``user/"password"@host:port/service``);
    * ``wallet``: ``/@alias``, the secure external password store on the database server;
    * ``os``: ``/``, an OS-authenticated account of the server's OS user.

    The password is returned only so it can be kept out of every text we show."""
    if oracle.auth == "wallet":
        return f"/@{oracle.wallet_alias}", None
    if oracle.auth == "os":
        return "/", None
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(oracle.db_conn_id)
    service = conn.schema or (conn.extra_dejson or {}).get("service_name") or ""
    connect = f"{conn.host}:{conn.port or 1521}/{service}" if conn.host else service
    where = f"Connection {oracle.db_conn_id}"
    return datapump.userid(conn.login, conn.password, connect, where=where), conn.password


def scrub(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` masked (a last guard: Data Pump never prints the password)."""
    return text.replace(secret, MASK) if secret else text


@contextlib.contextmanager
def parameter_file(sftp: Any, path: str, text: str) -> Generator[str, None, None]:
    """Write ``text`` to ``path`` on the server, owner-only before any byte is written; remove it
    when the block ends, whatever happens."""
    try:
        with sftp.open(path, "w") as handle:
            handle.chmod(0o600)
            handle.write(text)
        yield path
    finally:
        quiet_remove(sftp, path)


def run_tool(
    ssh_client: Any, oracle: OracleConfig, executable: str, parfile: str
) -> tuple[int, str]:
    """Run ``executable PARFILE=<parfile>`` in ``oracle.server_dir``; ``(exit code, output)``."""
    command = (
        f"cd {shlex.quote(oracle.server_dir)} && "
        f"exec {shlex.quote(executable)} PARFILE={shlex.quote(parfile)}"
    )
    what = posixpath.basename(executable)
    return execute(ssh_client, command, timeout=oracle.timeout.total_seconds(), what=what)


def execute(ssh_client: Any, command: str, *, timeout: float, what: str) -> tuple[int, str]:
    """Run ``command`` on the server; ``(exit status, the tail of stdout+stderr)``.

    The output is read while the command runs (a full channel would stall it). After ``timeout``
    seconds the process is sent SIGTERM and :class:`RemoteTimeout` is raised. An exit without a
    status (killed by a signal) is -1.
    """
    log.info("Menjalankan di server: %s", command)
    channel = ssh_client.get_transport().open_session()
    channel.set_combine_stderr(True)
    channel.exec_command(f"echo PIAK_PID=$$ && {command}")
    output, deadline, pause = b"", time.monotonic() + timeout, 0.01
    try:
        while not channel.exit_status_ready():
            if channel.recv_ready():
                output = _keep(output, channel.recv(65536))
                continue
            if time.monotonic() > deadline:
                _terminate(ssh_client, output)
                raise RemoteTimeout(f"{what} tidak selesai dalam {_duration(timeout)}; dihentikan")
            time.sleep(pause)
            pause = min(
                pause * 2, 0.5
            )  # quick commands answer quickly, long ones are not polled hard
        channel.settimeout(10)
        with contextlib.suppress(TimeoutError):
            while chunk := channel.recv(65536):
                output = _keep(output, chunk)
        text = _PID.sub(b"", output, count=1).decode(errors="replace")
        return channel.recv_exit_status(), text
    finally:
        channel.close()


def _keep(output: bytes, chunk: bytes) -> bytes:
    """``output + chunk``, cut to the pid line and the last ``_OUTPUT_TAIL`` bytes."""
    output += chunk
    head = _PID.match(output)
    if len(output) > 2 * _OUTPUT_TAIL and head:
        output = head.group(0) + output[-_OUTPUT_TAIL:]
    return output


def _terminate(ssh_client: Any, output: bytes) -> None:
    found = _PID.match(output)
    if not found:
        return
    with contextlib.suppress(Exception):
        _, stdout, _ = ssh_client.exec_command(f"kill -TERM {int(found.group(1))}")
        stdout.channel.recv_exit_status()


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{rest:02d}"


def read_text(sftp: Any, path: str) -> str | None:
    """The text of a file on the server, or None when it does not exist."""
    try:
        with sftp.open(path, "r") as handle:
            return handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None


def download(sftp: Any, remote: str, local: Path) -> str:
    """Stream a file from the server into ``local``; its SHA-256, computed on the way."""
    try:
        source = sftp.open(remote, "rb")
    except FileNotFoundError:
        raise PiakError(f"berkas dump {posixpath.basename(remote)} tidak ada di server") from None
    with source, local.open("wb") as target:
        source.prefetch()
        return sealed.hash_stream(source, target)[1]


def upload(sftp: Any, local: Path, remote: str) -> str:
    """Stream ``local`` to ``remote`` on the server; its SHA-256, computed on the way."""
    with local.open("rb") as source, sftp.open(remote, "wb") as target:
        target.set_pipelined(True)
        return sealed.hash_stream(source, target)[1]


def remote_sha256(ssh_client: Any, path: str, *, timeout: float) -> str | None:
    """SHA-256 of a file as the server reads it back (``sha256sum``), None when it is missing."""
    code, output = execute(
        ssh_client, f"sha256sum -- {shlex.quote(path)}", timeout=timeout, what="sha256sum"
    )
    found = re.match(r"^\\?([0-9a-f]{64})\s", output.strip() + " ")
    return found.group(1) if code == 0 and found else None


def quiet_remove(sftp: Any, path: str) -> None:
    """Remove a file on the server; one that is already gone is fine."""
    with contextlib.suppress(FileNotFoundError):
        sftp.remove(path)
