"""Form messages people understand (API-server middleware, plugin ``plugins/piak_forms.py``).

- **Trigger forms.** Airflow refuses a trigger whose Params do not validate with HTTP 400 and
  jsonschema's English report ("Invalid input for param nama_pemohon: 'ab' is too short
  Failed validating 'minLength' in schema: {...}"), which the UI shows at the top of the dialog.
  :func:`trigger_message` turns it into one Indonesian sentence naming the field by its title:
  "Isian "Nama pelapor": paling sedikit 3 karakter.". The value typed is never repeated (it may
  be someone's personal data).
- **Sign-off answers.** A choice that needs a note (a rejection, a return) without one, or a
  required field left empty, used to be accepted by Airflow and then opened again by the task. The
  answer is now refused at once with HTTP 400 and the reason (:func:`answer_problem`), read from
  the request's own form (the ``x-piak-*`` keys :mod:`piak.workflow.signoff` puts in its fields'
  JSON schema); the request stays open and unchanged.
"""

from __future__ import annotations

import ast
import json
import re
import textwrap
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from piak.core import asgi
from piak.core.asgi import Receive, Scope, Send
from piak.core.forms import NOTE, NOTE_FOR, REQUIRED

TRIGGER_PATH = re.compile(r"^/api/v2/dags/(?P<dag_id>[^/]+)/dagRuns/?$")
_REPORT = re.compile(
    r"^Invalid input for param (?P<name>[^:\s]+): .*?\n\n"
    r"Failed validating '(?P<validator>\w+)' in schema(?P<where>[^:]*):\n(?P<schema>.*?)\n\n"
    r"On instance[^:]*:\n(?P<instance>.*)$",
    re.S,
)
_TYPES = {
    "string": "teks",
    "integer": "bilangan bulat",
    "number": "angka",
    "array": "daftar pilihan",
    "boolean": "ya atau tidak",
    "object": "kumpulan isian",
}


def trigger_message(detail: str) -> str | None:
    """The Indonesian sentence for Airflow's report of a Param that did not validate, or None
    when ``detail`` is not such a report."""
    found = _REPORT.match(detail or "")
    if not found:
        return None
    try:  # the DAG's own schema, as jsonschema printed it
        schema = ast.literal_eval(textwrap.dedent(found["schema"]).strip())
    except (ValueError, SyntaxError, RecursionError, MemoryError):
        schema = {}
    schema = schema if isinstance(schema, dict) else {}
    # what was typed is only told apart from nothing (it is never parsed, nor repeated)
    instance = {"None": None, "''": ""}.get(found["instance"].strip(), ...)
    title = schema.get("title") or found["name"].replace("_", " ").capitalize()
    in_items = "items" in found["where"]
    reason = _reason(found["validator"], schema, instance, in_items)
    return f'Isian "{title}": {reason}. Perbaiki isian itu, lalu picu lagi.'


def _reason(validator: str, schema: Mapping[str, Any], instance: Any, in_items: bool) -> str:
    # (Airflow's Param keeps a field's description outside the schema it reports; the form
    # shows it under the field)
    hint = " (lihat keterangan di bawah isian)"
    if validator == "type":
        kinds = schema.get("type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if instance in (None, "") and "null" not in kinds:
            return "wajib diisi"
        wanted = " atau ".join(_TYPES.get(k, str(k)) for k in kinds if k != "null")
        return f"harus {wanted}"
    if validator == "enum":
        return "berisi pilihan yang tidak ada di daftar" if in_items else "pilih dari daftar"
    if validator == "format":
        if schema.get("format") == "date":
            return "harus tanggal dengan format TTTT-BB-HH, mis. 2026-11-20"
        return f"bentuknya tidak sesuai{hint}"
    texts = {
        "minLength": "paling sedikit {minLength} karakter",
        "maxLength": "paling banyak {maxLength} karakter",
        "minimum": "paling kecil {minimum}",
        "maximum": "paling besar {maximum}",
        "minItems": "pilih paling sedikit {minItems}",
        "maxItems": "pilih paling banyak {maxItems}",
    }
    if validator in texts and validator in schema:
        return texts[validator].format(**schema)
    if validator == "pattern":
        return f"bentuknya tidak sesuai{hint}"
    if validator == "uniqueItems":
        return "ada pilihan yang dipilih dua kali"
    return f"isiannya tidak sah{hint}"


def answer_problem(params: Mapping[str, Any], answer: Mapping[str, Any]) -> str | None:
    """Why a sign-off would not accept ``answer`` (``chosen_options``, ``params_input``) given
    its form ``params`` (as Airflow stores them), or None when it would."""
    fields = {name: _schema(entry) for name, entry in (params or {}).items()}
    given = answer.get("params_input") or {}
    chosen = [str(c) for c in answer.get("chosen_options") or []]
    empty = [
        str(fields[name].get("title") or name)
        for name in fields
        if fields[name].get(REQUIRED) and not str(given.get(name) or "").strip()
    ]
    if empty:
        return f"Isian wajib belum diisi: {', '.join(empty)}. Jawaban belum diterima."
    needs_note = [c for c in chosen if c in (fields.get(NOTE, {}).get(NOTE_FOR) or [])]
    if needs_note and not str(given.get(NOTE) or "").strip():
        return (
            f'Pilihan "{", ".join(needs_note)}" wajib disertai catatan: tulis alasannya di '
            "Catatan, lalu kirim lagi. Jawaban belum diterima."
        )
    return None


def _schema(entry: Any) -> dict[str, Any]:
    """A stored Param (``{"value", "schema", "description"}``) or a bare schema."""
    if isinstance(entry, dict):
        schema = entry.get("schema", entry)
        return schema if isinstance(schema, dict) else {}
    return {}


@dataclass(frozen=True)
class PendingForm:
    """A sign-off's request as the API server sees it before an answer."""

    params: dict[str, Any]
    answered: bool
    assigned: frozenset[str]


def pending_form(dag_id: str, run_id: str, task_id: str, map_index: int) -> PendingForm | None:
    """The form of a sign-off, from Airflow's metadata database (API server only)."""
    import sqlalchemy as sa
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        found = session.execute(
            sa.select(HITLDetail.params, HITLDetail.responded_at, HITLDetail.assignees)
            .join(TaskInstance, TaskInstance.id == HITLDetail.ti_id)
            .where(*asgi.task_instance_is(TaskInstance, dag_id, run_id, task_id, map_index))
        ).first()
    if found is None:
        return None
    params, responded_at, assignees = found
    ids = frozenset(str(a["id"]) for a in assignees or [] if isinstance(a, dict) and "id" in a)
    return PendingForm(dict(params or {}), responded_at is not None, ids)


async def may_answer(scope: Scope, dag_id: str, form: PendingForm) -> bool:
    """Whether Airflow would take an answer from this request's user (the checks its answer
    endpoint makes before looking at the answer: DAG access, assignee), so that a person who
    may not answer still gets Airflow's own 403 and not our 400."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import (
        DagAccessEntity,
        DagDetails,
    )
    from fastapi import HTTPException
    from starlette.concurrency import run_in_threadpool

    user = await asgi.user(scope)
    if user is None:
        return False
    manager = get_auth_manager()

    def allowed() -> bool:  # the auth managers may read their database: off the event loop
        if not manager.is_authorized_dag(
            method="PUT",
            access_entity=DagAccessEntity.HITL_DETAIL,
            details=DagDetails(id=dag_id),
            user=user,
        ):
            return False
        return not form.assigned or manager.is_authorized_hitl_task(
            assigned_users=set(form.assigned), user=user
        )

    try:
        return await run_in_threadpool(allowed)
    except HTTPException:  # the project's auth managers refuse with the reason (403)
        return False


class FormMessagesMiddleware:
    """ASGI middleware (API server): Indonesian trigger-form refusals, and sign-off answers the
    task would not accept refused before Airflow records them."""

    def __init__(
        self,
        app: Callable[..., Awaitable[None]],
        form_of: Callable[[str, str, str, int], PendingForm | None] = pending_form,
    ) -> None:
        self.app = app
        self.form_of = form_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        path, method = asgi.path(scope), scope.get("method")
        if method == "POST" and TRIGGER_PATH.match(path):
            await self._trigger(scope, receive, send)
        elif method == "PATCH" and (found := asgi.ANSWER_PATH.match(path)):
            await self._answer(found, scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _trigger(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = await asgi.held(self.app, asgi.uncompressed(scope), receive)
        if answer.status == 400:
            try:
                detail = json.loads(answer.body).get("detail")
            except (ValueError, AttributeError):
                detail = None
            message = trigger_message(detail) if isinstance(detail, str) else None
            if message:
                await asgi.send_json(send, 400, {"detail": message})
                return
        await answer.send(send)

    async def _answer(self, found: re.Match[str], scope: Scope, receive: Receive, send: Send):
        from starlette.concurrency import run_in_threadpool

        raw, replay = await asgi.read_body(receive)
        where = found.groupdict()
        try:
            answer = json.loads(raw or b"{}")
            form = await run_in_threadpool(
                self.form_of,
                where["dag_id"],
                where["run_id"],
                where["task_id"],
                int(where["map_index"]),
            )
            problem = (
                answer_problem(form.params, answer)
                if form and not form.answered and isinstance(answer, dict)
                else None
            )
            if problem and not await may_answer(scope, where["dag_id"], form):
                problem = None  # Airflow's own refusal (403) comes first
        except Exception:  # nothing to check against: Airflow answers as it would
            problem = None
        if problem:
            await asgi.send_json(send, 400, {"detail": problem})
            return
        await self.app(scope, replay, send)
