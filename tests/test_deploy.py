"""Compose's init steps (``piak.deploy``) and the FAB auth manager's sign-off check
(``piak.auth``); the whole of both runs in ``tests/distributed``."""

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


def test_fab_signoffs_are_matched_on_the_login_not_the_numeric_id():
    from piak.auth import PiakFabAuthManager

    manager = PiakFabAuthManager()
    assert manager.is_authorized_hitl_task(assigned_users={"kasi"}, user=FabUser(3, "kasi"))
    assert not manager.is_authorized_hitl_task(assigned_users={"kasi"}, user=FabUser(4, "kabid"))
    assert not manager.is_authorized_hitl_task(assigned_users={"3"}, user=FabUser(3, "kabid"))


def test_admin_and_every_office_user_become_fab_users():
    from piak import auth, roles

    wanted = {u["login"]: u["role"] for u in auth.wanted_users()}
    office = {u["id"] for users in roles.load_roles().values() for u in users}
    assert wanted == {"admin": "Admin"} | dict.fromkeys(office, "User")
