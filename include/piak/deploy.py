"""Set-up of the production topology: the command of compose's init service.

Every step is idempotent, so the init service runs it on every ``docker compose up``::

    python -m piak.deploy init --passwords FILE [--demo-residents N]   # all of the below
    python -m piak.deploy check --passwords FILE   # production refuses demo accounts etc.
    python -m piak.deploy databases     # the metadata database, the agenda's role and database
    python -m piak.deploy access --passwords FILE  # FAB roles and users from config/access.yaml

``init`` runs ``check`` (``PIAK_DEPLOYMENT=production``, the default: before anything is
touched), ``databases``, ``airflow db migrate``, ``access``, the check of every login's password
against the well-known defaults, and the demo SIAK database, in that order; a refusal exits 2
naming every problem, so no Airflow component starts. ``PIAK_DEPLOYMENT=demo`` (the tests'
stack, a trial) skips the checks. The databases are created here, not by the PostgreSQL image's
entrypoint, so the official image and a local one built from Debian's packages behave the same:
the image only makes the superuser of ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``, whose login then
creates the metadata database (through the server's ``postgres`` database) and the agenda's
owner, password and database named in ``PIAK_AGENDA_URL``; a changed password in ``.env`` is
applied on the next run. ``access`` needs the FAB auth manager (``piak.web.auth``).
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

from piak.core import settings

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


def _access(passwords: Path) -> None:
    from piak.web import auth

    done = auth.sync_access(passwords)
    for what, names in done.items():
        print(f"{what}: {', '.join(names) or 'none'}")
    print(f"(passwords of new users in {passwords})")


#: Passwords nobody may keep in production (besides the login itself).
DEFAULT_PASSWORDS = ("admin", "airflow", "password", "changeme", "12345678", "rahasia")
#: Secrets of the stack, as the containers see them: (what to call it, variable, how to read it).
_SECRETS = (
    ("POSTGRES_PASSWORD", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "url"),
    ("PIAK_AGENDA_PASSWORD", "PIAK_AGENDA_URL", "url"),
    ("AIRFLOW_JWT_SECRET", "AIRFLOW__API_AUTH__JWT_SECRET", "text"),
    ("AIRFLOW_API_SECRET_KEY", "AIRFLOW__API__SECRET_KEY", "text"),
)
MIN_SECRET = 16


def weak_password(login: str, password: str | None) -> bool:
    """Empty, the login itself, or one of :data:`DEFAULT_PASSWORDS`."""
    text = (password or "").strip().lower()
    return not text or text in (*DEFAULT_PASSWORDS, login.lower())


def _demo_regions() -> list[str]:
    """The demo's regions (province code 99, which Indonesia does not have) in the form."""
    from piak.engines.provision import regions

    office = regions.load()
    if office and any(code.startswith("99.") for code in office.kecamatan):
        return [
            f"{regions.regions_file()}: wilayah demo (kode 99.xx); buat dari SIAK kantor dengan "
            "python -m piak regions --conn siak_db --write"
        ]
    return []


def production_problems(env: dict[str, str], passwords: Path | None = None) -> list[str]:
    """Why production must not start (Bahasa Indonesia): demo accounts in
    ``config/access.yaml``, the demo database, default or short secrets, default passwords in
    the passwords file. Empty outside production (``PIAK_DEPLOYMENT=demo``)."""
    import sqlalchemy as sa

    from piak.core import access
    from piak.core.roles import ROLES

    if env.get("PIAK_DEPLOYMENT", "production") != "production":
        return []
    config = access.load()
    problems = [
        f"akun demo '{login}' di {config.source}: dalam produksi setiap pengguna adalah orang "
        "(mis. budi.santoso), bukan nama peran"
        for login in config.users
        if login in ROLES
    ]
    problems += _demo_regions()
    residents = env.get("PIAK_DEMO_RESIDENTS", "0").strip() or "0"
    if residents != "0":
        problems.append(f"PIAK_DEMO_RESIDENTS={residents}: produksi tidak memakai basis data demo")
    for name, variable, kind in _SECRETS:
        value = env.get(variable)
        if value is None:
            continue
        secret = sa.make_url(value).password if kind == "url" else value
        if weak_password("", secret) or len(secret or "") < MIN_SECRET:
            problems.append(
                f"{name} di .env: kata sandi bawaan atau kurang dari {MIN_SECRET} tanda"
            )
    if passwords is not None:
        from piak.web import auth

        problems += [
            f"{passwords}: kata sandi bawaan untuk '{login}'"
            for login, password in auth.read_passwords(passwords).items()
            if weak_password(login, password)
        ]
    return problems


def default_password_logins() -> list[str]:
    """Active Airflow users whose password is their login or a well-known default (FAB)."""
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
    from werkzeug.security import check_password_hash

    found = []
    with get_application_builder() as appbuilder:
        for user in appbuilder.sm.get_all_users():
            if user.active and any(
                check_password_hash(user.password, candidate)
                for candidate in (user.username, *DEFAULT_PASSWORDS)
            ):
                found.append(user.username)
    return found


def _refuse(problems: list[str]) -> None:
    if problems:
        lines = "\n".join(f"- {p}" for p in problems)
        print(
            f"PIAK Ops tidak dijalankan dalam produksi (PIAK_DEPLOYMENT=production):\n{lines}\n"
            "Perbaiki lalu jalankan lagi `docker compose up` (untuk mencoba dengan akun demo: "
            "PIAK_DEPLOYMENT=demo).",
            file=sys.stderr,
        )
        raise SystemExit(2)


def _check(passwords: Path, *, logins: bool) -> None:
    env = dict(os.environ)
    problems = production_problems(env, passwords)
    if logins and env.get("PIAK_DEPLOYMENT", "production") == "production":
        problems += [
            f"pengguna '{login}' memakai kata sandi bawaan: ganti di Your Profile"
            for login in default_password_logins()
        ]
    _refuse(problems)


def _demo_db(residents: int) -> None:
    from piak import demo

    if residents > 0:
        demo.prepare_home(settings.home(), residents=residents)


def main(argv: Iterable[str] | None = None) -> int:
    """Command line; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m piak.deploy")
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="check, databases, airflow db migrate, access, demo db")
    check = sub.add_parser("check", help="refuse demo accounts and default passwords (production)")
    access_cmd = sub.add_parser("access", help="FAB roles and users from config/access.yaml")
    sub.add_parser("databases", help="the metadata database, the agenda's role and database")
    for command in (init, check, access_cmd):
        command.add_argument("--passwords", type=Path, required=True, help="JSON login->password")
    check.add_argument(
        "--logins", action="store_true", help="also every user's password (FAB database)"
    )
    init.add_argument("--demo-residents", type=int, default=0, help="0: no demo SIAK database")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.command == "init":
        _check(args.passwords, logins=False)
    if args.command == "check":
        _check(args.passwords, logins=args.logins)
    if args.command in ("init", "databases"):
        _metadata_db()
        _agenda_db()
    if args.command == "init":
        _migrate()
    if args.command in ("init", "access"):
        _access(args.passwords)
    if args.command == "init":
        _check(args.passwords, logins=True)
        _demo_db(args.demo_residents)
    return 0


if __name__ == "__main__":
    sys.exit(main())
