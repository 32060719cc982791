"""Airflow DAG of SOP Recovery Database: restore a verified backup set, validated, reported."""

from __future__ import annotations

from piak.engines import backup_config
from piak.sops import recovery
from piak.workflow import notify
from piak.workflow.dagkit import sop_dag, trigger_form, work
from piak.workflow.signoff import approval

SOP = "database_recovery"
REPORT = (
    "{% set r = ti.xcom_pull(task_ids='validate_restore') %}"
    "Pemulihan **{{ params.set_name }}** ke **{{ params.target }}**: "
    "{{ r['note'] }}\n\n| Tabel | Manifest | Hasil |\n|---|---|---|\n"
    "{% for t in r['tables'] %}| {{ t['table'] }} | {{ t['expected'] }} | {{ t['actual'] }} |\n"
    "{% endfor %}\nSumber: {{ ti.xcom_pull(task_ids='verify_backup_set')['note'] }}"
)

PERMIT = (
    "{% set p = ti.xcom_pull(task_ids='prepare_recovery') %}"
    "**Pemulihan ke PRODUKSI menunggu izin Anda. Belum ada yang diubah.**\n\n"
    "- Set: **{{ p['output_ref'] }}** - {{ p['note'] }}\n"
    "- Verifikasi set: {{ ti.xcom_pull(task_ids='verify_backup_set')['note'] }}\n"
    "- Uji coba impor: {{ ti.xcom_pull(task_ids='dry_run_import')['note'] }}\n"
    "- Lebih dulu dibuat set pengaman **{{ p['safety_set'] }}** dari basis data produksi saat "
    "ini, agar pemulihan ini dapat dibatalkan.\n\n"
    "| Tabel | Baris di set |\n|---|---|\n"
    "{% for t in p['tables'] %}| {{ t['table'] }} | {{ t['rows'] }} |\n{% endfor %}\n"
    "*Tolak* menghentikan pemulihan; produksi tidak disentuh."
)

CONFIG = backup_config.load()

with sop_dag(
    SOP,
    params=trigger_form(recovery.TRIGGER_FORM, recovery.TRIGGER_DEFAULTS),
    max_active_runs=1,
    tags=["backup", "recovery"],
    failure_notifier=notify.build(CONFIG.notifier, title="Pemulihan database SIAK"),
):
    # 1 Administrator: decide what is restored where (checked before anything happens)
    prepare = work(SOP, 1, task_id="prepare_recovery", run=recovery.prepare)
    # 5 Administrator: the file to recover from - verified, or an intact offsite copy
    verify = work(SOP, 5, task_id="verify_backup_set", run=recovery.verify)
    # 2-4 Administrator: open the import tool and log in - a dry run that changes nothing
    dry_run = work(SOP, (2, 3, 4), task_id="dry_run_import", run=recovery.dry_run)
    # 7-8 production only: the Kasi, then the Kabid, allow it before anything is touched
    permits = [
        approval(
            SOP,
            step,
            task_id=f"permit_production_restore_{role}",
            show=PERMIT,
            fail_on_reject=True,
            run_if=recovery.production_target,
            agenda_event="izin-pulih-produksi",
        )
        for step, role in ((7, "kasi"), (8, "kabid"))
    ]
    # 6 Administrator: production only - a safety export first, so a recovery can be undone
    safety = work(
        SOP,
        6,
        task_id="export_safety_backup",
        run=recovery.safety_export,
        trigger_rule="none_failed",
    )
    # 6 Administrator: the database is recovered
    restore = work(SOP, 6, task_id="import_backup_set", run=recovery.import_set)
    # 6 Administrator: row counts per table equal the manifest's
    validate = work(SOP, 6, task_id="validate_restore", run=recovery.validate)
    # 7 Report to the Kasi; 8 report to the Kabid
    report_kasi = approval(SOP, 7, task_id="report_to_kasi", show=REPORT, fail_on_reject=True)
    report_kabid = approval(SOP, 8, task_id="report_to_kabid", show=REPORT, fail_on_reject=True)
    # 9 Kabid: the recovery in the agenda
    record = work(SOP, 9, task_id="record_recovery", run=recovery.summarize)

    prepare >> verify >> dry_run >> permits[0] >> permits[1] >> safety >> restore >> validate
    validate >> report_kasi >> report_kabid >> record
