"""Set-up of the production topology: the command of compose's init service.

Every step is idempotent, so the init service runs it on every ``docker compose up``::

    python -m piak.deploy init --passwords FILE [--demo-residents N]   # all of the below
    python -m piak.deploy databases     # the metadata database, the agenda's role and database
    python -m piak.deploy users --passwords FILE   # admin + one FAB user per office user

``init`` runs ``databases``, ``airflow db migrate``, ``users`` and the demo SIAK database, in
that order. The databases are created here, not by the PostgreSQL image's entrypoint, so the
official image and a local one built from Debian's packages behave the same: the image only
makes the superuser of ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``, whose login then creates the
metadata database (through the server's ``postgres`` database) and the agenda's owner, password
and database named in ``PIAK_AGENDA_URL``; a changed password in ``.env`` is applied on the
next run. ``users`` needs the FAB auth manager (``piak.auth``).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from piak import settings

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: How long ``databases`` waits for PostgreSQL to accept the login (it may still be starting).
CONNECT_TIMEOUT = 60


def _identifier(name: str | None, what: str, setting: str = "PIAK_AGENDA_URL") -> str:
    if not name or not _IDENTIFIER.match(name):
        raise SystemExit(f"{setting}: {what} {name!r} must be a lower-case SQL identifier")
    return f'"{name}"'


def _connect_when_ready(engine, timeout: float = CONNECT_TIMEOUT):
    """A connection of ``engine``, retried while the server is still starting."""
    import sqlalchemy as sa

    deadline = time.monotonic() + timeout
    while True:
        try:
            return engine.connect()
        except sa.exc.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def ensure_metadata_database(admin_url: str) -> list[str]:
    """Create the database of ``admin_url`` (Airflow's metadata) when missing, connected to the
    same server's ``postgres`` database with the same (superuser) login; return what was done."""
    import sqlalchemy as sa

    url = sa.make_url(admin_url)
    if not url.drivername.startswith("postgresql"):
        return [f"metadata store is {url.drivername}: nothing to create"]
    database = _identifier(url.database, "database", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    engine = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with _connect_when_ready(engine) as conn:
            exists = "SELECT 1 FROM pg_database WHERE datname = %s"
            if conn.exec_driver_sql(exists, (url.database,)).first():
                return []
            conn.exec_driver_sql(f"CREATE DATABASE {database}")
            return [f"create database {url.database}"]
    finally:
        engine.dispose()


def ensure_agenda_database(admin_url: str, agenda_url: str) -> list[str]:
    """Create the agenda's login role and database when missing; return what was done."""
    import sqlalchemy as sa

    agenda = sa.make_url(agenda_url)
    if not agenda.drivername.startswith("postgresql"):
        return [f"agenda store is {agenda.drivername}: nothing to create"]
    role = _identifier(agenda.username, "user")
    database = _identifier(agenda.database, "database")
    done: list[str] = []
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with _connect_when_ready(engine) as conn:
            exists = "SELECT 1 FROM pg_roles WHERE rolname = %s"
            verb = "ALTER" if conn.exec_driver_sql(exists, (agenda.username,)).first() else "CREATE"
            conn.exec_driver_sql(f"{verb} ROLE {role} LOGIN PASSWORD %s", (agenda.password,))
            done.append(f"{verb.lower()} role {agenda.username}")
            exists = "SELECT 1 FROM pg_database WHERE datname = %s"
            if not conn.exec_driver_sql(exists, (agenda.database,)).first():
                conn.exec_driver_sql(f"CREATE DATABASE {database} OWNER {role}")
                done.append(f"create database {agenda.database}")
    finally:
        engine.dispose()
    return done


def _admin_url() -> str:
    admin_url = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    if not admin_url:
        raise SystemExit("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN is not set")
    return admin_url


def _metadata_db() -> None:
    for line in ensure_metadata_database(_admin_url()):
        print(f"metadata: {line}")


def _agenda_db() -> None:
    for line in ensure_agenda_database(_admin_url(), settings.agenda_url()):
        print(f"agenda: {line}")


def _migrate() -> None:
    from piak import demo

    print("airflow db migrate", flush=True)
    subprocess.run([demo.airflow_bin(), "db", "migrate"], check=True)


def _users(passwords: Path) -> None:
    from piak import auth

    created = auth.sync_users(passwords)
    print(f"users created: {', '.join(created) or 'none'} (passwords in {passwords})")


def _demo_db(residents: int) -> None:
    from piak import demo

    if residents > 0:
        demo.prepare_home(settings.home(), residents=residents)


def main(argv: Iterable[str] | None = None) -> int:
    """Command line; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m piak.deploy")
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="databases, airflow db migrate, users, demo database")
    users = sub.add_parser("users", help="admin + one Airflow user per office user")
    sub.add_parser("databases", help="the metadata database, the agenda's role and database")
    for command in (init, users):
        command.add_argument("--passwords", type=Path, required=True, help="JSON login->password")
    init.add_argument("--demo-residents", type=int, default=0, help="0: no demo SIAK database")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.command in ("init", "databases"):
        _metadata_db()
        _agenda_db()
    if args.command == "init":
        _migrate()
    if args.command in ("init", "users"):
        _users(args.passwords)
    if args.command == "init":
        _demo_db(args.demo_residents)
    return 0


if __name__ == "__main__":
    sys.exit(main())
