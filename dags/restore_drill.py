"""Airflow DAG of the weekly restore drill (SOP Recovery Database): the newest backup restores."""

from __future__ import annotations

from piak.engines import backup_config
from piak.sops import recovery
from piak.workflow import notify
from piak.workflow.dagkit import sop_dag, wait, work

SOP = "database_recovery"
CONFIG = backup_config.load()

with sop_dag(
    SOP,
    dag_id="restore_drill",
    schedule=CONFIG.recovery.drill_schedule,
    tags=["backup", "recovery", "drill"],
    failure_notifier=notify.build(CONFIG.notifier, title="Uji pulih mingguan database SIAK"),
):
    # 1 The newest set verified on the server and on every offsite target, into scratch
    idle = wait(SOP, 1, task_id="wait_for_recovery", until=recovery.recovery_idle)
    prepare = work(SOP, 1, task_id="choose_newest_set", run=recovery.prepare_drill)
    # 5 Verify the set against its manifest (or an intact offsite copy)
    verify = work(SOP, 5, task_id="verify_backup_set", run=recovery.verify)
    # 2-4 Dry run: integrity check / impdp SQLFILE
    dry_run = work(SOP, (2, 3, 4), task_id="dry_run_import", run=recovery.dry_run)
    # 6 Restore into scratch and compare row counts with the manifest
    restore = work(SOP, 6, task_id="import_backup_set", run=recovery.import_set)
    validate = work(SOP, 6, task_id="validate_restore", run=recovery.validate)
    # 9 The set is marked restore-tested; the result in the agenda
    mark = work(SOP, 9, run=recovery.mark_restore_tested)

    idle >> prepare >> verify >> dry_run >> restore >> validate >> mark
