"""DAG integrity: every file in dags/ loads, follows the house rules, and parses offline."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from piak.core import registry

ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((ROOT / "dags").glob("*.py"))


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow_home")))
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_dag_files_exist_and_are_discovered_in_safe_mode():
    from airflow.utils.file import might_contain_dag_via_default_heuristic

    assert DAG_FILES, "dags/ has no DAG file"
    for path in DAG_FILES:
        assert might_contain_dag_via_default_heuristic(str(path)), f"{path.name}: say 'Airflow DAG'"


def test_every_dag_file_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    stems = {path.stem for path in DAG_FILES}
    assert stems == set(dagbag.dag_ids), "one DAG per file, dag_id = file stem"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_dag_follows_house_rules(dagbag, path):
    dag = dagbag.dags[path.stem]
    if "kantor" in dag.tags:  # the office's own DAG (the monthly report): no one SOP's
        assert dag.doc_md and dag.description
        assert "sop" not in dag.tags
    else:
        assert dag.tags and "sop" in dag.tags
        assert dag.doc_md and sop_of(dag).title in dag.doc_md
    assert dag.timezone.name == "Asia/Jakarta"
    assert not dag.catchup
    timetable_tz = getattr(dag.timetable, "_timezone", None)
    if timetable_tz is not None:
        assert str(getattr(timetable_tz, "name", timetable_tz)) == "Asia/Jakarta"
    for task in dag.tasks:
        assert task.owner == "bidang-piak", task.task_id
        assert task.retries >= 1, task.task_id
        assert task.doc_md, f"{task.task_id} has no doc_md (its SOP step)"


def sop_of(dag):
    """The SOP a DAG carries out: its dag_id, or (for a DAG serving an SOP) the tag naming it."""
    codes = {sop.code for sop in registry.load_registry()}
    found = [tag for tag in dag.tags if tag in codes]
    assert len(found) == 1, f"{dag.dag_id}: tags must name exactly one SOP"
    return registry.get_sop(found[0])


def test_every_sop_has_its_dag(dagbag):
    assert {sop.code for sop in registry.load_registry()} <= set(dagbag.dag_ids)


@pytest.mark.parametrize("sop", registry.load_registry(), ids=lambda s: s.code)
def test_tasks_cover_the_sop_steps(dagbag, sop):
    """Every step of an SOP is carried out by a task of the DAGs that carry it out (the backup's
    hand-over, for one, waits in its own DAG)."""
    covered = set()
    for dag in dagbag.dags.values():
        if "kantor" in dag.tags or sop_of(dag).code != sop.code:
            continue
        for task in dag.tasks:
            covered |= set(getattr(task, "steps_covered", (getattr(task, "step_number", None),)))
    assert covered >= {s.number for s in sop.steps}, "every SOP step has a task"


def test_parsing_touches_no_database_and_no_network(tmp_path):
    """Parse every DAG file in a fresh process where sockets and SQL engines raise."""
    script = textwrap.dedent(
        f"""
        import importlib.util, pathlib, socket, sqlite3
        import sqlalchemy.engine

        def refuse(*args, **kwargs):
            raise RuntimeError("parse-time I/O: " + repr(args[:2]))

        socket.socket.connect = refuse
        socket.create_connection = refuse
        sqlite3.connect = refuse
        sqlalchemy.engine.Engine.connect = refuse

        for path in sorted(pathlib.Path({str(ROOT / "dags")!r}).glob("*.py")):
            spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        print("parsed")
        """
    )
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT / "include"),
        AIRFLOW_HOME=str(tmp_path),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path}/missing/dir/airflow.db",
        PIAK_AGENDA_URL=f"sqlite:///{tmp_path}/missing/dir/agenda.db",
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "parsed" in result.stdout


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_every_dag_first_checks_who_triggered_it_and_carries_its_permissions(dagbag, path):
    """Nothing runs before ``check_trigger_rights``; the DAG's FAB permissions are the ones
    ``config/access.yaml`` gives it; every role answering a sign-off may see it."""
    from piak.core import access

    dag = dagbag.dags[path.stem]
    config = access.load()
    assert [t.task_id for t in dag.roots] == ["check_trigger_rights"]
    first = dag.get_task("check_trigger_rights")
    assert first.retries >= 1 and first.steps_covered == ()
    assert dag.access_control == config.fab_access_control(dag.dag_id)
    for role, permissions in dag.access_control.items():
        assert set(permissions) <= {"DAGs", "DAG Runs"}, role
        assert permissions["DAGs"] == {"can_read"}, "nobody but Admin edits or deletes a DAG"
    seeing = set(config.rights(dag.dag_id).seeing)
    for task in dag.tasks:
        assert getattr(task, "answering_roles", set)() <= seeing, task.task_id


def test_a_production_recovery_waits_for_both_permissions_before_touching_anything(dagbag):
    dag = dagbag.dags["database_recovery"]
    kasi = dag.get_task("permit_production_restore_kasi")
    kabid = dag.get_task("permit_production_restore_kabid")
    safety = dag.get_task("export_safety_backup")
    assert (kasi.role, kabid.role) == ("kasi", "kabid")
    assert kasi.run_if == kabid.run_if == "piak.sops.recovery:production_target"
    assert kasi.fail_on_reject and kabid.fail_on_reject
    assert kabid.task_id in kasi.downstream_task_ids
    assert safety.upstream_task_ids == {kabid.task_id} and safety.trigger_rule == "none_failed"
    touching = {"export_safety_backup", "import_backup_set"}
    assert touching <= kabid.get_flat_relative_ids(upstream=False)
    assert not touching & kasi.get_flat_relative_ids(upstream=True)


def _references(task) -> list[tuple[str, str]]:
    """The ``"module:function"`` strings a task runs or asks: its code, its wait condition, the
    condition of a sign-off (``run_if``)."""
    found = [(kind, getattr(task, attr, None)) for kind, attr in
             (("run", "run_path"), ("until", "until"), ("run_if", "run_if"))]  # fmt: skip
    return [(kind, ref) for kind, ref in found if ref]


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_every_task_reference_is_a_callable_taking_the_context(dagbag, path):
    """A misspelt ``run="piak.x:f"`` fails here, not in the night's run."""
    import inspect

    from piak.workflow.dagkit import resolve

    dag = dagbag.dags[path.stem]
    for task in dag.tasks:
        for kind, ref in _references(task):
            target = resolve(ref)
            assert callable(target), f"{dag.dag_id}.{task.task_id}: {kind}={ref!r}"
            kwargs = dict(getattr(task, "op_kwargs", {}) or {}) if kind == "run" else {}
            inspect.signature(target).bind({}, **kwargs)  # context first, then op_kwargs


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_every_task_but_a_human_one_has_an_execution_timeout(dagbag, path):
    """A hung SSH session or mount must not hold a worker slot for ever; a person's answer is
    bounded by the sign-off's deadlines instead (``config/signoffs.yaml``)."""
    from airflow.providers.standard.operators.hitl import HITLOperator

    dag = dagbag.dags[path.stem]
    for task in dag.tasks:
        if isinstance(task, HITLOperator):
            assert task.execution_timeout is None, f"{task.task_id}: would cut the answer"
            continue
        assert task.execution_timeout is not None, f"{dag.dag_id}.{task.task_id}"
        assert task.retry_exponential_backoff, task.task_id


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_every_dag_tells_the_office_of_failures_and_waiting_sign_offs(dagbag, path):
    """The agenda records every failure; the office's notifier (mail and chat when their
    Connections exist) hears of it and carries the sign-offs' reminders."""
    from piak.workflow import notify, steps

    callbacks = dagbag.dags[path.stem].default_args["on_failure_callback"]
    assert callbacks[0] is steps.record_failure
    assert any(isinstance(c, notify.OfficeNotifier) for c in callbacks[1:]), path.stem
