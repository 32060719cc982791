"""Airflow DAG of SOP Prosedur Penanganan Penggunaan diluar Ketentuan, step 1: monitoring.

Every hour (``config/usage_policy.yaml``) and on demand: who is connected to SIAK and what they
did, checked against the policy and the access register. Each account with new evidence becomes
a case in its own run of ``out_of_policy_case`` (steps 2-6); nothing found is one agenda line."""

from __future__ import annotations

from airflow.providers.standard.operators.python import PythonOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

from piak.sops import usage_policy
from piak.workflow.dagkit import CHECK_TIMEOUT, sop_dag, trigger_form, work

SOP = "out_of_policy_usage"
POLICY = usage_policy.load_policy()

with sop_dag(
    SOP,
    schedule=POLICY.schedule,
    params=trigger_form(usage_policy.TRIGGER_FORM, usage_policy.TRIGGER_DEFAULTS),
    tags=["keamanan"],
):
    # 1 Administrator: monitoring - sessions and the audit trail against the policy
    monitor = work(SOP, 1, run=usage_policy.monitor_usage)
    # 2-6 one run per case (DAG out_of_policy_case): the Kasi, Kabid, Kadis, the block, archive
    list_cases = PythonOperator(
        task_id="list_cases",
        python_callable=usage_policy.case_runs,
        execution_timeout=CHECK_TIMEOUT,
        doc_md="Daftar kasus yang dibuka pemantauan (satu run `out_of_policy_case` per kasus).",
    )
    open_cases = TriggerDagRunOperator.partial(
        task_id="open_cases",
        trigger_dag_id=usage_policy.CASE_DAG,
        logical_date=None,
        skip_when_already_exists=True,
        execution_timeout=CHECK_TIMEOUT,
        openlineage_inject_parent_info=False,
        doc_md="Membuka satu run `out_of_policy_case` per kasus (langkah 2-6).",
    ).expand_kwargs(list_cases.output)

    monitor >> list_cases
