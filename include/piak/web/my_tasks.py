"""The "Tugas saya" page inside the Airflow UI's server (plugin ``plugins/piak_pages.py``).

Airflow's Required Actions list shows every waiting sign-off to everyone who sees the DAG. This
page lists only those the signed-in person may answer now - as holder of the role, deputy
(a.n.), after an escalation or by an exception (:func:`piak.core.approvers.may_answer` on the
request's assigned users, the same rule the API applies) - with when it opened, its due time and
a direct link to answer it. Login is Airflow's own (the UI's ``_token`` cookie or a bearer
token): no login, no page (401).
"""

from __future__ import annotations

import html
import re
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

URL_PREFIX = "/piak/tugas-saya"
_DUE = re.compile(r"^- Batas waktu: (.+)$", re.MULTILINE)
_DUE_AT = re.compile(r"^(\d{2}-\d{2}-\d{4} \d{2}:\d{2}) WIB")
PAGE = """<!doctype html>
<html lang="id"><head><meta charset="utf-8"><title>Tugas saya</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:80em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #bbb;padding:.3em .6em;text-align:left}}th{{background:#eee}}
.late{{color:#b00000;font-weight:bold}}</style></head><body>{body}</body></html>"""


@dataclass(frozen=True)
class Waiting:
    """One sign-off waiting for an answer, as Airflow's metadata holds it."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    subject: str
    body: str
    assigned_ids: tuple[str, ...]
    opened_at: datetime

    @property
    def link(self) -> str:
        run = urllib.parse.quote(self.run_id, safe="")
        return f"/dags/{self.dag_id}/runs/{run}/tasks/{self.task_id}/required_actions"

    @property
    def due(self) -> str | None:
        """The due time as the request states it (``piak.workflow.signoff.deadline_text``)."""
        found = _DUE.search(self.body or "")
        return found.group(1) if found else None

    @property
    def due_at(self) -> datetime | None:
        found = _DUE_AT.match(self.due or "")
        if not found:
            return None
        from zoneinfo import ZoneInfo

        from piak.core import settings

        local = datetime.strptime(found.group(1), "%d-%m-%Y %H:%M")
        return local.replace(tzinfo=ZoneInfo(settings.TIMEZONE))


def waiting() -> list[Waiting]:
    """Every sign-off waiting for an answer (API server only: reads Airflow's metadata)."""
    import sqlalchemy as sa
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    query = (
        sa.select(HITLDetail, TaskInstance)
        .join(TaskInstance, TaskInstance.id == HITLDetail.ti_id)
        .where(
            TaskInstance.state == TaskInstanceState.AWAITING_INPUT,
            HITLDetail.responded_at.is_(None),
        )
        .order_by(HITLDetail.created_at)
    )
    with create_session() as session:
        return [
            Waiting(
                dag_id=ti.dag_id,
                run_id=ti.run_id,
                task_id=ti.task_id,
                map_index=ti.map_index,
                subject=detail.subject,
                body=detail.body or "",
                assigned_ids=tuple(u["id"] for u in detail.assignees or ()),
                opened_at=detail.created_at,
            )
            for detail, ti in session.execute(query).all()
        ]


def mine(requests: list[Waiting], login: str, now: datetime | None = None) -> list[Waiting]:
    """The requests ``login`` may answer now."""
    from piak.core import approvers

    now = now or datetime.now(UTC)
    return [
        r for r in requests if r.assigned_ids and approvers.may_answer(r.assigned_ids, login, now)
    ]


def page(login: str, requests: list[Waiting]) -> str:
    """The page of ``login``'s requests (Bahasa Indonesia)."""
    from piak.workflow import steps

    e = html.escape
    parts = [f"<h1>Tugas saya</h1><p>Permintaan tanda tangan yang menunggu jawaban <b>{e(login)}"
             "</b>, terlama di atas.</p>"]  # fmt: skip
    if not requests:
        parts.append("<p>Tidak ada permintaan yang menunggu jawaban Anda.</p>")
        return PAGE.format(body="".join(parts))
    rows = "".join(
        f"<tr><td>{e(r.subject)}</td><td>{e(r.dag_id)}</td>"
        f"<td>{steps.wib(r.opened_at):%d-%m-%Y %H:%M} WIB</td><td>{e(r.due or '-')}</td>"
        f'<td><a href="{e(r.link)}">Buka dan jawab</a></td></tr>'
        for r in requests
    )
    parts.append(
        "<table><tr><th>Permintaan</th><th>DAG</th><th>Dibuka</th><th>Batas waktu</th><th></th>"
        f"</tr>{rows}</table>"
    )
    return PAGE.format(body="".join(parts))


def create_app() -> Any:
    """The FastAPI app (built on first request: only the API server imports FastAPI)."""
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import Depends, FastAPI
    from fastapi.responses import HTMLResponse

    app = FastAPI(title="PIAK: tugas saya", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=HTMLResponse)
    def my_tasks(user: Any = Depends(get_user)) -> str:  # ruff: ignore[function-call-in-default-argument] - FastAPI idiom
        login = user.get_name()
        return page(login, mine(waiting(), login))

    return app
