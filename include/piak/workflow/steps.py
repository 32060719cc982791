"""What every SOP task shares: its registry step, its ``doc_md``, and its agenda entry.

Light to import (no Airflow at module level): DAG files and workers both use it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from piak.core import diagrams, registry, roles, settings

log = logging.getLogger(__name__)

#: XCom key of every sign-off's answer (branch operators return their branch, not the answer).
ANSWER_XCOM = "answer"
#: The actor recorded for steps the system performs on a schedule.
SCHEDULER_ACTOR = "penjadwal (otomatis)"


def step_doc(sop: registry.Sop, step: registry.Step) -> str:
    """A task's ``doc_md``: the SOP step it carries out, as the SOP table states it."""
    facts = [
        ("Pelaksana", roles.ROLE_TITLES[step.role]),
        ("Keputusan", "ya" if step.decision else None),
        ("Kelengkapan", step.completeness),
        ("Waktu baku", step.time_text),
        ("Keluaran", step.output),
    ]
    body = "\n".join(f"- {label}: {value}" for label, value in facts if value)
    return f"**SOP {sop.title}, langkah {step.number}**: {step.activity}\n\n{body}"


def sop_doc(sop: registry.Sop) -> str:
    """A DAG's ``doc_md``: the SOP table (step, role, standard time, activity)."""
    rows = [
        f"| {s.number} | {roles.ROLE_TITLES[s.role]}{' (keputusan)' if s.decision else ''} "
        f"| {s.time_text or '-'} | {_cell(s.activity)} | {_cell(s.output or '-')} |"
        for s in sop.steps
    ]
    return "\n".join(
        [
            f"### {sop.title}",
            "",
            f"[Diagram alur (swimlane)]({settings.airflow_base_url()}{diagrams.link(sop.code)})",
            "",
            "| No. | Pelaksana | Waktu baku | Kegiatan | Keluaran |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "/")


def run_date(context: Any) -> datetime:
    """The run's date in WIB: its logical date, or when it was triggered (manual runs in
    Airflow 3 may have no logical date). Outputs of a run are keyed to it."""
    from zoneinfo import ZoneInfo

    when = context.get("logical_date") or context["dag_run"].run_after
    return when.astimezone(ZoneInfo(settings.TIMEZONE))


def wib(when: datetime) -> datetime:
    """``when`` in WIB (Asia/Jakarta)."""
    from zoneinfo import ZoneInfo

    return when.astimezone(ZoneInfo(settings.TIMEZONE))


def run_key(context: Any, prefix: str) -> str:
    """``PREFIX-20261125-093012-1a2b3c``: the run's WIB date and time and a digest of its run id
    (runs triggered in the same second stay apart). Names a run's folder and its number."""
    import hashlib

    digest = hashlib.sha256(context["run_id"].encode()).hexdigest()[:6]
    return f"{prefix}-{run_date(context):%Y%m%d-%H%M%S}-{digest}"


def actor_of(context: Any) -> str:
    """Who performed a system step: the user who triggered the run, or the scheduler."""
    dag_run = context.get("dag_run")
    user = getattr(dag_run, "triggering_user_name", None)
    return user or SCHEDULER_ACTOR


def answered_by(context: Any, task_id: str) -> str | None:
    """Who answered the sign-off ``task_id`` in this run (as the agenda names them), or None
    when it was not answered. A step the code performs on that answer is theirs."""
    answer = context["ti"].xcom_pull(task_ids=task_id, key=ANSWER_XCOM) or {}
    user = answer.get("responded_by_user") or {}
    return user.get("name") or user.get("id")


def record_step(
    context: Any,
    *,
    sop_code: str,
    step_number: int,
    role: str,
    outcome: str,
    actor: str | None = None,
    output_ref: str | None = None,
    note: str | None = None,
    event: str | None = None,
    started_at: datetime | None = None,
) -> None:
    """Write this task's outcome to the agenda (idempotent: a retry replaces, never duplicates).
    ``event`` names an entry about the step rather than its end (``reminded-1``): it is kept
    beside the step's own entry, keyed ``<task_id>:<event>``. The step's time runs from
    ``started_at``, by default when this try started."""
    from piak.core import agenda

    ti = context["ti"]
    standard = registry.get_sop(sop_code).step(step_number).standard_time
    agenda.record(
        agenda.AgendaEntry(
            recorded_at=datetime.now(UTC),
            sop_code=sop_code,
            dag_id=ti.dag_id,
            run_id=ti.run_id,
            task_id=f"{ti.task_id}:{event}" if event else ti.task_id,
            map_index=ti.map_index if ti.map_index is not None else -1,
            step_number=step_number,
            role=role,
            actor=actor or actor_of(context),
            outcome=outcome,
            output_ref=output_ref,
            note=note,
            started_at=None if event else started_at or getattr(ti, "start_date", None),
            standard_minutes=standard.max_minutes if standard and not event else None,
        )
    )


def failure_note(exc: BaseException | None) -> str | None:
    """What the agenda says of a failure: the message people read, in one sentence - no class
    name; an error nobody anticipated says so and points at the task log (NIKs masked)."""
    if exc is None:
        return None
    from piak.core.errors import PiakError
    from piak.workflow.notify import redact

    message = " ".join(str(exc).split()) or "tanpa keterangan"
    expected = isinstance(exc, PiakError) or type(exc).__name__ in (
        "AirflowFailException", "AirflowException", "HITLRejectException", "HITLTimeoutError",
        "AirflowTaskTimeout",
    )  # fmt: skip
    if not expected:
        message = f"Kesalahan tak terduga: {message} (rincian teknis di log tugas)"
    return redact(message)[:2000]


def record_failure(context: Any) -> None:
    """``on_failure_callback``: a failed SOP task is written to the agenda as ``failed``."""
    task = context.get("task")
    sop_code = getattr(task, "sop_code", None)
    if not sop_code:
        return
    exc = context.get("exception")
    if getattr(exc, "agenda_recorded", False):
        return
    try:
        record_step(
            context,
            sop_code=sop_code,
            step_number=task.step_number,
            role=task.role,
            outcome="failed",
            note=failure_note(exc),
        )
    except Exception:  # a broken agenda must not hide the task's own failure
        log.exception("Gagal mencatat kegagalan langkah ke agenda")
