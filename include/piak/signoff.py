"""Sign-off steps: one SOP registry step becomes one human-in-the-loop task.

* :func:`approval` - the role holder approves or rejects (``ApprovalOperator``),
* :func:`decision` - a decision diamond: the role holder picks the next step
  (``HITLBranchOperator``),
* :func:`entry` - the role holder enters data, e.g. a letter number (``HITLEntryOperator``).

Subject and body (Bahasa Indonesia) come from the registry: the activity, its Kelengkapan and
Output, the standard time, and links to what the person must look at. Only the users holding the
step's role (``config/roles.yaml``) may answer. Every answer can carry a note (``catatan``); a
rejection without one is not accepted: the request is opened again. Each answer is written to the
agenda with the user who gave it.

This module imports the standard provider's operators: import it from DAG files only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import (
    ApprovalOperator,
    HITLBranchOperator,
    HITLEntryOperator,
    HITLOperator,
)
from airflow.sdk import Param

from piak import approvers, deadlines, registry, roles, settings, steps

log = logging.getLogger(__name__)

NOTE = "catatan"
ANSWER_XCOM = steps.ANSWER_XCOM
#: XCom keys of a waiting sign-off: when its request opened, how many of its deadlines passed.
OPENED_XCOM = "signoff_opened_at"
TIMERS_XCOM = "signoff_deadlines_handled"
APPROVE = "Setujui"
REJECT = "Tolak"
_SUBJECT_MAX = 150


@dataclass(frozen=True)
class Choice:
    """One way out of a decision diamond: the label the person sees, the task it leads to, and
    what the agenda records (``approved``, ``rejected`` or ``returned``; the last two need a note).
    """

    label: str
    task_id: str
    outcome: str = "approved"

    @property
    def needs_note(self) -> bool:
        return self.outcome in ("rejected", "returned")


class _SignoffMixin:
    """Shared by the three sign-off operators: note rule and agenda record.

    Each operator keeps its own ``__init__``: Airflow's operator metaclass only prepares an
    instance through ``__init__`` methods defined on operator classes, not on a mixin.
    """

    sop_code: str
    step_number: int
    role: str
    required_fields: tuple[str, ...] = ()
    #: ``(task_id, key)``: the request opens only when that task's result says so (else the
    #: step is skipped, e.g. no password to deliver for a pack without one).
    only_if: tuple[str, str] | None = None
    #: The answer is an agenda event beside the step, not the step itself (not measured).
    agenda_event: str | None = None

    def _needs_note(self, chosen: list[str]) -> bool:
        return False

    def _outcome(self, chosen: list[str]) -> str:
        return "approved"

    def execute(self, context: Any) -> Any:
        """Open the request: who may answer (role holders at once, the escalation role from its
        moment on), its due time in the body, and a wake-up at its first deadline."""
        from airflow.sdk.exceptions import AirflowSkipException
        from airflow.sdk.timezone import utcnow

        if self.only_if:
            task_id, key = self.only_if
            if not (context["ti"].xcom_pull(task_ids=task_id) or {}).get(key):
                raise AirflowSkipException(f"tidak diperlukan ({task_id}: {key} tidak ada)")
        op: HITLOperator = self  # type: ignore[assignment]
        now = utcnow()
        context["ti"].xcom_push(key=OPENED_XCOM, value=now.isoformat())
        limits = self._deadlines()
        op.assigned_users = self._assignees(limits, now)
        op.body = (op.body or "") + deadline_text(limits, now)
        following = limits.next_timer(now, now)
        op.response_timeout = following[0] - now if following else None
        return super().execute(context)  # type: ignore[misc]

    def _deadlines(self) -> deadlines.Deadlines:
        return deadlines.for_step(self.sop_code, self.step_number)

    def _assignees(self, limits: deadlines.Deadlines, opened_at: datetime) -> list[roles.User]:
        users = list(roles.users_for(self.role))
        if limits.escalate_to and limits.escalate_after:
            at = opened_at + limits.escalate_after
            for user in roles.users_for(limits.escalate_to):
                if user["id"] not in {u["id"] for u in users}:
                    when = f"{steps.wib(at):%d-%m-%Y %H:%M} WIB"
                    users.append(
                        roles.User(
                            id=approvers.timed_id(user["id"], at),
                            name=f"{user['name']} (eskalasi, mulai {when})",
                        )
                    )
        return users

    def _on_timer(self, context: Any) -> Any:
        """The request waited up to a deadline: remind, escalate or give up, and wait for the
        next deadline. (An answer given while this runs is not lost: Airflow's park transition
        resumes the task with it instead of parking, and the timeout sweep takes an answer that
        came just before the deadline.)"""
        from airflow.sdk.exceptions import AirflowFailException, TaskAwaitingInput
        from airflow.sdk.timezone import utcnow

        ti = context["ti"]
        opened = datetime.fromisoformat(ti.xcom_pull(task_ids=ti.task_id, key=OPENED_XCOM))
        limits, now = self._deadlines(), utcnow()
        timers = limits.timers(opened)
        handled = int(ti.xcom_pull(task_ids=ti.task_id, key=TIMERS_XCOM) or 0)
        for number, (at, kind) in enumerate(timers[handled:], start=handled):
            if at > now:
                break
            if kind == "give_up":
                waited = deadlines_text(limits.give_up_after)
                raise AirflowFailException(
                    f"Tidak dijawab dalam {waited}: langkah {self.step_number} dihentikan"
                )
            self._announce(context, kind, number, limits, escalated=_passed(limits, opened, at))
            ti.xcom_push(key=TIMERS_XCOM, value=number + 1)
        following = limits.next_timer(opened, now)
        timeout = following[0] - now if following else None
        raise TaskAwaitingInput(method_name="execute_complete", timeout=timeout)

    def _announce(
        self,
        context: Any,
        kind: str,
        number: int,
        limits: deadlines.Deadlines,
        *,
        escalated: bool,
    ) -> None:
        """A reminder or an escalation: to the task log, the DAG's notifier and the agenda."""
        sop = registry.get_sop(self.sop_code)
        who = roles.ROLE_TITLES[self.role]
        if kind == "escalate":
            to = roles.ROLE_TITLES[limits.escalate_to]
            message = (
                f"Langkah {self.step_number} ({sop.title}) belum dijawab {who}: kini "
                f"{to} juga dapat menjawabnya (eskalasi)"
            )
            outcome, whom = "escalated", to
        else:
            message = f"Langkah {self.step_number} ({sop.title}) menunggu jawaban {who}"
            outcome, whom = "reminded", who
            if escalated:
                whom = f"{who}, {roles.ROLE_TITLES[limits.escalate_to]}"
        log.warning("PENGINGAT: %s", message)
        for notifier in self._notifiers():
            notifier({**context, "piak_message": message})
        steps.record_step(
            context,
            sop_code=self.sop_code,
            step_number=self.step_number,
            role=self.role,
            outcome=outcome,
            actor=steps.SCHEDULER_ACTOR,
            output_ref=f"kepada: {whom}",
            note=message,
            event=f"{outcome}-{number + 1}",
        )

    def _notifiers(self) -> list[Any]:
        """The DAG's failure notifiers (configured per DAG) also carry reminders."""
        from airflow.sdk import BaseNotifier

        dag = getattr(self, "dag", None)
        callbacks = (dag.default_args if dag else {}).get("on_failure_callback")
        callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
        return [c for c in callbacks if isinstance(c, BaseNotifier)]

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        if event.get("error_type") == "timeout":
            return self._on_timer(context)
        if "error" not in event:
            event = self._complete_form(context, event)
            chosen = event.get("chosen_options") or []
            answers = event.get("params_input") or {}
            note = str(answers.get(NOTE) or "").strip()
            missing = [f for f in self.required_fields if not str(answers.get(f) or "").strip()]
            if missing:
                self._ask_again(context, f"isian wajib kosong: {', '.join(missing)}")
            if self._needs_note(chosen) and not note:
                self._ask_again(context, f"{', '.join(chosen)} tanpa catatan")
        from airflow.providers.standard.exceptions import HITLRejectException
        from airflow.sdk.exceptions import AirflowFailException, DownstreamTasksSkipped

        try:
            result = super().execute_complete(context=context, event=event)  # type: ignore[misc]
        except DownstreamTasksSkipped:  # how branching and rejection end the task: answered
            self._record(context, event)
            raise
        except HITLRejectException as exc:  # fail_on_reject: fail the run, never ask again
            self._record(context, event)
            user = (event.get("responded_by_user") or {}).get("name", "?")
            note = (event.get("params_input") or {}).get(NOTE)
            failure = AirflowFailException(f"Ditolak oleh {user}: {note}")
            failure.agenda_recorded = True  # the rejection, with its note, is the agenda entry
            raise failure from exc
        self._record(context, event)
        return result

    def _complete_form(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        """An answer through the REST API may leave fields out: they count as empty (the UI
        always sends every field). Unknown fields reopen the request."""
        given = dict(event.get("params_input") or {})
        if not given:
            return event
        form = self.serialized_params  # type: ignore[attr-defined]
        unknown = sorted(set(given) - set(form))
        if unknown:
            self._ask_again(context, f"isian tidak dikenal: {', '.join(unknown)}")
        return {**event, "params_input": {name: given.get(name) for name in form}}

    def _ask_again(self, context: Any, reason: str) -> None:
        """Reopen the request: the answer lacks a required field or the note a rejection needs."""
        from airflow.sdk.exceptions import TaskAwaitingInput
        from airflow.sdk.execution_time.hitl import upsert_hitl_detail

        op: HITLOperator = self  # type: ignore[assignment]
        log.warning("Jawaban tidak diterima (%s): permintaan dibuka kembali", reason)
        upsert_hitl_detail(
            ti_id=context["task_instance"].id,
            options=op.options,
            subject=op.subject,
            body=op.body,
            defaults=op.defaults,
            multiple=op.multiple,
            params=op.serialized_params,
            assigned_users=op.assigned_users,
        )
        raise TaskAwaitingInput(method_name="execute_complete", timeout=op.response_timeout)

    def _record(self, context: Any, event: Mapping[str, Any]) -> None:
        """Write the answer (the validated response event) to the agenda."""
        user = event.get("responded_by_user") or {}
        params_input = dict(event.get("params_input") or {})
        note = (params_input.pop(NOTE, None) or "").strip() or None
        chosen = list(event.get("chosen_options") or [])
        responded_at = event.get("responded_at")
        context["ti"].xcom_push(
            key=ANSWER_XCOM,
            value={
                "chosen_options": chosen,
                "params_input": dict(event.get("params_input") or {}),
                "responded_at": responded_at.isoformat() if responded_at else None,
                "responded_by_user": dict(user),
            },
        )
        entered = ", ".join(f"{k}={v}" for k, v in params_input.items() if v not in (None, ""))
        steps.record_step(
            context,
            sop_code=self.sop_code,
            step_number=self.step_number,
            role=self.role,
            outcome=self._outcome(chosen),
            actor=user.get("name") or user.get("id"),
            output_ref="; ".join(filter(None, [", ".join(chosen), entered])) or None,
            note=note,
            event=self.agenda_event,
        )


class RoleApprovalOperator(_SignoffMixin, ApprovalOperator):
    """Approve / reject by the holder of a role; a rejection needs a note."""

    APPROVE = APPROVE
    REJECT = REJECT

    def __init__(
        self,
        *,
        sop_code: str,
        step_number: int,
        role: str,
        required_fields: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> None:
        self.sop_code, self.step_number, self.role = sop_code, step_number, role
        self.required_fields = required_fields
        super().__init__(**kwargs)

    def _needs_note(self, chosen: list[str]) -> bool:
        return REJECT in chosen

    def _outcome(self, chosen: list[str]) -> str:
        return "rejected" if REJECT in chosen else "approved"


class RoleBranchOperator(_SignoffMixin, HITLBranchOperator):
    """A decision diamond answered by the holder of a role."""

    def __init__(
        self,
        *,
        sop_code: str,
        step_number: int,
        role: str,
        choices: list[Choice],
        required_fields: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> None:
        self.sop_code, self.step_number, self.role = sop_code, step_number, role
        self.required_fields = required_fields
        self.choices = choices
        super().__init__(
            options=[c.label for c in choices],
            options_mapping={c.label: c.task_id for c in choices},
            **kwargs,
        )

    def _needs_note(self, chosen: list[str]) -> bool:
        return any(c.needs_note for c in self.choices if c.label in chosen)

    def _outcome(self, chosen: list[str]) -> str:
        outcomes = {c.outcome for c in self.choices if c.label in chosen}
        for outcome in ("rejected", "returned"):
            if outcome in outcomes:
                return outcome
        return "approved"


class RoleEntryOperator(_SignoffMixin, HITLEntryOperator):
    """A form filled in by the holder of a role (a number, a finding, a note)."""

    def __init__(
        self,
        *,
        sop_code: str,
        step_number: int,
        role: str,
        required_fields: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> None:
        self.sop_code, self.step_number, self.role = sop_code, step_number, role
        self.required_fields = required_fields
        super().__init__(**kwargs)

    def _outcome(self, chosen: list[str]) -> str:
        return "done"


def approval(
    sop_code: str,
    step_number: int,
    *,
    task_id: str,
    show: str | None = None,
    links: Mapping[str, str] | None = None,
    fail_on_reject: bool = False,
    **kwargs: Any,
) -> RoleApprovalOperator:
    """An approve / reject sign-off for a registry step (reject skips what follows, or fails the
    run with ``fail_on_reject``)."""
    return RoleApprovalOperator(
        fail_on_reject=fail_on_reject,
        **_common(sop_code, step_number, task_id, show, links, {}, "Tolak", kwargs),
    )


def decision(
    sop_code: str,
    step_number: int,
    *,
    task_id: str,
    choices: list[Choice],
    fields: Mapping[str, Param] | None = None,
    show: str | None = None,
    links: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> RoleBranchOperator:
    """A decision diamond: each choice leads to a task; rejecting or returning needs a note."""
    if not choices:
        raise ValueError(f"{task_id}: a decision needs at least one choice")
    noted = ", ".join(c.label for c in choices if c.needs_note) or None
    return RoleBranchOperator(
        choices=choices,
        **_common(sop_code, step_number, task_id, show, links, dict(fields or {}), noted, kwargs),
    )


def entry(
    sop_code: str,
    step_number: int,
    *,
    task_id: str,
    fields: Mapping[str, Param] | None = None,
    show: str | None = None,
    links: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> RoleEntryOperator:
    """A form for a registry step; ``fields`` are Airflow Params (titles in Bahasa Indonesia)."""
    only_if = kwargs.pop("only_if", None)
    agenda_event = kwargs.pop("agenda_event", None)
    operator = RoleEntryOperator(
        **_common(sop_code, step_number, task_id, show, links, dict(fields or {}), None, kwargs)
    )
    operator.only_if, operator.agenda_event = only_if, agenda_event
    return operator


def _common(
    sop_code: str,
    step_number: int,
    task_id: str,
    show: str | None,
    links: Mapping[str, str] | None,
    fields: dict[str, Param],
    note_required_for: str | None,
    extra: dict[str, Any],
) -> dict[str, Any]:
    sop = registry.get_sop(sop_code)
    step = sop.step(step_number)
    if NOTE in fields:
        raise ValueError(f"{task_id}: '{NOTE}' is the built-in note field")
    form, required = _form_fields(fields)
    params = {
        **form,
        NOTE: Param(
            None,
            type=["null", "string"],
            title="Catatan",
            description=(
                f"Wajib diisi bila memilih: {note_required_for}." if note_required_for else None
            )
            or "Boleh dikosongkan.",
        ),
    }
    return {
        "task_id": task_id,
        "sop_code": sop_code,
        "step_number": step_number,
        "role": step.role,
        "subject": signoff_subject(sop, step),
        "body": signoff_body(
            sop, step, show=show, links=links, note_required_for=note_required_for
        ),
        "params": params,
        "assigned_users": roles.users_for(step.role),
        "required_fields": required,
        "doc_md": steps.step_doc(sop, step),
        **extra,
    }


def _form_fields(fields: dict[str, Param]) -> tuple[dict[str, Param], tuple[str, ...]]:
    """Form fields as the task needs them, and the names the person must fill in.

    Airflow validates a task's params with their defaults when the task starts, before anyone
    has answered; so a field without a usable default becomes nullable (default None) and is
    checked as required when the answer comes back.
    """
    form: dict[str, Param] = {}
    required: list[str] = []
    for name, param in fields.items():
        if param.value not in (None, ""):
            form[name] = param
            continue
        schema = dict(param.schema)
        kind = schema.get("type", "string")
        kinds = list(kind) if isinstance(kind, list) else [kind]
        schema["type"] = kinds if "null" in kinds else ["null", *kinds]
        if "enum" in schema and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]  # unanswered yet; required when answered
        form[name] = Param(None, description=param.description, **schema)
        required.append(name)
    return form, tuple(required)


def signoff_subject(sop: registry.Sop, step: registry.Step) -> str:
    """``[Kepala Seksi] Prosedur Backup database - langkah 6: Menerima copy ...``"""
    text = f"[{roles.ROLE_TITLES[step.role]}] {sop.title} - langkah {step.number}: {step.activity}"
    text = " ".join(text.split())
    return _raw(text if len(text) <= _SUBJECT_MAX else text[: _SUBJECT_MAX - 1] + "…")


def signoff_body(
    sop: registry.Sop,
    step: registry.Step,
    *,
    show: str | None = None,
    links: Mapping[str, str] | None = None,
    note_required_for: str | None = None,
) -> str:
    """Markdown body: the step as the SOP states it, what to look at, and the links.

    Registry text is wrapped in ``{% raw %}`` so that it is never read as a template; ``show`` and
    link targets are templates (they may use ``{{ run_id }}``, ``{{ ti.xcom_pull(...) }}``...).
    """
    facts = [
        ("Pelaksana", roles.ROLE_TITLES[step.role]),
        ("Kelengkapan", step.completeness),
        ("Keluaran", step.output),
        ("Waktu baku", step.time_text),
    ]
    lines = [f"**{_raw(sop.title)} - langkah {step.number}**", "", _raw(step.activity), ""]
    lines += [f"- {label}: {_raw(value)}" for label, value in facts if value]
    if show:
        lines += ["", show]
    run_link = (
        f"{settings.airflow_base_url()}/dags/{{{{ dag.dag_id }}}}/runs/{{{{ run_id | urlencode }}}}"
    )
    lines += ["", "**Yang perlu dilihat:**", f"- [Run ini di Airflow]({run_link})"]
    lines += [f"- [{_raw(label)}]({url})" for label, url in (links or {}).items()]
    if note_required_for:
        lines += [
            "",
            f"Pilihan *{_raw(note_required_for)}* wajib disertai **catatan**; "
            "tanpa catatan, jawaban tidak diterima dan permintaan dibuka kembali.",
        ]
    return "\n".join(lines)


def _raw(text: str) -> str:
    return "{% raw %}" + text + "{% endraw %}" if ("{" in text or "}" in text) else text


def _passed(limits: deadlines.Deadlines, opened_at: datetime, at: datetime) -> bool:
    """Whether the request has been escalated by the moment ``at``."""
    return bool(limits.escalate_after and limits.escalate_to) and at >= opened_at + (
        limits.escalate_after or timedelta(0)
    )


def deadlines_text(duration: timedelta | None) -> str:
    """``2 hari``, ``12 jam``, ``30 menit`` (the longest whole unit)."""
    if duration is None:
        return "-"
    minutes = int(duration.total_seconds() // 60)
    for size, unit in ((1440, "hari"), (60, "jam")):
        if minutes and minutes % size == 0:
            return f"{minutes // size} {unit}"
    return f"{minutes} menit"


def deadline_text(limits: deadlines.Deadlines, opened_at: datetime) -> str:
    """What the request's body says about its deadlines (WIB)."""

    def at(delta: timedelta) -> str:
        return f"{steps.wib(opened_at + delta):%d-%m-%Y %H:%M} WIB"

    lines = []
    if limits.due:
        lines.append(f"- Batas waktu: {at(limits.due)} ({deadlines_text(limits.due)})")
    if limits.escalate_after and limits.escalate_to:
        to = roles.ROLE_TITLES[limits.escalate_to]
        lines.append(f"- Belum dijawab sampai {at(limits.escalate_after)}: {to} dapat menjawab")
    if limits.give_up_after:
        lines.append(f"- Belum dijawab sampai {at(limits.give_up_after)}: langkah dihentikan")
    return ("\n\n**Tenggat:**\n" + "\n".join(lines)) if lines else ""
