"""Airflow DAG of SOP Prosedur Layanan Bantuan dan Gangguan SIAK: a complaint to its archive."""

from __future__ import annotations

from airflow.sdk import Param

from piak import helpdesk
from piak.dagkit import sop_dag, trigger_form, work
from piak.signoff import Choice, decision, entry

SOP = "helpdesk"
TEXT = {"type": "string", "minLength": 3, "maxLength": 4000, "format": "multiline"}

with sop_dag(
    SOP,
    params=trigger_form(helpdesk.TRIGGER_FORM, helpdesk.TRIGGER_DEFAULTS),
    tags=["layanan"],
):
    # 1 JFU: receive the complaint and report it to the Kasi
    record_complaint = work(
        SOP, 1, task_id="record_complaint", run="piak.helpdesk:record_complaint"
    )
    # 2 Kasi (decision): answer, contact Telkom, instruct the officer or report to the Kabid
    decide_handling = decision(
        SOP,
        2,
        task_id="decide_handling",
        choices=[
            Choice("Aplikasi: beri petunjuk ke petugas", "instruct_field_officer"),
            Choice("Jaringan: Telkom dihubungi, petugas memeriksa", "instruct_field_officer"),
            Choice("Laporkan ke Kabid", "review_by_kabid"),
            Choice("Selesai: jawaban langsung ke pelapor", "archive_answer"),
            Choice("Kembalikan ke pelapor: keluhan belum jelas", "archive_answer", "returned"),
        ],
        show="Keluhan: **{{ params.kategori }}** dari {{ params.asal }} ({{ params.pelapor }})"
        "\n\n> {{ params.uraian }}",
    )
    # 3 Kabid (decision): review, answer and instruct the Kasi
    review_by_kabid = decision(
        SOP,
        3,
        task_id="review_by_kabid",
        choices=[
            Choice("Teruskan petunjuk ke Kasi untuk petugas", "instruct_field_officer"),
            Choice("Selesai: jawaban langsung ke pelapor", "archive_answer"),
        ],
        fields={"jawaban": Param("", title="Jawaban / disposisi untuk Kasi", **TEXT)},
        show="Keluhan: **{{ params.kategori }}** dari {{ params.asal }}\n\n> {{ params.uraian }}",
    )
    # 4 Kasi: instruct the field officer
    instruct_field_officer = entry(
        SOP,
        4,
        task_id="instruct_field_officer",
        fields={"petunjuk": Param("", title="Petunjuk untuk petugas", **TEXT)},
        show="Keluhan: **{{ params.kategori }}** dari {{ params.asal }}\n\n> {{ params.uraian }}",
        trigger_rule="none_failed_min_one_success",
    )
    # 5 Petugas: check the application / network on site
    check_in_field = entry(
        SOP,
        5,
        task_id="check_in_field",
        fields={
            "hasil": Param(
                "Sudah berfungsi",
                type="string",
                enum=["Sudah berfungsi", "Belum berfungsi"],
                title="Hasil pemeriksaan",
            ),
            "temuan": Param("", title="Temuan dan tindakan di lapangan", **TEXT),
        },
        show="Petunjuk Kasi: {{ ti.xcom_pull(task_ids='instruct_field_officer', key='answer')"
        "['params_input']['petunjuk'] }}",
    )
    # 6 JFU: archive the answers (proof of follow-up)
    archive_answer = work(
        SOP,
        6,
        task_id="archive_answer",
        run="piak.helpdesk:archive",
        trigger_rule="none_failed_min_one_success",
    )

    record_complaint >> decide_handling >> [review_by_kabid, instruct_field_officer, archive_answer]
    review_by_kabid >> [instruct_field_officer, archive_answer]
    instruct_field_officer >> check_in_field >> archive_answer
