"""Sign-off answers that survive a retry of their task.

Airflow 3.3.2 can lose an answer given in the first seconds after a sign-off starts waiting: the
executor's late report that the parked try's process ended arrives after the answer has already
put the task back in the queue, and the scheduler takes it for a task killed outside Airflow -
it fails that try and retries the task, and the retry opens the request again with the answer
erased (the race of apache/airflow#66374). A Kasi who answers with the page already open must
never see that.

So the API server keeps every accepted answer with the try it answered
(:class:`AnswerKeeperMiddleware`, plugin ``plugins/piak_answers.py``) in the agenda database,
which every worker reaches, and a sign-off that Airflow retried first looks there
(:func:`for_retry`): an answer given to an earlier try of the same attempt is applied as if the
wait had ended normally, instead of asking again. A task cleared on purpose starts a new attempt
(Airflow gives it a fresh retry budget) and asks again.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from piak.core import agenda, asgi
from piak.core.asgi import Receive, Scope, Send

log = logging.getLogger(__name__)


def keep(
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int,
    answered: Try,
    answer: dict,
) -> None:
    """Store the answer the API accepted for the try ``answered`` (its response body:
    ``responded_by``, ``responded_at``, ``chosen_options``, ``params_input``), replacing an
    earlier one."""
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
        conn.execute(
            sa.insert(table).values(
                **key,
                try_number=answered.number,
                opened_at=answered.started_at,
                responded_at=responded_at,
                answer=kept,
            )
        )


def first_try_of_attempt(try_number: int, max_tries: int, retries: int) -> int:
    """The first try of the attempt ``try_number`` belongs to: Airflow's own reckoning (a clear
    gives the task ``try_number + retries`` as its new ``max_tries``)."""
    return min(try_number, max(max_tries - retries + 1, 1))


def for_retry(
    dag_id: str, run_id: str, task_id: str, map_index: int, *, try_number: int, first_try: int
) -> dict[str, Any] | None:
    """The kept answer to an earlier try of this attempt (``first_try`` <= its try <
    ``try_number``), as the event Airflow hands ``execute_complete`` on resume (plus
    ``opened_at``: when the try it answered started, where the step's time runs from); else
    None."""
    if try_number <= first_try:
        return None
    key = {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "map_index": map_index}
    with agenda.engine().connect() as conn:
        row = conn.execute(sa.select(agenda.signoff_answer).filter_by(**key)).mappings().first()
    if row is None or not first_try <= row["try_number"] < try_number:
        return None
    answer = row["answer"] if isinstance(row["answer"], dict) else json.loads(row["answer"])
    return {
        "chosen_options": list(answer["chosen_options"]),
        "params_input": dict(answer["params_input"]),
        "responded_at": _aware(row["responded_at"]),
        "responded_by_user": dict(answer["responded_by"]),
        "timedout": False,
        "opened_at": _aware(row["opened_at"]) if row["opened_at"] else None,
    }


@dataclass(frozen=True)
class Try:
    """The try of a task instance an answer was given to."""

    number: int
    started_at: datetime | None


def current_try(dag_id: str, run_id: str, task_id: str, map_index: int) -> Try:
    """The task instance's try in Airflow's metadata database (API server only)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        found = session.execute(
            sa.select(TaskInstance.try_number, TaskInstance.start_date).where(
                *asgi.task_instance_is(TaskInstance, dag_id, run_id, task_id, map_index)
            )
        ).first()
    if found is None:
        raise LookupError("task instance not found")
    return Try(int(found[0]), found[1])


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite keeps no zone


class AnswerKeeperMiddleware:
    """ASGI middleware (API server): every answer the API accepts (HTTP 200 on the answer
    endpoint) is kept (:func:`keep`) before the answer's response goes back to the person."""

    def __init__(
        self,
        app: Callable[..., Awaitable[None]],
        try_of: Callable[[str, str, str, int], Try] = current_try,
    ) -> None:
        self.app = app
        self.try_of = try_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = asgi.ANSWER_PATH.match(asgi.path(scope)) if scope.get("type") == "http" else None
        if not found or scope.get("method") != "PATCH":
            await self.app(scope, receive, send)
            return
        answer = await asgi.held(self.app, asgi.uncompressed(scope), receive)
        if answer.status == 200:
            await _keep_quietly(found, answer.body, self.try_of)
        await answer.send(send)


async def _keep_quietly(
    found: re.Match[str], body: bytes, try_of: Callable[[str, str, str, int], Try]
) -> None:
    """Keep the answer; a failure is logged (without the answer) and the person still gets
    Airflow's response - the answer is in Airflow, only its safety copy is missing."""
    from starlette.concurrency import run_in_threadpool

    where = found.groupdict()
    key = (where["dag_id"], where["run_id"], where["task_id"], int(where["map_index"]))

    def keep_with_try() -> None:
        keep(*key, try_of(*key), json.loads(body))

    try:
        await run_in_threadpool(keep_with_try)
    except Exception as exc:  # the answer stands in Airflow either way
        log.error(
            "Salinan jawaban %s/%s/%s tidak tersimpan: %s",
            where["dag_id"],
            where["run_id"],
            where["task_id"],
            type(exc).__name__,
        )
