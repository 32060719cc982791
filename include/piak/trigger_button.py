"""The UI's Trigger button, for those who may not start a DAG: shown disabled.

Airflow 3.3's UI draws a DAG's Trigger button for whoever sees the DAG and disables it only when
the DAG does not allow manual runs (``allowed_run_types``). This ASGI middleware (plugin
``plugins/piak_access.py``, API server only) answers the DAG listings and details the UI reads
so that, for a user who may not trigger a DAG (``config/access.yaml``,
:meth:`piak.access.AccessConfig.may_trigger`), that DAG's ``allowed_run_types`` leave out
``manual``: the button is disabled and says "Manual runs are not allowed for this Dag". What is
shown is all it changes: the API itself refuses the trigger (HTTP 403 with the FAB auth manager)
or the run's first task does (the embedded default).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

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
COOKIE = "_token"


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


def _token(scope: Scope) -> str | None:
    headers = dict(scope.get("headers") or [])
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    for part in headers.get(b"cookie", b"").decode("latin-1").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE and value:
            return value
    return None


async def _login(token: str) -> str | None:
    from airflow.api_fastapi.app import get_auth_manager

    try:
        return (await get_auth_manager().get_user_from_token(token)).get_name()
    except Exception:  # an expired or forged token: the request itself answers 401/403
        return None


class TriggerButtonMiddleware:
    """See the module docstring."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))[len(str(scope.get("root_path", ""))) :]
        token = _token(scope) if scope.get("type") == "http" else None
        if not token or scope.get("method") != "GET" or not DAG_PATHS.match(path):
            await self.app(scope, receive, send)
            return
        login = await _login(token)
        if login is None:
            await self.app(scope, receive, send)
            return
        # the answer is rewritten below, so it must come uncompressed
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]
        start: Message = {}
        body: list[bytes] = []

        async def capture(message: Message) -> None:  # ruff: ignore[unused-async] - ASGI send
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.append(message.get("body", b""))

        await self.app({**scope, "headers": headers}, receive, capture)
        await _send_rewritten(send, start, b"".join(body), login)


async def _send_rewritten(send: Send, start: Message, content: bytes, login: str) -> None:
    from piak import access

    response_headers = list(start.get("headers") or [])
    kind = dict(response_headers).get(b"content-type", b"")
    if start.get("status") == 200 and kind.startswith(b"application/json"):
        try:
            config = access.load()
            data = without_manual(
                json.loads(content),
                lambda dag_id: dag_id not in config.dags or config.may_trigger(login, dag_id),
            )
            content = json.dumps(data).encode("utf-8")
        except (ValueError, access.ConfigError):
            pass  # not what was expected: passed on as it is
    response_headers = [(k, v) for k, v in response_headers if k.lower() != b"content-length"]
    response_headers.append((b"content-length", str(len(content)).encode("latin-1")))
    await send({**start, "headers": response_headers})
    await send({"type": "http.response.body", "body": content, "more_body": False})
