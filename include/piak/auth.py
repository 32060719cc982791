"""Real logins for the production topology: the FAB auth manager with one user per office role.

The compose stack (and ``tests/distributed``) runs Airflow with
``AIRFLOW__CORE__AUTH_MANAGER=piak.auth.PiakFabAuthManager``. Its only change to the FAB auth
manager: a sign-off is matched on the user's *login*, because ``config/roles.yaml`` names users
by login while FAB's user id is a database number. The embedded default keeps the simple auth
manager (``airflow standalone`` forces it; ``include/airflow_local_settings.py`` gives it the
same rule), whose user id is the login already. Both apply the same rule of
who may answer a sign-off: :mod:`piak.approvers`.

``sync_users`` (``python -m piak.deploy users``, run by compose's init service) creates
``admin`` and every user of ``config/roles.yaml`` that does not exist yet, with the password
found in the passwords file or a generated one written back to it (owner-only). Existing users
are left alone: people change their own password in the UI (*Your Profile*). Only Airflow
processes import this module.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager

from piak import demo

#: FAB role of the office users: trigger DAGs, answer sign-offs, change their own password.
FAB_OFFICE_ROLE = "User"
FAB_ADMIN_ROLE = "Admin"


class PiakFabAuthManager(FabAuthManager):
    """The FAB auth manager; a sign-off's assigned users are matched on the login."""

    def is_authorized_hitl_task(self, *, assigned_users: set[str], user: Any) -> bool:
        """Only the users named (by login) for the sign-off may answer it, an escalation's
        users from its moment on (:mod:`piak.approvers`)."""
        from piak.approvers import may_answer

        return may_answer(assigned_users, user.get_name())


def wanted_users(roles_path: Path | None = None) -> list[dict[str, str]]:
    """``admin`` and every office user: login, display name and FAB role."""
    from piak import roles

    names = {u["id"]: u["name"] for users in roles.load_roles(roles_path).values() for u in users}
    return [
        {
            "login": login,
            "name": names.get(login, "Administrator Airflow"),
            "role": FAB_ADMIN_ROLE if role == "admin" else FAB_OFFICE_ROLE,
        }
        for login, role in demo.logins(roles_path).items()
    ]


def read_passwords(path: Path) -> dict[str, str]:
    """Login -> password kept in ``path`` (empty when the file is missing or empty)."""
    if not path.exists() or not path.stat().st_size:
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise SystemExit(f"{path}: expected a JSON object login -> password")
    return {str(k): str(v) for k, v in data.items()}


def write_passwords(path: Path, passwords: dict[str, str]) -> None:
    """Write the passwords owner-only, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.touch(mode=0o600)
    tmp.chmod(0o600)
    tmp.write_text(json.dumps(passwords, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def sync_users(passwords_path: Path, roles_path: Path | None = None) -> list[str]:
    """Create the missing users (see the module docstring); return the logins created."""
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    passwords = read_passwords(passwords_path)
    created: list[str] = []
    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        for user in wanted_users(roles_path):
            if sm.find_user(username=user["login"]):
                continue
            password = passwords.get(user["login"]) or secrets.token_urlsafe(12)
            _add_user(sm, user, password)
            passwords[user["login"]] = password
            created.append(user["login"])
    if created:
        write_passwords(passwords_path, passwords)
    return created


def _add_user(sm: Any, user: dict[str, str], password: str) -> None:
    first, _, last = user["name"].partition(" ")
    role = sm.find_role(user["role"])
    if role is None:
        raise SystemExit(f"FAB role {user['role']!r} missing: run `airflow db migrate` first")
    added = sm.add_user(
        username=user["login"],
        first_name=first,
        last_name=last or "-",
        email=f"{user['login']}@piak.invalid",
        role=role,
        password=password,
    )
    if not added:
        raise SystemExit(f"Could not create the Airflow user {user['login']!r}")
