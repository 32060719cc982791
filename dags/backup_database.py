"""Airflow DAG of SOP Prosedur Backup database: nightly backup, verified offsite copy, hand-over."""

from __future__ import annotations

from piak import backup_config, notify
from piak.dagkit import sop_dag, wait, work
from piak.signoff import approval

SOP = "backup_database"
SET_FACTS = (
    "{% set s = ti.xcom_pull(task_ids='place_backup_set') %}"
    "Set **{{ s['set'] }}**, {{ s['size'] }} byte\n\n"
    "{% for f in s['files'] %}- `{{ f['name'] }}` {{ f['size'] }} byte, "
    "SHA-256 `{{ f['sha256'] }}`\n{% endfor %}\n"
    "Salinan: {{ ti.xcom_pull(task_ids='copy_to_offsite')['output_ref'] }}\n\n"
    "Periksa salinan dengan `python -m piak verify-backup <folder set>`."
)

CONFIG = backup_config.load()

with sop_dag(
    SOP,
    schedule=CONFIG.schedule,
    max_active_runs=1,
    tags=["backup"],
    failure_notifier=notify.build(CONFIG.notifier, title="Backup database SIAK"),
):
    # 1 Administrator: a running recovery of the database goes first (the backup waits)
    idle = wait(SOP, 1, task_id="wait_for_recovery", until="piak.recovery:recovery_idle")
    # 1 Administrator: set name from the run's date, free space on the server and every target
    prepare = work(SOP, 1, task_id="prepare_backup", run="piak.backup:prepare")
    # 2 Administrator: export the database (SQLite online backup / Oracle Data Pump over SSH)
    export = work(SOP, 2, task_id="export_database", run="piak.backup:export")
    # 3-4 Administrator: the set in its own dated folder, checked against its manifest
    place = work(SOP, (3, 4), task_id="place_backup_set", run="piak.backup:place")
    # 5 Administrator: copy to the external disk / NAS / SFTP and verify the copy
    copy = work(SOP, 5, task_id="copy_to_offsite", run="piak.backup:copy_offsite")
    # 6 Kasi receives the copy; 7 Kabid receives it from the Kasi (a rejection fails the run)
    receive_kasi = approval(
        SOP, 6, task_id="receive_copy_kasi", show=SET_FACTS, fail_on_reject=True
    )
    receive_kabid = approval(
        SOP, 7, task_id="receive_copy_kabid", show=SET_FACTS, fail_on_reject=True
    )
    # Retention after a fully successful run only
    retention = work(SOP, 8, task_id="apply_retention", run="piak.backup:apply_retention")
    # 8 Kabid: the hand-over in the agenda
    record = work(SOP, 8, task_id="record_handover", run="piak.backup:summarize")

    (
        idle
        >> prepare
        >> export
        >> place
        >> copy
        >> receive_kasi
        >> receive_kabid
        >> retention
        >> record
    )
