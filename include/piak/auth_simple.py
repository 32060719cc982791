"""The embedded default's logins: Airflow's simple auth manager with the office's sign-off rule.

``make demo`` and the end-to-end tests run Airflow with
``AIRFLOW__CORE__AUTH_MANAGER=piak.auth_simple.PiakSimpleAuthManager``; a user's id is the login
of ``config/roles.yaml``. The only change: who may answer a sign-off follows
:mod:`piak.approvers` (an escalation's users from its moment on), as in production
(``piak.auth.PiakFabAuthManager``). Only Airflow processes import this module.
"""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager


class PiakSimpleAuthManager(SimpleAuthManager):
    """The simple auth manager; sign-offs answered by their assigned users only."""

    def is_authorized_hitl_task(self, *, assigned_users: set[str], user: Any) -> bool:
        from piak.approvers import may_answer

        return may_answer(assigned_users, user.get_id())
