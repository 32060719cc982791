"""Airflow's local settings hook (imported by every Airflow process found on PYTHONPATH), used
for one thing: the office's rules in the embedded default's auth manager.

``airflow standalone`` - what ``make demo`` and the end-to-end tests run - forces Airflow's simple
auth manager, whose users are only "user" or "admin". In the API server process only, where
requests are authorized, it is given here what the simple auth manager can carry of the office's
rules: who may answer a sign-off, and when (:mod:`piak.core.approvers`; a refusal is an HTTP 403
saying why), and that office users only read, start runs and answer sign-offs
(:func:`piak.core.access.embedded_office_may`: no pausing, deleting, clearing or marking). Who may
start which DAG is checked by each DAG's first task; every office user sees every DAG here.
Production runs ``piak.web.auth.PiakFabAuthManager``, which applies the same rules itself with real
per-DAG permissions; there this hook changes nothing that is used.
"""

from __future__ import annotations

import sys

__all__: list[str] = []  # nothing here overrides Airflow's own settings


def _simple_auth_manager_applies_the_office_rules() -> None:
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    from piak.core.access import embedded_office_may
    from piak.core.approvers import refusal

    def is_authorized_hitl_task(self, *, assigned_users, user) -> bool:
        from fastapi import HTTPException

        reason = refusal(assigned_users, user.get_id())
        if reason:
            raise HTTPException(status_code=403, detail=reason)
        return True

    is_authorized_dag = SimpleAuthManager.is_authorized_dag

    def is_authorized_office_dag(self, *, method, user, access_entity=None, details=None) -> bool:
        if not SimpleAuthManager._is_admin(user) and not embedded_office_may(
            method, access_entity.name if access_entity else None
        ):
            return False
        return is_authorized_dag(
            self, method=method, user=user, access_entity=access_entity, details=details
        )

    SimpleAuthManager.is_authorized_hitl_task = is_authorized_hitl_task
    SimpleAuthManager.is_authorized_dag = is_authorized_office_dag


if sys.argv[1:2] == ["api-server"]:
    _simple_auth_manager_applies_the_office_rules()
