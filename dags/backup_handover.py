"""Airflow DAG of SOP Prosedur Backup database, steps 6-8: the hand-over of one night's set.

Started by ``backup_database`` for every verified set (or by hand with the set's name). It waits
for the Kasi and the Kabid on its own, with due times, reminders and escalation
(``config/signoffs.yaml``), so the nightly backup never waits for a signature."""

from __future__ import annotations

from airflow.sdk import Param

from piak.engines import backup_config, backupset
from piak.sops import backup
from piak.workflow import notify
from piak.workflow.dagkit import sop_dag, work
from piak.workflow.signoff import approval

SOP = "backup_database"
CONFIG = backup_config.load()
EVIDENCE = (
    "{% set e = ti.xcom_pull(task_ids='verify_handover_copies') %}"
    "**Diperiksa sistem** pada {{ e['checked_at'] }} (UTC): set **{{ e['set'] }}**, "
    "{{ e['size'] }} byte, diekspor {{ e['exported_at'] }}.\n\n"
    "Setiap berkas dibaca ulang di server dan di setiap salinan; SHA-256 cocok dengan manifest:\n\n"
    "{% for f in e['files'] %}- `{{ f['name'] }}` {{ f['size'] }} byte, "
    "SHA-256 `{{ f['sha256'] }}`\n{% endfor %}\n"
    "Salinan: {% for t in e['targets'] %}{{ t['name'] }} (`{{ t['path'] }}`) {% endfor %}\n\n"
    "Isi: {{ e['tables'] }} tabel, {{ e['rows'] }} baris, sama dengan jumlah yang tercatat dari "
    "sumber saat backup:\n\n"
    "{% for t, n in e['row_counts'].items() %}- {{ t }}: {{ n }}\n{% endfor %}"
    "{% if e['warnings'] %}\n**Peringatan Data Pump:** "
    "{{ e['warnings'] | join('; ') }}\n{% endif %}"
)

with sop_dag(
    SOP,
    dag_id="backup_handover",
    tags=["backup"],
    params={
        "set_name": Param(
            type="string",
            pattern=backupset.SET_NAME.pattern,
            title="Nama set cadangan",
            description="Diisi otomatis oleh backup malam; contoh siak_20261125T2300.",
        )
    },
    failure_notifier=notify.build(CONFIG.notifier, title="Serah terima backup SIAK"),
):
    # 5 (re-check) the set and every copy read again against the server's manifest
    evidence = work(
        SOP,
        5,
        task_id="verify_handover_copies",
        run=backup.handover_evidence,
        agenda_event="periksa-ulang",
    )
    # 6 Kasi receives the copy; 7 Kabid receives it from the Kasi (a rejection fails the run)
    receive_kasi = approval(SOP, 6, task_id="receive_copy_kasi", show=EVIDENCE, fail_on_reject=True)
    receive_kabid = approval(
        SOP, 7, task_id="receive_copy_kabid", show=EVIDENCE, fail_on_reject=True
    )
    # 8 Kabid: the hand-over in the agenda
    record = work(SOP, 8, run=backup.record_handover)

    evidence >> receive_kasi >> receive_kabid >> record
