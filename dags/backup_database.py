"""Airflow DAG of SOP Prosedur Backup database, steps 1-5: the nightly backup and its verified
offsite copy. The hand-over (steps 6-8) waits in its own run (``backup_handover``), so a night
nobody signs never stops the next night's backup; ``backup_freshness`` alerts when the newest
verified set gets old."""

from __future__ import annotations

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

from piak.engines import backup_config
from piak.sops import backup, recovery
from piak.workflow import notify
from piak.workflow.dagkit import CHECK_TIMEOUT, sop_dag, wait, work

SOP = "backup_database"
CONFIG = backup_config.load()

with sop_dag(
    SOP,
    schedule=CONFIG.schedule,
    tags=["backup"],
    failure_notifier=notify.build(CONFIG.notifier, title="Backup database SIAK"),
):
    # 1 Administrator: a running recovery of the database goes first (the backup waits)
    idle = wait(SOP, 1, task_id="wait_for_recovery", until=recovery.recovery_idle)
    # 1 Administrator: set name from the run's date, free space on the server and every target
    prepare = work(SOP, 1, task_id="prepare_backup", run=backup.prepare)
    # 2 Administrator: export the database (SQLite online backup / Oracle Data Pump over SSH)
    export = work(SOP, 2, task_id="export_database", run=backup.export)
    # 3-4 Administrator: the set in its own dated folder, checked against its manifest
    place = work(SOP, (3, 4), task_id="place_backup_set", run=backup.place)
    # 5 Administrator: copy to the external disk / NAS / SFTP and verify the copy
    copy = work(SOP, 5, task_id="copy_to_offsite", run=backup.copy_offsite)
    # Retention once the copies are verified (an event of step 5 in the agenda)
    retention = work(SOP, 5, run=backup.apply_retention, agenda_event="retensi")
    # 6-8 in their own run: the Kasi and the Kabid receive the copy (DAG backup_handover)
    request_handover = TriggerDagRunOperator(
        task_id="request_handover",
        trigger_dag_id="backup_handover",
        trigger_run_id="handover__{{ ti.xcom_pull(task_ids='place_backup_set')['set'] }}",
        conf={"set_name": "{{ ti.xcom_pull(task_ids='place_backup_set')['set'] }}"},
        logical_date=None,
        skip_when_already_exists=True,
        execution_timeout=CHECK_TIMEOUT,
        doc_md="Membuka serah terima set malam ini (langkah 6-8) di DAG `backup_handover`.",
    )

    idle >> prepare >> export >> place >> copy >> retention >> request_handover
