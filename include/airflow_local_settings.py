"""Airflow's local settings hook (imported by every Airflow process found on PYTHONPATH), used
for one thing: who may answer a sign-off in the embedded default.

``airflow standalone`` - what ``make demo`` and the end-to-end tests run - forces Airflow's simple
auth manager, so the office's rule (:mod:`piak.approvers`: an escalation's users may answer from
its moment on) is put into that auth manager here, in the API server process only, where sign-off
answers are authorized. Production runs ``piak.auth.PiakFabAuthManager``, which applies the same
rule itself; there this hook changes nothing that is used.
"""

from __future__ import annotations

import sys

__all__: list[str] = []  # nothing here overrides Airflow's own settings


def _simple_auth_manager_applies_the_office_rule() -> None:
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    from piak.approvers import may_answer

    def is_authorized_hitl_task(self, *, assigned_users, user) -> bool:
        return may_answer(assigned_users, user.get_id())

    SimpleAuthManager.is_authorized_hitl_task = is_authorized_hitl_task


if sys.argv[1:2] == ["api-server"]:
    _simple_auth_manager_applies_the_office_rule()
