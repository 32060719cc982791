"""Compose's init steps (``piak.deploy``) and the FAB auth manager's sign-off check
(``piak.web.auth``); the whole of both runs in ``tests/distributed``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from piak import deploy


@pytest.fixture
def agenda_target(postgres_server):
    """An agenda URL naming a role and database that do not exist yet; both dropped after."""
    host, port = postgres_server
    name = f"piak_agenda_t{uuid.uuid4().hex[:8]}"
    admin_url = f"postgresql+psycopg2://postgres@{host}:{port}/postgres"
    yield admin_url, f"postgresql+psycopg2://{name}:s3cret@{host}:{port}/{name}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{name}"')
    engine.dispose()


def test_agenda_database_is_created_once_and_owned_by_its_role(agenda_target):
    admin_url, agenda_url = agenda_target
    name = sa.make_url(agenda_url).database
    first = deploy.ensure_agenda_database(admin_url, agenda_url)
    again = deploy.ensure_agenda_database(admin_url, agenda_url)
    assert first == [f"create role {name}", f"create database {name}"]
    assert again == [f"alter role {name}"]
    engine = sa.create_engine(agenda_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT current_user, current_database()").one() == (
            name,
            name,
        )
    engine.dispose()


def test_the_metadata_database_is_created_once_through_the_postgres_database(postgres_server):
    host, port = postgres_server
    name = f"piak_meta_t{uuid.uuid4().hex[:8]}"
    url = f"postgresql+psycopg2://postgres@{host}:{port}/{name}"
    try:
        assert deploy.ensure_metadata_database(url) == [f"create database {name}"]
        assert deploy.ensure_metadata_database(url) == []
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT current_database()").scalar() == name
        engine.dispose()
    finally:
        admin = sa.create_engine(
            f"postgresql+psycopg2://postgres@{host}:{port}/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_a_metadata_database_name_must_be_a_plain_identifier():
    with pytest.raises(SystemExit, match="AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: database"):
        deploy.ensure_metadata_database('postgresql://x@h/air";drop')
    assert deploy.ensure_metadata_database("sqlite:////tmp/a.db") == [
        "metadata store is sqlite: nothing to create"
    ]


def test_agenda_names_must_be_plain_identifiers():
    with pytest.raises(SystemExit, match="lower-case SQL identifier"):
        deploy.ensure_agenda_database("postgresql://x@h/db", 'postgresql://a";--@h/agenda')


def test_an_sqlite_agenda_needs_no_database(tmp_path):
    done = deploy.ensure_agenda_database("postgresql://x@h/db", f"sqlite:///{tmp_path}/a.db")
    assert done == ["agenda store is sqlite: nothing to create"]


@dataclass
class FabUser:
    """What the check sees of a FAB user: a numeric id and a login."""

    id: int
    username: str

    def get_id(self) -> str:
        return str(self.id)

    def get_name(self) -> str:
        return self.username


def test_fab_signoffs_are_matched_on_the_login_and_refused_with_the_reason():
    from fastapi import HTTPException

    from piak.web.auth import PiakFabAuthManager

    manager = PiakFabAuthManager()
    assert manager.is_authorized_hitl_task(assigned_users={"kasi"}, user=FabUser(3, "kasi"))
    for assigned, user, reason in [
        ({"kasi"}, FabUser(4, "kabid"), "Anda (kabid) bukan penandatangan langkah ini"),
        ({"3"}, FabUser(3, "kabid"), "bukan penandatangan"),
        ({"kasi", "kabid!pemicu"}, FabUser(4, "kabid"), "Anda memicu run ini"),
    ]:
        with pytest.raises(HTTPException) as refused:
            manager.is_authorized_hitl_task(assigned_users=assigned, user=user)
        assert refused.value.status_code == 403 and reason in refused.value.detail


def test_admin_and_every_office_user_become_fab_users_with_their_office_roles():
    from datetime import date

    from piak.core import access
    from piak.web import auth

    config = access.load()
    wanted = {u["login"]: u["roles"] for u in auth.wanted_users(config, date(2026, 1, 1))}
    assert wanted == {"admin": ["Admin"]} | {
        login: sorted(user.roles) for login, user in config.users.items()
    }


DEMO_ENV = {
    "PIAK_DEPLOYMENT": "production",
    "PIAK_DEMO_RESIDENTS": "100000",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://airflow:airflow@postgres/airflow",
    "PIAK_AGENDA_URL": "postgresql+psycopg2://piak:" + "k" * 24 + "@postgres/piak_agenda",
    "AIRFLOW__API_AUTH__JWT_SECRET": "pendek",
    "AIRFLOW__API__SECRET_KEY": "s" * 32,
}


def test_production_refuses_demo_accounts_the_demo_database_and_default_passwords(tmp_path):
    passwords = tmp_path / "office-passwords.json"
    passwords.write_text('{"admin": "admin", "budi.santoso": "Budi-9f3k-Xq7w"}')
    problems = deploy.production_problems(DEMO_ENV, passwords)
    text = "\n".join(problems)
    for role in ("administrator", "kasi", "kabid", "kadis", "petugas"):
        assert f"akun demo '{role}'" in text, role
    assert "PIAK_DEMO_RESIDENTS=100000: produksi tidak memakai basis data demo" in text
    assert "regions.yaml: wilayah demo (kode 99.xx); buat dari SIAK kantor" in text
    assert "POSTGRES_PASSWORD di .env: kata sandi bawaan" in text
    assert "AIRFLOW_JWT_SECRET di .env" in text
    assert "PIAK_AGENDA_PASSWORD" not in text and "AIRFLOW_API_SECRET_KEY" not in text
    assert f"{passwords}: kata sandi bawaan untuk 'admin'" in text
    assert "untuk 'budi.santoso'" not in text
    assert deploy.production_problems({**DEMO_ENV, "PIAK_DEPLOYMENT": "demo"}, passwords) == []


def test_init_refuses_to_start_production_before_touching_anything(tmp_path):
    """``python -m piak.deploy init`` with the demo's accounts: exit 2 naming them, and no
    database is even connected to (the URL's server does not exist)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = dict(
        os.environ,
        **DEMO_ENV,
        PYTHONPATH=str(root / "include"),
        AIRFLOW_HOME=str(tmp_path / "airflow_home"),
    )
    passwords = tmp_path / "office-passwords.json"
    result = subprocess.run(
        [sys.executable, "-m", "piak.deploy", "init", "--passwords", str(passwords)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "PIAK Ops tidak dijalankan dalam produksi" in result.stderr
    assert "akun demo 'kasi'" in result.stderr
    assert "metadata:" not in result.stdout and "airflow db migrate" not in result.stdout
    assert not passwords.exists()


def test_weak_passwords():
    assert deploy.weak_password("kasi", "kasi") and deploy.weak_password("x", " Admin ")
    assert deploy.weak_password("x", "") and deploy.weak_password("x", None)
    assert not deploy.weak_password("x", "Budi-9f3k-Xq7w")
