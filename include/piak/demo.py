"""The embedded default: a project-local Airflow (``airflow standalone``) with the office's users.

Used by ``make demo`` (``python -m piak demo``) and by the end-to-end tests, so both run the
same configuration: a PostgreSQL metadata database of its own under a project-local
``AIRFLOW_HOME`` (:func:`metadata_database`), the project's DAGs and plugins, no example DAGs,
parallelism suited to 2 cores, the API server on loopback, and one login per office role
(simple auth manager) with generated passwords kept only in ``AIRFLOW_HOME``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Generator
from pathlib import Path

from piak.core import access, files, settings

#: Simple-auth-manager role of the office users: USER may answer sign-offs and trigger DAGs.
OFFICE_ROLE = "user"


def logins(access_path: Path | None = None) -> dict[str, str]:
    """Airflow login -> simple auth manager role: ``admin`` plus every office user."""
    return {access.ADMIN: "admin"} | dict.fromkeys(access.load(access_path).users, OFFICE_ROLE)


@contextlib.contextmanager
def metadata_database(data: Path) -> Generator[str]:
    """The embedded default's Airflow metadata database: a PostgreSQL server of its own
    (``pgserver``: PostgreSQL in a wheel, no system package) with its data in ``data``
    (``AIRFLOW_HOME/postgres`` for ``make demo``), reached only through a Unix socket there - no
    TCP port - and stopped when the block ends. Yields its SQLAlchemy URL. (Run as root, pgserver
    runs PostgreSQL as a system user ``pgserver`` and makes the folders above ``data``
    traversable for it.)

    Not SQLite: with SQLite, two people answering at the same moment, or an answer while the
    scheduler writes, fail with HTTP 500 "database is locked" (measured: 2 of 20 answers given
    as requests opened, with 3 runs at a time on 2 cores).
    """
    import pgserver

    # its info lines (one also from an exit hook, after logging may be shut down) are noise here
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    data.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data, cleanup_mode="stop")
    try:
        if "1" not in server.psql("SELECT 1 FROM pg_database WHERE datname = 'airflow';"):
            server.psql("CREATE DATABASE airflow;")
        yield server.get_uri("airflow").replace("postgresql://", "postgresql+psycopg2://", 1)
    finally:
        server.cleanup()


def airflow_env(
    airflow_home: Path,
    *,
    port: int = 8080,
    piak_home: Path | None = None,
    access_path: Path | None = None,
    parallelism: int = 4,
    metadata_url: str,
) -> dict[str, str]:
    """Environment for every Airflow process of the embedded default (``metadata_url``: see
    :func:`metadata_database`)."""
    root = settings.PROJECT_ROOT
    piak_home = piak_home or settings.home()
    users = ",".join(f"{login}:{role}" for login, role in logins(access_path).items())
    env = dict(os.environ)
    # Every task runs in a process of its own that imports this package and parses its DAG
    # file: compiled once into __pycache__ (git ignores it), not again in each process, even
    # where the environment says not to write bytecode.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(root / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__CORE__DEFAULT_TIMEZONE": settings.TIMEZONE,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": users,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR": "True",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__WEBSERVER__EXPOSE_CONFIG": "False",
            "PIAK_HOME": str(piak_home),
            # The demo SIAK database, reached like production's Oracle: through a Connection.
            "AIRFLOW_CONN_SIAK_DB": json.dumps(
                {"conn_type": "sqlite", "host": str(piak_home / "siak_demo.db")}
            ),
            # The backup keys (piak.engines.encryption): the office's public keys and the drill's
            # private key. The office's own private key - kept offline by the Kabid in an office -
            # is in AIRFLOW_HOME here (piak_backup_office.key).
            **backup_key_connections(airflow_home),
            # The office secret of the per-release pseudonyms, generated once per AIRFLOW_HOME.
            "AIRFLOW_CONN_PIAK_PSEUDONYM": json.dumps(
                {"conn_type": "generic", "password": pseudonym_secret(airflow_home)}
            ),
            "PIAK_AIRFLOW_URL": f"http://127.0.0.1:{port}",
            # standalone starts its components as `airflow ...` from PATH
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(root / "include"), os.environ.get("PYTHONPATH")])
            ),
        }
    )
    if access_path:
        env["PIAK_ACCESS_FILE"] = str(access_path)
    return env


def backup_keys(airflow_home: Path) -> dict[str, str]:
    """The demo's backup key pairs (office and drill), generated on first use, kept owner-only in
    AIRFLOW_HOME: ``{"office": private, "drill": private}``."""
    from piak.core.files import write_secret
    from piak.engines import encryption

    keys = {}
    for name in ("office", "drill"):
        path = airflow_home / f"piak_backup_{name}.key"
        if not path.exists() or not path.stat().st_size:
            write_secret(path, encryption.generate()[0] + "\n")
        keys[name] = path.read_text().strip()
    return keys


def backup_key_connections(airflow_home: Path) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` of the backup keys: both public keys, the drill's private key."""
    from piak.engines import encryption

    keys = backup_keys(airflow_home)
    recipients = [encryption.public_of(keys["office"]), encryption.public_of(keys["drill"])]
    return {
        "AIRFLOW_CONN_PIAK_BACKUP_RECIPIENTS": json.dumps(
            {"conn_type": "generic", "extra": {"recipients": recipients}}
        ),
        "AIRFLOW_CONN_PIAK_BACKUP_IDENTITY": json.dumps(
            {"conn_type": "generic", "password": keys["drill"]}
        ),
    }


def pseudonym_secret(airflow_home: Path) -> str:
    """The demo's pseudonym secret: generated on first use, kept owner-only in AIRFLOW_HOME."""
    path = airflow_home / "piak_pseudonym_secret.generated"
    if not path.exists() or not path.stat().st_size:
        files.write_secret(path, secrets.token_urlsafe(32))
    return path.read_text().strip()


def ensure_passwords(airflow_home: Path, access_path: Path | None = None) -> dict[str, str]:
    """Give every login a generated password (kept, owner-only, in AIRFLOW_HOME) and return them.

    Existing passwords are kept, so a second ``make demo`` prints the same ones.
    """
    path = airflow_home / "simple_auth_manager_passwords.json.generated"
    airflow_home.mkdir(parents=True, exist_ok=True)
    current = json.loads(path.read_text()) if path.exists() and path.stat().st_size else {}
    wanted = {
        login: current.get(login) or secrets.token_urlsafe(12) for login in logins(access_path)
    }
    if wanted != current:
        files.write_secret(path, json.dumps(wanted, indent=2))
    return wanted


def prepare_home(piak_home: Path, *, residents: int = 100_000, seed: int = 1) -> None:
    """The embedded default's state: the demo SIAK database (its access log ends today, so the
    hourly monitoring has something to look at), the access register of its staff, and the demo
    flash disk's mount point (the backup refuses a target whose mount point is missing)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from piak.engines import demo_db

    database = piak_home / "siak_demo.db"
    register = piak_home / "storage" / "access_rights" / "register.json"
    if not database.exists():
        database.parent.mkdir(parents=True, exist_ok=True)
        print(f"Membuat basis data demo SIAK ({residents:,} penduduk)…".replace(",", "."))
        register.parent.mkdir(parents=True, exist_ok=True)
        today = datetime.now(ZoneInfo(settings.TIMEZONE)).date()
        print(
            demo_db.generate(
                database,
                residents=residents,
                seed=seed,
                activity_until=today,
                register=None if register.exists() else register,
            )
        )
    (piak_home / "storage" / "offsite").mkdir(parents=True, exist_ok=True)


def airflow_bin() -> str:
    """The ``airflow`` executable of the running interpreter's environment."""
    candidate = Path(sys.executable).parent / "airflow"
    return str(candidate) if candidate.exists() else (shutil.which("airflow") or "airflow")


def run_standalone(
    *, port: int = 8080, residents: int = 100_000, seed: int = 1, airflow_home: Path | None = None
) -> int:
    """``make demo``: demo database, users, then ``airflow standalone`` until Ctrl-C."""
    airflow_home = airflow_home or settings.PROJECT_ROOT / "airflow_home"
    prepare_home(settings.home(), residents=residents, seed=seed)
    passwords = ensure_passwords(airflow_home)
    print(f"\nAirflow: http://127.0.0.1:{port}  (AIRFLOW_HOME={airflow_home})")
    print("Login per peran (kata sandi dibuat acak, disimpan hanya di AIRFLOW_HOME):")
    for login, password in passwords.items():
        print(f"  {login:<14} {password}")
    print("Tekan Ctrl-C untuk menghentikan semuanya.\n", flush=True)
    # Ctrl-C (SIGINT) and SIGTERM both stop everything, even when started from a shell that
    # ignores SIGINT for background jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    with metadata_database(airflow_home / "postgres") as metadata_url:
        env = airflow_env(airflow_home, port=port, metadata_url=metadata_url)
        proc = subprocess.Popen([airflow_bin(), "standalone"], env=env, start_new_session=True)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            print("\nMenghentikan Airflow…", flush=True)
            stop(proc)
            print("Airflow berhenti.")
            return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def stop(proc: subprocess.Popen, timeout: float = 30) -> int:
    """Stop a process group started with ``start_new_session``: SIGINT, then SIGKILL."""
    if proc.poll() is not None:
        return proc.returncode
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    # Children that outlived the group leader still belong to the group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode if proc.returncode is not None else -9
