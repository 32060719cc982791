"""Sign-off answers that survive a retry of their task.

Airflow 3.3.2 can lose an answer given in the first seconds after a sign-off starts waiting: the
executor's late report that the parked try's process ended arrives after the answer has already
put the task back in the queue, and the scheduler takes it for a task killed outside Airflow -
it fails that try and retries the task, and the retry opens the request again with the answer
erased (the race of apache/airflow#66374). A Kasi who answers with the page already open must
never see that.

So the API server keeps every accepted answer (:class:`AnswerKeeperMiddleware`, plugin
``plugins/piak_answers.py``) in the agenda database, which every worker reaches, and a retried
sign-off first looks there (:func:`unprocessed`): an answer no try has written to the agenda yet
is applied as if the wait had ended normally, instead of asking again. An answer that was
processed (its step is in the agenda, written after it) is not applied again: a task cleared on
purpose asks again.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from piak import agenda

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: The public API's answer endpoint (the UI posts there too).
ANSWER_PATH = re.compile(
    r"^/api/v2/dags/(?P<dag_id>[^/]+)/dagRuns/(?P<run_id>[^/]+)/taskInstances/"
    r"(?P<task_id>[^/]+)/(?P<map_index>-?\d+)/hitlDetails/?$"
)


def keep(dag_id: str, run_id: str, task_id: str, map_index: int, answer: dict[str, Any]) -> None:
    """Store the answer the API accepted (its response body: ``responded_by``,
    ``responded_at``, ``chosen_options``, ``params_input``), replacing an earlier one."""
    responded_at = datetime.fromisoformat(str(answer["responded_at"]))
    if responded_at.tzinfo is None:
        responded_at = responded_at.replace(tzinfo=UTC)
    kept = {
        "responded_by": {k: str(v) for k, v in dict(answer["responded_by"]).items()},
        "chosen_options": [str(o) for o in answer["chosen_options"]],
        "params_input": dict(answer.get("params_input") or {}),
    }
    key = {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "map_index": map_index}
    table = agenda.signoff_answer
    with agenda.engine().begin() as conn:
        conn.execute(sa.delete(table).filter_by(**key))
        conn.execute(sa.insert(table).values(**key, responded_at=responded_at, answer=kept))


def unprocessed(
    dag_id: str, run_id: str, task_id: str, map_index: int, agenda_task_ids: set[str]
) -> dict[str, Any] | None:
    """The kept answer to this request that no try has processed, as the event Airflow hands
    ``execute_complete`` on resume; None when there is none. Processed means: one of
    ``agenda_task_ids`` (the sign-off's own agenda entries) was written after the answer."""
    key = {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "map_index": map_index}
    table, entries = agenda.signoff_answer, agenda.agenda_entry
    with agenda.engine().connect() as conn:
        row = conn.execute(sa.select(table).filter_by(**key)).mappings().first()
        if row is None:
            return None
        responded_at = _aware(row["responded_at"])
        written = conn.execute(
            sa.select(sa.func.max(entries.c.recorded_at)).where(
                entries.c.dag_id == dag_id,
                entries.c.run_id == run_id,
                entries.c.map_index == map_index,
                entries.c.task_id.in_(sorted(agenda_task_ids)),
            )
        ).scalar()
    if written is not None and _aware(written) >= responded_at:
        return None
    answer = row["answer"] if isinstance(row["answer"], dict) else json.loads(row["answer"])
    return {
        "chosen_options": list(answer["chosen_options"]),
        "params_input": dict(answer["params_input"]),
        "responded_at": responded_at,
        "responded_by_user": dict(answer["responded_by"]),
        "timedout": False,
    }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite keeps no zone


class AnswerKeeperMiddleware:
    """ASGI middleware (API server): every answer the API accepts (HTTP 200 on the answer
    endpoint) is kept (:func:`keep`) before the answer's response goes back to the person."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))[len(str(scope.get("root_path", ""))) :]
        found = ANSWER_PATH.match(path) if scope.get("type") == "http" else None
        if not found or scope.get("method") != "PATCH":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:  # ruff: ignore[unused-async] - ASGI send
            held.append(message)

        await self.app(scope, receive, hold)
        start = next((m for m in held if m["type"] == "http.response.start"), {})
        if start.get("status") == 200:
            body = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
            await _keep_quietly(found, body)
        for message in held:
            await send(message)


async def _keep_quietly(found: re.Match[str], body: bytes) -> None:
    """Keep the answer; a failure is logged (without the answer) and the person still gets
    Airflow's response - the answer is in Airflow, only its safety copy is missing."""
    from starlette.concurrency import run_in_threadpool

    where = found.groupdict()
    try:
        await run_in_threadpool(
            keep,
            where["dag_id"],
            where["run_id"],
            where["task_id"],
            int(where["map_index"]),
            json.loads(body),
        )
    except Exception as exc:  # the answer stands in Airflow either way
        log.error(
            "Salinan jawaban %s/%s/%s tidak tersimpan: %s",
            where["dag_id"],
            where["run_id"],
            where["task_id"],
            type(exc).__name__,
        )
