"""What the project's API-server middlewares share (plugins ``fastapi_root_middlewares``): the
ASGI types, the request's path and login, the inner app's answer held back to be read or
rewritten, and a JSON answer of our own."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The public API's sign-off answer endpoint (the UI posts there too).
ANSWER_PATH = re.compile(
    r"^/api/v2/dags/(?P<dag_id>[^/]+)/dagRuns/(?P<run_id>[^/]+)/taskInstances/"
    r"(?P<task_id>[^/]+)/(?P<map_index>-?\d+)/hitlDetails/?$"
)
COOKIE = "_token"  # the UI's session (Airflow's COOKIE_NAME_JWT_TOKEN)


def task_instance_is(ti: Any, dag_id: str, run_id: str, task_id: str, map_index: int) -> list:
    """SQL conditions selecting one task instance (``ti``: Airflow's ``TaskInstance`` model)."""
    return [
        ti.dag_id == dag_id,
        ti.run_id == run_id,
        ti.task_id == task_id,
        ti.map_index == map_index,
    ]


def path(scope: Scope) -> str:
    """The request's path below the app's root."""
    return str(scope.get("path", ""))[len(str(scope.get("root_path", ""))) :]


def token(scope: Scope) -> str | None:
    """The request's credential: a bearer token, else the UI's session cookie (the order
    Airflow's own ``get_user`` takes them in)."""
    headers = dict(scope.get("headers") or [])
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    for part in headers.get(b"cookie", b"").decode("latin-1").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE and value:
            return value
    return None


async def user(scope: Scope) -> Any:
    """The signed-in user (Airflow's auth manager), or None for a missing, expired or forged
    token - the request itself then gets Airflow's 401/403."""
    from airflow.api_fastapi.app import get_auth_manager

    credential = token(scope)
    if not credential:
        return None
    try:
        return await get_auth_manager().get_user_from_token(credential)
    except Exception:
        return None


def uncompressed(scope: Scope) -> Scope:
    """``scope`` asking for an uncompressed answer (one that is read or rewritten here)."""
    headers = [(k, v) for k, v in scope.get("headers") or [] if k.lower() != b"accept-encoding"]
    return {**scope, "headers": headers}


@dataclass
class Held:
    """The inner app's answer, not yet sent."""

    messages: list[Message] = field(default_factory=list)

    @property
    def start(self) -> Message:
        return next((m for m in self.messages if m["type"] == "http.response.start"), {})

    @property
    def status(self) -> int | None:
        return self.start.get("status")

    @property
    def body(self) -> bytes:
        parts = [m for m in self.messages if m["type"] == "http.response.body"]
        return b"".join(m.get("body", b"") for m in parts)

    async def send(self, send: Send) -> None:
        """Pass the answer on as the inner app gave it."""
        for message in self.messages:
            await send(message)

    async def send_body(self, send: Send, content: bytes) -> None:
        """Pass the answer on with ``content`` as its body."""
        headers = [
            (k, v) for k, v in self.start.get("headers") or [] if k.lower() != b"content-length"
        ]
        headers.append((b"content-length", str(len(content)).encode("latin-1")))
        await send({**self.start, "headers": headers})
        await send({"type": "http.response.body", "body": content, "more_body": False})


async def held(app: App, scope: Scope, receive: Receive) -> Held:
    """Run ``app`` and hold its answer back."""
    found = Held()

    async def hold(message: Message) -> None:  # ruff: ignore[unused-async] - ASGI send
        found.messages.append(message)

    await app(scope, receive, hold)
    return found


async def send_json(send: Send, status: int, data: Any) -> None:
    """An answer of our own."""
    body = json.dumps(data).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The request's whole body, and a ``receive`` that gives it again to the inner app."""
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    raw, replayed = b"".join(chunks), False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": raw, "more_body": False}

    return raw, replay
