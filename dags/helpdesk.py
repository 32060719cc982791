"""Airflow DAG of SOP Prosedur Layanan Bantuan dan Gangguan SIAK: a complaint to its archive.

"Belum berfungsi" at the field check starts a new run of this DAG for the same ticket (the next
round, with the earlier rounds shown); the answers go to the reporter through the notifier."""

from __future__ import annotations

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

from piak.sops import helpdesk
from piak.sops.helpdesk import FIXED, NOT_FIXED
from piak.workflow.dagkit import CHECK_TIMEOUT, sop_dag, trigger_form, work
from piak.workflow.signoff import Choice, decision, entry, text_field

SOP = "helpdesk"
COMPLAINT = (
    "Keluhan: **{{ params.kategori }}** dari {{ params.asal }} ({{ params.pelapor }}, "
    "{{ params.kontak }})\n\n> {{ params.uraian }}\n\n"
    "{% set c = ti.xcom_pull(task_ids='record_complaint') %}"
    "{% if c['history'] %}**Putaran {{ c['round'] }}** - sebelumnya:\n"
    "{% for h in c['history'] %}- putaran {{ h['putaran'] }}: {{ h['hasil'] }} ({{ h['oleh'] }}):"
    " {{ h['temuan'] }}\n{% endfor %}{% endif %}"
)
ANSWER = text_field("Jawaban untuk pelapor")
ALL_DONE = "all_done"  # the answer and the archive also follow a field check given up

# What each sign-off offers: the choice's label and the task it leads to.
ANSWERED = Choice("Selesai: jawaban langsung ke pelapor", "answer_reporter")
HANDLING = [
    Choice("Aplikasi: beri petunjuk ke petugas", "instruct_field_officer"),
    Choice("Jaringan: Telkom dihubungi, petugas memeriksa", "instruct_field_officer"),
    Choice("Laporkan ke Kabid", "review_by_kabid"),
    ANSWERED,
    Choice("Kembalikan ke pelapor: keluhan belum jelas", "answer_reporter", "returned"),
]
REVIEWED = [Choice("Teruskan petunjuk ke Kasi untuk petugas", "instruct_field_officer"), ANSWERED]
FIELD_CHECK = [Choice(FIXED, "answer_reporter"), Choice(NOT_FIXED, "prepare_next_round")]

with sop_dag(
    SOP, params=trigger_form(helpdesk.TRIGGER_FORM, helpdesk.TRIGGER_DEFAULTS), tags=["layanan"]
):
    # 1 JFU: receive the complaint and report it to the Kasi (a later round: the same ticket)
    record_complaint = work(SOP, 1, run=helpdesk.record_complaint)
    # 2 Kasi (decision): answer, contact Telkom, instruct the officer or report to the Kabid
    decide_handling = decision(
        SOP,
        2,
        task_id="decide_handling",
        choices=HANDLING,
        fields={"jawaban": ANSWER},
        show=COMPLAINT,
    )
    # 3 Kabid (decision): review, answer and instruct the Kasi
    review_by_kabid = decision(
        SOP,
        3,
        task_id="review_by_kabid",
        choices=REVIEWED,
        fields={"jawaban": text_field("Jawaban / disposisi")},
        show=COMPLAINT,
    )
    # 4 Kasi: instruct the field officer
    instruct_field_officer = entry(
        SOP,
        4,
        task_id="instruct_field_officer",
        fields={"petunjuk": text_field("Petunjuk untuk petugas")},
        show=COMPLAINT,
        trigger_rule="none_failed_min_one_success",
    )
    # 5 Petugas (its result decides): check the application / network on site
    check_in_field = decision(
        SOP,
        5,
        task_id="check_in_field",
        choices=FIELD_CHECK,
        fields={"temuan": text_field("Temuan dan tindakan di lapangan")},
        show=COMPLAINT
        + "Petunjuk Kasi: {{ ti.xcom_pull(task_ids='instruct_field_officer', key='answer')"
        "['params_input']['petunjuk'] }}",
    )
    # 5 (Belum berfungsi) the round into the ticket's history; the next round in a new run
    prepare_next_round = work(
        SOP,
        5,
        task_id="prepare_next_round",
        run=helpdesk.next_round,
        agenda_event="putaran-berikutnya",
    )
    reopen_complaint = TriggerDagRunOperator(
        task_id="reopen_complaint",
        trigger_dag_id=SOP,
        trigger_run_id="{{ ti.xcom_pull(task_ids='prepare_next_round')['run_id'] }}",
        conf="{{ ti.xcom_pull(task_ids='prepare_next_round')['conf'] | tojson }}",
        logical_date=None,
        skip_when_already_exists=True,
        execution_timeout=CHECK_TIMEOUT,
        openlineage_inject_parent_info=False,
        doc_md="Membuka putaran berikutnya keluhan yang sama (run `<tiket>__putaran-<n>`).",
    )
    # 6 JFU: the answers to the reporter's contact, then the archive (proof of follow-up)
    answer_reporter = work(
        SOP, 6, run=helpdesk.answer_reporter, agenda_event="jawaban-dikirim", trigger_rule=ALL_DONE
    )
    archive_answer = work(
        SOP, 6, task_id="archive_answer", run=helpdesk.archive, trigger_rule=ALL_DONE
    )

    (
        record_complaint
        >> decide_handling
        >> [review_by_kabid, instruct_field_officer, answer_reporter]
    )
    review_by_kabid >> [instruct_field_officer, answer_reporter]
    instruct_field_officer >> check_in_field >> [answer_reporter, prepare_next_round]
    prepare_next_round >> reopen_complaint >> answer_reporter >> archive_answer
