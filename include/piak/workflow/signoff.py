"""Sign-off steps: one SOP registry step becomes one human-in-the-loop task.

* :func:`approval` - the role holder approves or rejects (``ApprovalOperator``),
* :func:`decision` - a decision diamond: the role holder picks the next step
  (``HITLBranchOperator``),
* :func:`entry` - the role holder enters data, e.g. a letter number (``HITLEntryOperator``).

Subject and body (Bahasa Indonesia) come from the registry: the activity, its Kelengkapan and
Output, the standard time, and links to what the person must look at. Who may answer is computed
when the request opens (:func:`piak.core.approvers.assign`, from ``config/access.yaml``): the
holders of the step's role, their deputies (a.n.), the escalation role from its moment on - never
whoever triggered the run (for another role's step) nor whoever gave the previous sign-off of
another role, unless an exception says so. The body lists them, and who may not and why. Every
answer can carry a note (``catatan``); a rejection without one is not accepted: the request is
opened again. Each answer is written to the agenda with the user who gave it (``wakil a.n. kabid``
for a deputy; an exception used is an entry of its own).

This module imports the standard provider's operators: import it from DAG files only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
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

from piak.core import access, approvers, deadlines, registry, roles, settings
from piak.core.forms import NOTE, NOTE_FOR, REQUIRED
from piak.workflow import steps

log = logging.getLogger(__name__)

#: A sign-off's retry mostly carries an answer Airflow's scheduler cut off
#: (``_answer_kept_for_a_retry``): the person should not wait a minute for it. (3 s was tried
#: once; in that run a request answered the moment it opened opened again - not pinned down.)
RETRY_DELAY = timedelta(seconds=10)

ANSWER_XCOM = steps.ANSWER_XCOM
#: XCom keys of a waiting sign-off: when its request opened, how many of its deadlines passed.
OPENED_XCOM = "signoff_opened_at"
TIMERS_XCOM = "signoff_deadlines_handled"
#: XCom key of who was assigned when the request opened (``Assignee.to_dict`` each).
ASSIGNED_XCOM = "signoff_assigned"
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


@dataclass(frozen=True)
class SignoffStep:
    """The registry step a sign-off answers, and how: its required form fields, a condition
    (``run_if``, "module:function") and an agenda event name for a sign-off beside the step."""

    sop_code: str
    number: int
    role: str
    required_fields: tuple[str, ...] = ()
    run_if: str | None = None
    agenda_event: str | None = None


class _SignoffMixin:
    """Shared by the three sign-off operators: note rule and agenda record.

    Each operator keeps its own ``__init__``: Airflow's operator metaclass only prepares an
    instance through ``__init__`` methods defined on operator classes, not on a mixin.
    """

    def _init_signoff(self, signoff: SignoffStep, kwargs: dict[str, Any]) -> None:
        """What every sign-off operator's ``__init__`` does before its base class's."""
        self.sop_code, self.step_number, self.role = signoff.sop_code, signoff.number, signoff.role
        self.required_fields = signoff.required_fields
        self.run_if, self.agenda_event = signoff.run_if, signoff.agenda_event
        kwargs.setdefault("retry_delay", RETRY_DELAY)

    def answering_roles(self) -> set[str]:
        """The roles that may answer this sign-off (its own and its escalation role)."""
        escalate_to = self._deadlines().escalate_to
        return {self.role, *([escalate_to] if escalate_to else [])}

    def _needs_note(self, chosen: list[str]) -> bool:
        return False

    def _outcome(self, chosen: list[str]) -> str:
        return "approved"

    def execute(self, context: Any) -> Any:
        """Open the request: who may answer (:func:`piak.core.approvers.assign`), its due time in
        the body, and a wake-up at its first deadline. With ``run_if`` ("module:function") the
        sign-off is skipped when that returns False for the run."""
        from airflow.sdk.exceptions import AirflowSkipException
        from airflow.sdk.timezone import utcnow

        from piak.workflow.dagkit import resolve

        if self.run_if and not resolve(self.run_if)(context):
            raise AirflowSkipException(f"langkah {self.step_number} tidak diperlukan pada run ini")
        op: HITLOperator = self  # type: ignore[assignment]
        now = utcnow()
        context["ti"].xcom_push(key=OPENED_XCOM, value=now.isoformat())
        limits = self._deadlines()
        assigned = self._assignees(context, limits, now)
        context["ti"].xcom_push(key=ASSIGNED_XCOM, value=[a.to_dict() for a in assigned])
        op.assigned_users = [a.user() for a in assigned]
        # the body was rendered before execute: what is added here is never read as a template
        op.body = (op.body or "") + approvers.assignment_text(assigned) + deadline_text(limits, now)
        following = limits.next_timer(now, now)
        op.response_timeout = following[0] - now if following else None
        kept = self._answer_kept_for_a_retry(context)
        if kept is not None:
            return self.execute_complete(context, kept)
        return super().execute(context)  # type: ignore[misc]

    def _answer_kept_for_a_retry(self, context: Any) -> dict[str, Any] | None:
        """On Airflow's retry of this sign-off: the answer given to an earlier try of the same
        attempt, which that try did not live to finish (``piak.workflow.answers``)."""
        from piak.workflow import answers

        ti = context["ti"]
        try_number = ti.try_number or 1
        first = answers.first_try_of_attempt(try_number, ti.max_tries, self.retries or 0)
        map_index = ti.map_index if ti.map_index is not None else -1
        kept = answers.for_retry(
            ti.dag_id, ti.run_id, ti.task_id, map_index, try_number=try_number, first_try=first
        )
        if kept is not None:
            log.warning(
                "Jawaban %s (%s) diberikan pada percobaan sebelumnya, yang dihentikan Airflow "
                "sebelum selesai: diterapkan tanpa meminta lagi",
                kept["responded_by_user"].get("name"),
                kept["responded_at"].isoformat(),
            )
        return kept

    def _deadlines(self) -> deadlines.Deadlines:
        return deadlines.for_step(self.sop_code, self.step_number)

    def _assignees(
        self, context: Any, limits: deadlines.Deadlines, opened_at: datetime
    ) -> list[approvers.Assignee]:
        """Who may answer, from the configuration and what this run did so far; a request
        nobody may answer fails the step with the reason (Airflow lets anyone answer a
        request without assigned users)."""
        from airflow.sdk.exceptions import AirflowFailException

        config = access.load()
        escalation = (
            (limits.escalate_to, opened_at + limits.escalate_after)
            if limits.escalate_to and limits.escalate_after
            else None
        )
        assigned = approvers.assign(
            config,
            dag_id=context["ti"].dag_id,
            role=self.role,
            opened_at=opened_at,
            triggering_user=getattr(context.get("dag_run"), "triggering_user_name", None),
            previous=self._previous_signoff(context),
            escalation=escalation,
        )
        if not approvers.answerable(assigned):
            refused = "; ".join(f"{a.login}: {approvers.SHORT[a.refused]}" for a in assigned)
            raise AirflowFailException(
                f"Langkah {self.step_number} tidak dapat dijawab siapa pun: pemegang peran "
                f"{roles.ROLE_TITLES[self.role]} tidak boleh menjawabnya ({refused}; pemisahan "
                f"tugas). Tambahkan pengganti (delegations) atau pengecualian (exceptions) di "
                f"{config.source}, lalu jalankan ulang langkah ini."
            )
        return assigned

    def _previous_signoff(self, context: Any) -> approvers.Previous | None:
        """The sign-off of this run answered last before this one (its upstream ones)."""
        ti, dag = context["ti"], getattr(self, "dag", None)
        found: list[tuple[str, approvers.Previous]] = []
        for task_id in self.get_flat_relative_ids(upstream=True):  # type: ignore[attr-defined]
            task = dag.get_task(task_id) if dag else None
            if not isinstance(task, _SignoffMixin):
                continue
            answer = ti.xcom_pull(task_ids=task_id, key=ANSWER_XCOM)
            login = (answer or {}).get("responded_by_user", {}).get("name")
            if login:
                at = str(answer.get("responded_at") or "")
                found.append((at, approvers.Previous(login, task.role, task_id)))
        return max(found, key=lambda pair: pair[0])[1] if found else None

    def _assigned(self, context: Any) -> list[approvers.Assignee]:
        """Who was assigned when the request opened (as stored then)."""
        ti = context["ti"]
        stored = ti.xcom_pull(task_ids=ti.task_id, key=ASSIGNED_XCOM) or []
        return [approvers.Assignee.from_dict(a) for a in stored]

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
        from airflow.sdk.timezone import utcnow

        now = utcnow()  # the timer has fired: an escalation's people may answer from now on
        answering = [a.login for a in self._assigned(context) if a.valid(now)]
        mailed, unreachable = access.load().emails_of(answering)
        for notifier in self._notifiers():
            notifier(
                {
                    **context,
                    "piak_message": message,
                    "piak_recipients": mailed,
                    "piak_office_too": bool(unreachable) or not mailed,
                }
            )
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
        assigned = self._assigned(context)
        ti = context["ti"]
        opened = datetime.fromisoformat(ti.xcom_pull(task_ids=ti.task_id, key=OPENED_XCOM))
        body = (op.body or "") + approvers.assignment_text(assigned)
        body += deadline_text(self._deadlines(), opened)
        upsert_hitl_detail(
            ti_id=context["task_instance"].id,
            options=op.options,
            subject=op.subject,
            body=body,
            defaults=op.defaults,
            multiple=op.multiple,
            params=op.serialized_params,
            assigned_users=[a.user() for a in assigned] if assigned else op.assigned_users,
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
        login = user.get("name") or user.get("id")
        capacity = approvers.matching(self._assigned(context), str(login), _moment(responded_at))
        actor = login
        if capacity and capacity.capacity == "deputy":
            actor = f"{login} a.n. {capacity.on_behalf_of}"
        common = {"sop_code": self.sop_code, "step_number": self.step_number, "role": self.role}
        steps.record_step(
            context,
            **common,
            outcome=self._outcome(chosen),
            actor=actor,
            output_ref="; ".join(filter(None, [", ".join(chosen), entered])) or None,
            note=note,
            event=self.agenda_event,
            started_at=event.get("opened_at"),  # a kept answer: from the try it answered
        )
        if capacity and capacity.capacity == "exception":
            steps.record_step(
                context,
                **common,
                outcome="exception",
                actor=actor,
                output_ref=f"pengecualian pemisahan tugas: {login}",
                note=capacity.note,
                event=f"{self.agenda_event + '-' if self.agenda_event else ''}pengecualian",
            )


class RoleApprovalOperator(_SignoffMixin, ApprovalOperator):
    """Approve / reject by the holder of a role; a rejection needs a note."""

    APPROVE = APPROVE
    REJECT = REJECT

    def __init__(self, *, signoff: SignoffStep, **kwargs: Any) -> None:
        self._init_signoff(signoff, kwargs)
        super().__init__(**kwargs)

    def _needs_note(self, chosen: list[str]) -> bool:
        return REJECT in chosen

    def _outcome(self, chosen: list[str]) -> str:
        return "rejected" if REJECT in chosen else "approved"


class RoleBranchOperator(_SignoffMixin, HITLBranchOperator):
    """A decision diamond answered by the holder of a role."""

    def __init__(self, *, signoff: SignoffStep, choices: list[Choice], **kwargs: Any) -> None:
        self._init_signoff(signoff, kwargs)
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

    def __init__(self, *, signoff: SignoffStep, **kwargs: Any) -> None:
        self._init_signoff(signoff, kwargs)
        super().__init__(**kwargs)

    def _outcome(self, chosen: list[str]) -> str:
        return "done"


def approval(
    sop_code: str,
    step_number: int,
    *,
    task_id: str,
    fail_on_reject: bool = False,
    show: str | None = None,
    links: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> RoleApprovalOperator:
    """An approve / reject sign-off for a registry step (reject skips what follows, or fails the
    run with ``fail_on_reject``)."""
    return RoleApprovalOperator(
        fail_on_reject=fail_on_reject,
        **_common(sop_code, step_number, task_id, show, links, {}, (REJECT,), kwargs),
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
    noted = tuple(c.label for c in choices if c.needs_note)
    return RoleBranchOperator(
        choices=choices,
        **_common(sop_code, step_number, task_id, show, links, dict(fields or {}), noted, kwargs),
    )


def text_field(title: str, *, max_length: int = 4000) -> Param:
    """A form field for a few lines of free text (at least 3 characters)."""
    return Param(
        "", type="string", minLength=3, maxLength=max_length, format="multiline", title=title
    )


def decisions(
    sop_code: str,
    rows: Iterable[tuple[int, str, list[Choice]]],
    *,
    show: str | Callable[[str], str],
    **kwargs: Any,
) -> list[RoleBranchOperator]:
    """A chain of decisions written as a table: one per row ``(step, task_id, choices)``, in
    order; ``show`` is what each shows, or makes it from the task id."""
    return [
        decision(
            sop_code,
            step,
            task_id=task_id,
            choices=choices,
            show=show(task_id) if callable(show) else show,
            **kwargs,
        )
        for step, task_id, choices in rows
    ]


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
    return RoleEntryOperator(
        **_common(sop_code, step_number, task_id, show, links, dict(fields or {}), (), kwargs)
    )


def _common(
    sop_code: str,
    step_number: int,
    task_id: str,
    show: str | None,
    links: Mapping[str, str] | None,
    fields: dict[str, Param],
    note_required_for: tuple[str, ...],
    extra: dict[str, Any],
) -> dict[str, Any]:
    from piak.workflow.dagkit import reference

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
                f"Wajib diisi bila memilih: {', '.join(note_required_for)}."
                if note_required_for
                else "Boleh dikosongkan."
            ),
            # read by the API server, which refuses such an answer at once (piak.web.form_messages)
            **{NOTE_FOR: list(note_required_for)},
        ),
    }
    run_if = extra.pop("run_if", None)  # "module:function" or the function
    signoff = SignoffStep(
        sop_code,
        step_number,
        step.role,
        required,
        run_if=reference(run_if) if run_if else None,
        agenda_event=extra.pop("agenda_event", None),
    )
    return {
        "task_id": task_id,
        "signoff": signoff,
        "subject": signoff_subject(sop, step),
        "body": signoff_body(
            sop, step, show=show, links=links, note_required_for=note_required_for
        ),
        "params": params,
        "assigned_users": roles.users_for(step.role),
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
        schema[REQUIRED] = True  # checked when answered, by the API server and the task
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
    note_required_for: tuple[str, ...] = (),
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
            f"Pilihan *{_raw(', '.join(note_required_for))}* wajib disertai **catatan**; "
            "tanpa catatan, jawaban tidak diterima.",
        ]
    return "\n".join(lines)


def _raw(text: str) -> str:
    return "{% raw %}" + text + "{% endraw %}" if ("{" in text or "}" in text) else text


def _moment(value: Any) -> datetime:
    """A response time as the event carries it (datetime or ISO text)."""
    from airflow.sdk.timezone import utcnow

    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return utcnow()


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
