"""Set-up of the production topology, run by compose's init service after ``airflow db migrate``.

Every step is idempotent, so the init service runs it on every ``docker compose up``::

    python -m piak.deploy init --passwords FILE [--demo-residents N]   # all of the below
    python -m piak.deploy agenda-db     # the agenda's PostgreSQL role and database
    python -m piak.deploy users --passwords FILE   # admin + one FAB user per office user

``agenda-db`` reads the agenda's owner, password and database name from ``PIAK_AGENDA_URL`` and
creates them with the metadata database's (superuser) login from
``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``; a changed password in ``.env`` is applied on the next
run. ``users`` needs the FAB auth manager (``piak.auth``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from piak import settings

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _identifier(name: str | None, what: str) -> str:
    if not name or not _IDENTIFIER.match(name):
        raise SystemExit(f"PIAK_AGENDA_URL: {what} {name!r} must be a lower-case SQL identifier")
    return f'"{name}"'


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
        with engine.connect() as conn:
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


def _agenda_db() -> None:
    admin_url = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    if not admin_url:
        raise SystemExit("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN is not set")
    for line in ensure_agenda_database(admin_url, settings.agenda_url()):
        print(f"agenda: {line}")


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
    init = sub.add_parser("init", help="agenda database, users and (optionally) demo database")
    users = sub.add_parser("users", help="admin + one Airflow user per office user")
    sub.add_parser("agenda-db", help="the agenda's PostgreSQL role and database")
    for command in (init, users):
        command.add_argument("--passwords", type=Path, required=True, help="JSON login->password")
    init.add_argument("--demo-residents", type=int, default=0, help="0: no demo SIAK database")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.command in ("init", "agenda-db"):
        _agenda_db()
    if args.command in ("init", "users"):
        _users(args.passwords)
    if args.command == "init":
        _demo_db(args.demo_residents)
    return 0


if __name__ == "__main__":
    sys.exit(main())
