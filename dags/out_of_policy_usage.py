"""Airflow DAG of SOP Prosedur Penanganan Penggunaan diluar Ketentuan: finding to stop."""

from __future__ import annotations

from piak import usage_policy
from piak.dagkit import sop_dag, trigger_form, work
from piak.signoff import approval

SOP = "out_of_policy_usage"
FINDING = (
    "{% set f = ti.xcom_pull(task_ids='monitor_usage') %}"
    "Pengguna **{{ f['user_id'] }}** dari komputer `{{ f['mesin'] }}` dengan program "
    "`{{ f['program'] }}`{% if f['sid_serial'] %} (sesi {{ f['sid_serial'] }}){% endif %}\n\n"
    "> {{ f['uraian'] }}\n\nPelanggaran:\n{% for v in f['violations'] %}- {{ v }}\n{% endfor %}"
)

with sop_dag(
    SOP,
    params=trigger_form(usage_policy.TRIGGER_FORM, usage_policy.TRIGGER_DEFAULTS),
    tags=["keamanan"],
):
    # 1 Administrator: monitoring - the observation against the policy and the access register
    monitor = work(SOP, 1, task_id="monitor_usage", run="piak.usage_policy:monitor_usage")
    # 2 Report to the Kasi; 3 to the Kabid; 4 to the Kepala Dinas
    kasi = approval(SOP, 2, task_id="report_to_kasi", show=FINDING)
    kabid = approval(SOP, 3, task_id="report_to_kabid", show=FINDING)
    kadis = approval(SOP, 4, task_id="report_to_kadis", show=FINDING)
    # 5 Administrator: stop the service (access blocked; the session cut in TOAD)
    stop = work(SOP, 5, task_id="stop_service", run="piak.usage_policy:stop_service")
    # 6 Administrator: the case in the agenda (archive)
    record = work(SOP, 6, task_id="record_case", run="piak.usage_policy:record_case")

    monitor >> kasi >> kabid >> kadis >> stop >> record
