"""Real logins for the production topology: the FAB auth manager, roles and users from
``config/access.yaml``.

The compose stack (and ``tests/distributed``) runs Airflow with
``AIRFLOW__CORE__AUTH_MANAGER=piak.web.auth.PiakFabAuthManager``. What it changes in the FAB auth
manager:

* a sign-off is matched on the user's *login* (``config/access.yaml`` names logins, FAB's user
  id is a database number), by the office's rule (:func:`piak.core.approvers.refusal`); a refusal is
  an HTTP 403 saying why (triggered the run, gave the previous sign-off, not yet escalated...);
* starting a run takes the right to create runs of that DAG and to see it, and answering a
  sign-off the right to answer sign-offs (``HITL Detail``) and to see the DAG - neither needs
  the right to *edit* the DAG (pause it), which FAB would otherwise require: office users get
  no DAG edit, no DAG delete, no Admin menu.

The embedded default keeps the simple auth manager (``airflow standalone`` forces it;
``include/airflow_local_settings.py`` gives it the same sign-off rule).

:func:`sync_access` (``python -m piak.deploy access``, run by compose's init service) makes the
FAB roles - one per office role (:data:`OFFICE_PERMISSIONS` plus, per DAG, the
``access_control`` that :mod:`piak.workflow.dagkit` puts on every DAG) and one per deputy of an
office role - and the users: ``admin`` (role Admin) and every office user with exactly the roles the
file gives them; office users no longer in the file are deactivated. New users get the password
found in the passwords file or a generated one written back to it (owner-only). Passwords of
existing users are left alone: people change theirs in the UI (*Your Profile*). Only Airflow
processes import this module.
"""

from __future__ import annotations

import json
import secrets
from datetime import date, datetime
from pathlib import Path
from typing import Any

from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager

from piak.core import access, files
from piak.core.roles import ROLES

FAB_ADMIN_ROLE = "Admin"
#: What every office role may do outside the DAG-level permissions: see the runs, task
#: instances, logs and XComs of the DAGs it may see, answer sign-offs (only those assigned to
#: it: piak.core.approvers), its own profile and password.
OFFICE_PERMISSIONS: tuple[tuple[str, str], ...] = (
    *(
        ("can_read", resource)
        for resource in (
            "DAG Runs",
            "Task Instances",
            "Task Logs",
            "XComs",
            "HITL Detail",
            "DAG Code",
            "DAG Dependencies",
            "DAG Versions",
            "DAG Warnings",
            "Website",
            "My Password",
            "My Profile",
        )
    ),
    ("can_edit", "HITL Detail"),
    ("can_edit", "My Password"),
    ("can_edit", "My Profile"),
    *(("menu_access", menu) for menu in ("DAGs", "HITL Detail", "Docs", "Documentation")),
)
#: A deputy role reaches the UI; what it sees comes from the DAGs' access_control (FAB gives
#: every custom role the first one at start-up anyway).
DEPUTY_PERMISSIONS: tuple[tuple[str, str], ...] = (("can_read", "Website"),)
_DAG_LEVEL = ("DAG:", "DAG Run:")


class PiakFabAuthManager(FabAuthManager):
    """The FAB auth manager with the office's rules (see the module docstring)."""

    def is_authorized_hitl_task(self, *, assigned_users: set[str], user: Any) -> bool:
        """Only the users assigned (by login) may answer, each when the office's rule says so;
        anyone else gets HTTP 403 with the reason (:func:`piak.core.approvers.refusal`)."""
        from fastapi import HTTPException

        from piak.core.approvers import refusal

        reason = refusal(assigned_users, user.get_name())
        if reason:
            raise HTTPException(status_code=403, detail=reason)
        return True

    def is_authorized_dag(
        self,
        *,
        method: Any,
        user: Any,
        access_entity: Any = None,
        details: Any = None,
    ) -> bool:
        from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity

        if not (details and details.id):
            return super().is_authorized_dag(
                method=method, user=user, access_entity=access_entity, details=details
            )
        if (method, access_entity) == ("POST", DagAccessEntity.RUN):
            may = self._is_authorized(method="POST", resource_type="DAG Runs", user=user)
            may = may or self._is_authorized(
                method="POST", resource_type=f"DAG Run:{details.id}", user=user
            )
            return may and self._is_authorized_dag(method="GET", details=details, user=user)
        if (method, access_entity) == ("PUT", DagAccessEntity.HITL_DETAIL):
            may = self._is_authorized(method="PUT", resource_type="HITL Detail", user=user)
            return may and self._is_authorized_dag(method="GET", details=details, user=user)
        return super().is_authorized_dag(
            method=method, user=user, access_entity=access_entity, details=details
        )


def wanted_users(config: access.AccessConfig, today: date) -> list[dict[str, Any]]:
    """``admin`` and every office user: login, display name and FAB roles."""
    users = [{"login": access.ADMIN, "name": "Administrator Airflow", "roles": [FAB_ADMIN_ROLE]}]
    users += [
        {"login": login, "name": user.name, "roles": config.fab_user_roles(login, today)}
        for login, user in config.users.items()
    ]
    return users


def read_passwords(path: Path) -> dict[str, str]:
    """Login -> password kept in ``path`` (empty when the file is missing or empty)."""
    if not path.exists() or not path.stat().st_size:
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise SystemExit(f"{path}: expected a JSON object login -> password")
    return {str(k): str(v) for k, v in data.items()}


def write_passwords(path: Path, passwords: dict[str, str]) -> None:
    """Write the passwords owner-only from the first byte, atomically."""
    files.write_secret(path, json.dumps(passwords, indent=2) + "\n")


def sync_access(
    passwords_path: Path, access_path: Path | None = None, today: date | None = None
) -> dict[str, list[str]]:
    """FAB roles and users from ``config/access.yaml`` (see the module docstring); returns what
    changed: ``roles`` made, users ``created``, ``updated``, ``deactivated``."""
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    config = access.load(access_path)
    today = today or datetime.now(access.WIB).date()
    passwords = read_passwords(passwords_path)
    done: dict[str, list[str]] = {"roles": [], "created": [], "updated": [], "deactivated": []}
    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        for name in access.fab_roles():
            role = sm.find_role(name)
            if role is None:
                role = sm.add_role(name)
                done["roles"].append(name)
            _set_global_permissions(
                sm, role, OFFICE_PERMISSIONS if name in ROLES else DEPUTY_PERMISSIONS
            )
        wanted = wanted_users(config, today)
        for user in wanted:
            existing = sm.find_user(username=user["login"])
            if existing is None:
                password = passwords.get(user["login"]) or secrets.token_urlsafe(12)
                _add_user(sm, user, password)
                passwords[user["login"]] = password
                done["created"].append(user["login"])
            elif _update_user(sm, existing, user):
                done["updated"].append(user["login"])
        done["deactivated"] = _deactivate_others(sm, {u["login"] for u in wanted})
    if done["created"]:
        write_passwords(passwords_path, passwords)
    return done


def _set_global_permissions(sm: Any, role: Any, wanted: tuple[tuple[str, str], ...]) -> None:
    """Exactly ``wanted`` outside the DAG-level permissions (those come from access_control)."""
    current = {
        (p.action.name, p.resource.name): p
        for p in role.permissions
        if not p.resource.name.startswith(_DAG_LEVEL)
    }
    for key in set(wanted) - set(current):
        permission = sm.get_permission(*key) or sm.create_permission(*key)
        sm.add_permission_to_role(role, permission)
    for key in set(current) - set(wanted):
        sm.remove_permission_from_role(role, current[key])


def _fab_roles(sm: Any, names: list[str]) -> list[Any]:
    found = [sm.find_role(name) for name in names]
    missing = [name for name, role in zip(names, found, strict=True) if role is None]
    if missing:
        raise SystemExit(f"FAB role(s) {missing} missing: run `airflow db migrate` first")
    return found


def _names(name: str) -> tuple[str, str]:
    first, _, last = name.partition(" ")
    return first, last or "-"


def _add_user(sm: Any, user: dict[str, Any], password: str) -> None:
    first, last = _names(user["name"])
    added = sm.add_user(
        username=user["login"],
        first_name=first,
        last_name=last,
        email=f"{user['login']}@piak.invalid",
        role=_fab_roles(sm, user["roles"]),
        password=password,
    )
    if not added:
        raise SystemExit(f"Could not create the Airflow user {user['login']!r}")


def _update_user(sm: Any, existing: Any, user: dict[str, Any]) -> bool:
    """Roles, name and active flag as the file says; True when something changed."""
    first, last = _names(user["name"])
    same = (
        sorted(r.name for r in existing.roles) == sorted(user["roles"])
        and (existing.first_name, existing.last_name) == (first, last)
        and existing.active
    )
    if same:
        return False
    existing.roles = _fab_roles(sm, user["roles"])
    existing.first_name, existing.last_name, existing.active = first, last, True
    if not sm.update_user(existing):
        raise SystemExit(f"Could not update the Airflow user {user['login']!r}")
    return True


def _deactivate_others(sm: Any, wanted: set[str]) -> list[str]:
    """Office users the file no longer names can no longer log in (their history stays)."""
    office = set(access.fab_roles())
    gone = []
    for user in sm.get_all_users():
        roles = {r.name for r in user.roles}
        if user.username in wanted or not user.active or not roles <= office:
            continue
        user.active = False
        sm.update_user(user)
        gone.append(user.username)
    return gone
