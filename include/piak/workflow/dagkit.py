"""Building blocks for the SOP DAG files: the DAG itself and its operational steps.

A DAG file reads like its SOP table::

    with sop_dag("helpdesk", params=...):
        record = work("helpdesk", 1, run=helpdesk.record_complaint)
        triage = signoff.decision("helpdesk", 2, task_id="decide_handling", choices=HANDLING)

An operational step names its function; the operator keeps its ``"module:function"`` path and
imports it when the task runs (SOP modules import what is heavy inside their functions, so
parsing a DAG file stays light).

Every DAG made by :func:`sop_dag` starts with ``check_trigger_rights``
(:class:`TriggerRightsOperator`), put before its first tasks when the ``with`` block ends, and
carries the ``access_control`` of ``config/access.yaml`` (:mod:`piak.core.access`): the DAG files do
not mention either.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, BaseOperator, BaseSensorOperator

from piak.core import access, registry, settings
from piak.core.errors import InvalidRequest
from piak.workflow import notify, steps

log = logging.getLogger(__name__)

OWNER = "bidang-piak"
START_DATE = pendulum.datetime(2026, 1, 1, tz=settings.TIMEZONE)
#: How long one try of a step run by code may take before Airflow stops it (a hung SSH session,
#: a stuck NFS mount): longer than the slowest Data Pump export seen, far shorter than a night.
STEP_TIMEOUT = timedelta(hours=4)
#: The same for what only reads a little (the trigger check, a wait's poke, the freshness check).
CHECK_TIMEOUT = timedelta(minutes=5)
DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": 2.0,  # 1 min, then 2 min: a flapping link gets time to settle
    "on_failure_callback": steps.record_failure,
}


def sop_dag(
    sop_code: str,
    *,
    schedule: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: list[str] | None = None,
    failure_notifier: Any = None,
    dag_id: str | None = None,
    **kwargs: Any,
) -> DAG:
    """The DAG of one SOP: ``dag_id`` = SOP code = file stem; its doc is the SOP table.

    A DAG that serves an SOP without being its procedure (the weekly restore drill) passes its
    own ``dag_id``; its tasks still carry the SOP's step numbers.

    ``schedule`` is a cron expression read in Asia/Jakarta (WIB) or None for manual runs. Every
    failed task is written to the agenda and told to ``failure_notifier`` (a BaseNotifier, default
    :class:`piak.workflow.notify.OfficeNotifier`), which also carries the sign-offs' reminders.
    """
    sop = registry.get_sop(sop_code)
    dag_id = dag_id or sop_code
    dag = _build(
        SopDag,
        _dag_args(dag_id, sop.title, steps.sop_doc(sop), schedule, failure_notifier, kwargs),
        params=dict(params or {}),
        tags=["sop", sop_code, *(tags or [])],
    )
    dag.sop_code = sop_code
    return dag


def office_dag(
    dag_id: str,
    *,
    title: str,
    doc_md: str,
    schedule: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: list[str] | None = None,
    **kwargs: Any,
) -> DAG:
    """A DAG of the office that is no one SOP's procedure (the Kadis's monthly report): the same
    defaults, permissions, notifier and ``check_trigger_rights`` as :func:`sop_dag`."""
    return _build(
        OfficeDag,
        _dag_args(dag_id, title, doc_md, schedule, None, kwargs),
        params=dict(params or {}),
        tags=["kantor", *(tags or [])],
    )


def _build(cls: type[DAG], args: dict[str, Any], **more: Any) -> Any:
    with warnings.catch_warnings():
        # access_control is how the FAB auth manager takes DAG-level permissions; Airflow warns
        # about its old permissions module whenever a DAG sets it
        warnings.filterwarnings("ignore", message=".*airflow.security.permissions module")
        return cls(**args, **more)


def _dag_args(
    dag_id: str,
    title: str,
    doc_md: str,
    schedule: str | None,
    failure_notifier: Any,
    kwargs: dict[str, Any],
) -> dict[str, Any]:
    from airflow.sdk import CronTriggerTimetable

    return {
        "dag_id": dag_id,
        "access_control": access.load().fab_access_control(dag_id),
        "description": title,
        "doc_md": doc_md,
        "schedule": CronTriggerTimetable(schedule, timezone=settings.TIMEZONE)
        if schedule
        else None,
        "start_date": START_DATE,
        "catchup": False,
        # a scheduled DAG runs one at a time: a slow night never overlaps the next
        "max_active_runs": kwargs.pop("max_active_runs", 1 if schedule else 16),
        "default_args": {
            **DEFAULT_ARGS,
            "on_failure_callback": [
                steps.record_failure,
                failure_notifier or notify.OfficeNotifier(title=title),
            ],
        },
        **kwargs,
    }


class SopDag(DAG):
    """The DAG of :func:`sop_dag`. When its ``with`` block ends, every role answering one of its
    sign-offs must see it (``config/access.yaml``), and ``check_trigger_rights`` goes first."""

    sop_code: str

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                self._check_signers()
                self._guard_first_tasks()
        finally:
            super().__exit__(exc_type, exc, tb)

    def _check_signers(self) -> None:
        config = access.load()
        seeing = set(config.rights(self.dag_id).seeing)
        for task in self.tasks:
            missing = set(getattr(task, "answering_roles", set)()) - seeing
            if missing:
                raise access.ConfigError(
                    f"{config.source}: dags.{self.dag_id}.view: {access.titles(sorted(missing))} "
                    f"menjawab langkah {task.task_id}, jadi harus boleh melihat DAG ini"
                )

    def _guard_first_tasks(self) -> None:
        numbers = [n for t in self.tasks for n in getattr(t, "steps_covered", ())]
        first_step = min(numbers) if numbers else registry.get_sop(self.sop_code).steps[0].number
        _guard(
            self,
            TriggerRightsOperator(
                task_id=TRIGGER_CHECK_TASK,
                sop_code=self.sop_code,
                step_number=first_step,
                dag=self,
            ),
        )


class OfficeDag(DAG):
    """The DAG of :func:`office_dag`: ``check_trigger_rights`` goes first."""

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                _guard(self, TriggerRightsOperator(task_id=TRIGGER_CHECK_TASK, dag=self))
        finally:
            super().__exit__(exc_type, exc, tb)


def _guard(dag: DAG, first: BaseOperator) -> None:
    """``first`` before every other task of ``dag``, as a setup task: when it fails, Airflow
    marks every task after it upstream_failed, including those whose trigger rule also runs
    after failures (all_done) - a refused run ends failed with nothing else run."""
    roots = [task for task in dag.roots if task is not first]
    first.as_setup()
    for task in roots:
        first >> task


TRIGGER_CHECK_TASK = "check_trigger_rights"


class TriggerRightsOperator(BaseOperator):
    """The first task of every SOP DAG: may whoever started this run start it?

    The run's recorded triggering user (``dag_run.triggering_user_name``; none for the
    scheduler's runs) is checked against ``config/access.yaml``
    (:func:`piak.core.access.trigger_refusal`). A refusal fails the run here - before any other
    task, without retry - with the reason in the task log and the agenda.
    """

    def __init__(
        self, *, sop_code: str | None = None, step_number: int | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault(
            "doc_md",
            "Memeriksa bahwa yang memicu run ini berhak memicu DAG ini (`config/access.yaml`); "
            "bila tidak, run berhenti di sini dan penolakannya dicatat di agenda.",
        )
        kwargs.setdefault("execution_timeout", CHECK_TIMEOUT)
        super().__init__(**kwargs)
        #: The SOP step whose agenda records a refusal (none for an office DAG: its log only).
        self.sop_code, self.step_number = sop_code, step_number
        self.role = registry.get_sop(sop_code).step(step_number).role if sop_code else None
        #: Carries out no SOP step itself.
        self.steps_covered: tuple[int, ...] = ()

    def execute(self, context: Any) -> dict[str, Any]:
        dag_run = context["dag_run"]
        user = getattr(dag_run, "triggering_user_name", None)
        run_type = getattr(dag_run, "run_type", "") or ""
        run_type = str(getattr(run_type, "value", run_type))  # the SDK's enum prints its name
        refusal = access.trigger_refusal(access.load(), self.dag_id, run_type, user)
        if refusal:
            from airflow.sdk.exceptions import AirflowFailException

            if self.sop_code is None:
                raise AirflowFailException(refusal)
            steps.record_step(
                context,
                sop_code=self.sop_code,
                step_number=self.step_number,
                role=self.role,
                outcome="failed",
                note=refusal,
            )
            failure = AirflowFailException(refusal)
            failure.agenda_recorded = True
            raise failure
        who = user or steps.SCHEDULER_ACTOR
        log.info("Run %s (%s) dipicu oleh %s: diizinkan", context["run_id"], run_type, who)
        return {"triggered_by": who, "run_type": run_type}


class SopStepOperator(BaseOperator):
    """Runs the code of one operational SOP step and writes its outcome to the agenda.

    ``run`` is ``"module:function"``; the function takes the task context and returns small
    metadata (a dict; its ``output_ref`` and ``note`` go to the agenda, ``actor`` - the role holder
    on whose approval the code acted - replaces who triggered the run) or None; ``"stop": True``
    ends the procedure there (the following steps are skipped). It must be idempotent: a retry
    runs it again. ``agenda_event`` makes its entry an event beside the step (work around a step
    - retention, a re-check - that is not the step itself and is not measured as it).
    """

    template_fields = ("op_kwargs",)

    def __init__(
        self,
        *,
        sop_code: str,
        step_number: int | tuple[int, ...],
        run: str,
        op_kwargs: Mapping[str, Any] | None = None,
        agenda_event: str | None = None,
        **kwargs: Any,
    ) -> None:
        sop = registry.get_sop(sop_code)
        numbers = (step_number,) if isinstance(step_number, int) else tuple(step_number)
        kwargs.setdefault("doc_md", "\n\n".join(steps.step_doc(sop, sop.step(n)) for n in numbers))
        kwargs.setdefault("execution_timeout", STEP_TIMEOUT)
        super().__init__(**kwargs)
        step = sop.step(numbers[-1])
        self.sop_code, self.step_number, self.role = sop_code, step.number, step.role
        #: Every SOP step this task carries out (the agenda records the last).
        self.steps_covered = numbers
        self.run_path = run
        self.agenda_event = agenda_event
        self.op_kwargs = dict(op_kwargs or {})
        if ":" not in run:
            raise ValueError(f"{self.task_id}: run must be 'module:function', got {run!r}")

    def execute(self, context: Any) -> Any:
        try:
            result = resolve(self.run_path)(context, **self.op_kwargs) or {}
        except InvalidRequest as exc:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(str(exc)) from None
        sop = registry.get_sop(self.sop_code)
        for number in self.steps_covered:
            steps.record_step(
                context,
                sop_code=self.sop_code,
                step_number=number,
                role=sop.step(number).role,
                outcome=result.get("outcome", "done"),
                actor=result.get("actor"),
                output_ref=result.get("output_ref"),
                note=result.get("note"),
                event=self.agenda_event,
            )
        if result.get("stop"):  # the procedure ends here (recorded above); the rest is skipped
            from airflow.sdk.exceptions import AirflowSkipException

            raise AirflowSkipException(result.get("note") or "selesai")
        return result


def trigger_form(
    fields: Mapping[str, Mapping[str, Any]], defaults: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A DAG's trigger form as Airflow Params from JSON-schema dicts (configuration is data);
    ``defaults`` gives a field's default when its schema does not carry one."""
    from airflow.sdk import Param

    from piak.core.forms import with_limits

    defaults = defaults or {}
    return {
        name: Param(defaults[name], **with_limits(schema))
        if name in defaults
        else Param(**with_limits(schema))
        for name, schema in fields.items()
    }


def work(
    sop_code: str,
    step_number: int | tuple[int, ...],
    *,
    run: str | Callable[..., Any],
    task_id: str | None = None,
    **kwargs: Any,
) -> BaseOperator:
    """An operational step (or consecutive steps) of ``sop_code`` performed by ``run`` (a
    function taking the task context); ``task_id`` is the function's name unless given."""
    path = reference(run)
    return SopStepOperator(
        sop_code=sop_code,
        step_number=step_number,
        run=path,
        task_id=task_id or path.rpartition(":")[2],
        **kwargs,
    )


class SopWaitSensor(BaseSensorOperator):
    """Waits (rescheduled, holding no worker slot) until ``until(context)`` returns True."""

    def __init__(self, *, sop_code: str, step_number: int, until: str, **kwargs: Any) -> None:
        sop = registry.get_sop(sop_code)
        kwargs.setdefault("doc_md", steps.step_doc(sop, sop.step(step_number)))
        kwargs.setdefault("execution_timeout", CHECK_TIMEOUT)  # one poke; `timeout` bounds the wait
        super().__init__(**kwargs)
        self.sop_code, self.step_number = sop_code, step_number
        self.role = sop.step(step_number).role
        self.steps_covered = (step_number,)
        self.until = until
        if ":" not in until:
            raise ValueError(f"{self.task_id}: until must be 'module:function', got {until!r}")

    def poke(self, context: Any) -> bool:
        return bool(resolve(self.until)(context))


def wait(
    sop_code: str,
    step_number: int,
    *,
    task_id: str,
    until: str | Callable[..., Any],
    poke_interval: float = 15,
    timeout: timedelta = timedelta(hours=20),
    **kwargs: Any,
) -> BaseOperator:
    """Wait for a condition before a step (e.g. no recovery running) without failing early.
    It looks again every ``poke_interval`` seconds, each look a short task holding no slot in
    between: a backup waiting for a ten-minute recovery starts at most 15 s after it ended."""
    return SopWaitSensor(
        sop_code=sop_code,
        step_number=step_number,
        until=reference(until),
        task_id=task_id,
        mode="reschedule",
        poke_interval=poke_interval,
        timeout=timeout,
        **kwargs,
    )


def reference(target: str | Callable[..., Any]) -> str:
    """``"package.module:function"`` for a task's code: a DAG file names the function itself;
    its operator keeps the path, imported when the task runs (:func:`resolve`)."""
    return f"{target.__module__}:{target.__qualname__}" if callable(target) else target


def resolve(path: str) -> Callable[..., Any]:
    """Import ``"package.module:function"``."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)
