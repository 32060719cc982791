"""The UI's Trigger button, for those who may not start a DAG: shown disabled.

Airflow 3.3's UI draws a DAG's Trigger button for whoever sees the DAG and disables it only when
the DAG does not allow manual runs (``allowed_run_types``). This ASGI middleware (plugin
``plugins/piak_access.py``, API server only) answers the DAG listings and details the UI reads
so that, for a user who may not trigger a DAG (``config/access.yaml``,
:meth:`piak.core.access.AccessConfig.may_trigger`), that DAG's ``allowed_run_types`` leave out
``manual``: the button is disabled and says "Manual runs are not allowed for this Dag". What is
shown is all it changes: the API itself refuses the trigger (HTTP 403 with the FAB auth manager)
or the run's first task does (the embedded default).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from piak.core import asgi
from piak.core.asgi import Receive, Scope, Send

#: What the UI reads a DAG's Trigger button from: the DAG list, one DAG, its details.
DAG_PATHS = re.compile(r"^/(?:api/v2|ui)/dags(?:/[^/]+(?:/details)?)?/?$")
#: Every run type of Airflow 3.3 but ``manual`` (what the API treats as "all" is None).
NOT_MANUAL = [
    "backfill",
    "scheduled",
    "operator_triggered",
    "asset_triggered",
    "asset_materialization",
]


def without_manual(data: Any, may_trigger: Callable[[str], bool]) -> Any:
    """``data`` (a DAG or a listing of them) with ``manual`` taken out of the allowed run types
    of every DAG ``may_trigger`` refuses."""
    if isinstance(data, list):
        return [without_manual(item, may_trigger) for item in data]
    if not isinstance(data, dict):
        return data
    is_dag = "dag_id" in data and ("allowed_run_types" in data or "is_paused" in data)
    if is_dag and not may_trigger(data["dag_id"]):  # (the UI's listing leaves out None values)
        allowed = data.get("allowed_run_types")
        data = {
            **data,
            "allowed_run_types": [t for t in (allowed or NOT_MANUAL) if t != "manual"],
        }
    return {key: without_manual(value, may_trigger) for key, value in data.items()}


class TriggerButtonMiddleware:
    """See the module docstring."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        wanted = scope.get("type") == "http" and scope.get("method") == "GET"
        if not wanted or not DAG_PATHS.match(asgi.path(scope)) or not asgi.token(scope):
            await self.app(scope, receive, send)
            return
        user = await asgi.user(scope)
        if user is None:
            await self.app(scope, receive, send)
            return
        answer = await asgi.held(self.app, asgi.uncompressed(scope), receive)  # rewritten below
        await answer.send_body(send, _rewritten(answer, user.get_name()))


def _rewritten(answer: asgi.Held, login: str) -> bytes:
    from piak.core import access

    content = answer.body
    kind = dict(answer.start.get("headers") or []).get(b"content-type", b"")
    if answer.status == 200 and kind.startswith(b"application/json"):
        try:
            config = access.load()
            data = without_manual(
                json.loads(content),
                lambda dag_id: dag_id not in config.dags or config.may_trigger(login, dag_id),
            )
            content = json.dumps(data).encode("utf-8")
        except (ValueError, access.ConfigError):
            pass  # not what was expected: passed on as it is
    return content
