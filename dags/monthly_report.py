"""Airflow DAG of the office: the Kadis's monthly report of how the SOPs were kept.

On the 1st of every month at 07:00 WIB, for the month before (or the month given when started
by hand): per SOP, step and role the count, median, p90 and longest duration and the share
within the standard time (Mutu Baku), as XLSX and PDF, mailed to the Kepala Dinas."""

from __future__ import annotations

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import Param

from piak.sops import monthly_report
from piak.workflow.dagkit import STEP_TIMEOUT, office_dag

with office_dag(
    "monthly_report",
    title=monthly_report.TITLE,
    doc_md=monthly_report.__doc__,
    schedule="0 7 1 * *",
    tags=["laporan"],
    params={
        "bulan": Param(
            "",
            type="string",
            pattern=r"^(\d{4}-(0[1-9]|1[0-2]))?$",
            title="Bulan laporan",
            description="YYYY-MM, mis. 2026-11; kosong: bulan sebelum tanggal run.",
        )
    },
):
    compile_report = PythonOperator(
        task_id="compile_report",
        python_callable=monthly_report.compile_report,
        execution_timeout=STEP_TIMEOUT,
        doc_md="Menyusun laporan bulanan (XLSX dan PDF) dari agenda.",
    )
    send_report = PythonOperator(
        task_id="send_report",
        python_callable=monthly_report.send_report,
        execution_timeout=STEP_TIMEOUT,
        doc_md="Mengirim laporan kepada Kepala Dinas (e-mail, kedua berkas terlampir).",
    )
    compile_report >> send_report
