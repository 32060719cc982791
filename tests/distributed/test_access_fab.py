"""Who may do what on the production topology (the FAB auth manager ``piak.web.auth``, roles and
users made by ``python -m piak.deploy access`` from the access file, DAG permissions from the
``access_control`` every DAG carries): the FAB roles and DAG permissions are the access file's;
for every DAG a user without a triggering role gets HTTP 403 and a holder's run passes its first
task; office users see only their DAGs, no Admin menu, cannot pause or delete; a DAG's Trigger
button is disabled for those who may see but not trigger it; production's check finds the demo
accounts and a default password; an office user the file no longer names is deactivated.
(Sign-offs refused by separation of duties on FAB: test_celery_backup.)"""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest
from access_helpers import OUTSIDER, TRIGGER_CONF, expected_fab_state, fab_state, holder
from e2e.conftest import DAG_IDS

from piak.core import access

pytestmark = [pytest.mark.distributed, pytest.mark.slow]

FIRST = "check_trigger_rights"


def config(airflow) -> access.AccessConfig:
    return access.load(airflow.env["PIAK_ACCESS_FILE"])


def test_fab_roles_users_and_dag_permissions_are_the_access_file(distributed_airflow):
    airflow = distributed_airflow
    expected = expected_fab_state(config(airflow))
    found = fab_state(airflow)
    assert {name: found.get(name) for name in expected} == expected
    response = airflow.request("admin", "GET", "/auth/fab/v1/users", params={"limit": 100})
    response.raise_for_status()
    users = {u["username"]: sorted(r["name"] for r in u["roles"]) for u in response.json()["users"]}
    today = date.today()
    assert users == {"admin": ["Admin"]} | {
        login: config(airflow).fab_user_roles(login, today) for login in config(airflow).users
    }
    assert users["wakil"] == ["administrator", "pengganti-kabid"], "the Kabid's deputy"


def test_every_dag_refuses_an_outsider_with_403_and_a_holder_passes_its_first_task(
    distributed_airflow,
):
    airflow = distributed_airflow
    assert set(TRIGGER_CONF) == set(DAG_IDS)
    started = {}
    for dag_id, conf in TRIGGER_CONF.items():
        path = f"/dags/{dag_id}/dagRuns"
        body = {"logical_date": None, "conf": conf}
        refused = airflow.api(OUTSIDER, "POST", path, json=body)
        assert refused.status_code == 403, (dag_id, refused.text)
        started[dag_id] = airflow.trigger(dag_id, conf, user=holder(dag_id))
    try:
        for dag_id, run_id in started.items():
            airflow.wait_task(dag_id, run_id, FIRST, {"success"}, timeout=240)
            runs = airflow.api("admin", "GET", f"/dags/{dag_id}/dagRuns").json()["dag_runs"]
            assert {r["dag_run_id"] for r in runs} >= {run_id}
            assert all(r["triggering_user_name"] != OUTSIDER for r in runs), "nothing for him"
    finally:  # what comes after the first task is other tests' business
        for dag_id, run_id in started.items():
            path = f"/dags/{dag_id}/dagRuns/{run_id}"
            airflow.api("admin", "PATCH", path, json={"state": "failed"})


def test_office_users_see_their_dags_only_and_no_admin_controls(distributed_airflow):
    airflow = distributed_airflow
    seen = airflow.api("kasi", "GET", "/dags", params={"limit": 100}).json()["dags"]
    assert {d["dag_id"] for d in seen} == {
        d for d in DAG_IDS if config(airflow).may_view("kasi", d)
    }
    recovery = next(d for d in seen if d["dag_id"] == "database_recovery")
    assert "manual" not in recovery["allowed_run_types"], "Trigger disabled: kasi may not"
    mine = airflow.api("administrator", "GET", "/dags/database_recovery").json()
    assert mine["allowed_run_types"] is None or "manual" in mine["allowed_run_types"]
    assert airflow.api(OUTSIDER, "GET", "/dags/database_recovery").status_code == 403
    menus = airflow.request("kasi", "GET", "/ui/auth/menus").json()["authorized_menu_items"]
    assert set(menus) <= {"Dags", "Docs", "Required Actions"} and "Dags" in menus
    for method, path, body in [
        ("GET", "/connections", None),
        ("GET", "/variables", None),
        ("PATCH", "/dags/backup_database", {"is_paused": True}),
        ("DELETE", "/dags/backup_freshness", None),
    ]:
        for user in ("kasi", "administrator"):
            response = airflow.api(user, method, path, json=body)
            assert response.status_code == 403, (user, method, path, response.text)
    assert airflow.api("admin", "GET", "/dags/backup_database").json()["is_paused"] is False


def test_production_refuses_the_demo_accounts_and_a_default_password(distributed_airflow):
    airflow = distributed_airflow
    created = airflow.request(
        "admin",
        "POST",
        "/auth/fab/v1/users",
        json={
            "username": "uji.sandi",
            "first_name": "Uji",
            "last_name": "Sandi",
            "email": "uji.sandi@piak.invalid",
            "password": "password",
            "roles": [{"name": "petugas"}],
        },
    )
    assert created.status_code == 200, created.text
    passwords = str(airflow.base / "airflow_home" / "passwords.json")
    try:
        check = subprocess.run(
            [sys.executable, "-m", "piak.deploy", "check", "--logins", "--passwords", passwords],
            env={**airflow.env, "PIAK_DEPLOYMENT": "production", "PIAK_DEMO_RESIDENTS": "0"},
            capture_output=True, text=True, timeout=300, cwd=airflow.base,
        )  # fmt: skip
        # an office user the access file does not name is deactivated by the next sync
        sync = subprocess.run(
            [sys.executable, "-m", "piak.deploy", "access", "--passwords", passwords],
            env=airflow.env, capture_output=True, text=True, timeout=300, cwd=airflow.base,
        )  # fmt: skip
        user = airflow.request("admin", "GET", "/auth/fab/v1/users/uji.sandi").json()
    finally:
        airflow.request("admin", "DELETE", "/auth/fab/v1/users/uji.sandi")
    assert check.returncode == 2, check.stdout + check.stderr
    assert "akun demo 'kasi'" in check.stderr
    assert "pengguna 'uji.sandi' memakai kata sandi bawaan" in check.stderr
    assert "pengguna 'kasi' memakai" not in check.stderr, "generated passwords are not defaults"
    assert sync.returncode == 0, sync.stdout + sync.stderr
    assert "deactivated: uji.sandi" in sync.stdout and "created: none" in sync.stdout
    assert user["active"] is False
