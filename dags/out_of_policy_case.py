"""Airflow DAG of SOP Prosedur Penanganan Penggunaan diluar Ketentuan, steps 2-6: one case.

Started by ``out_of_policy_usage`` for every case its monitoring opened (run ``kasus__<case>``).
The Kasi, the Kabid and the Kepala Dinas each forward or close the case; the Kadis's order
blocks the account in SIAK (confirmed by reading it again); every way ends in the archive."""

from __future__ import annotations

from airflow.sdk import Param

from piak.sops import usage_policy
from piak.workflow.dagkit import sop_dag, work
from piak.workflow.signoff import Choice, decisions

SOP = "out_of_policy_usage"
DECISIONS = ["report_to_kasi", "report_to_kabid", "report_to_kadis"]
CASE = (
    "{% set c = ti.xcom_pull(task_ids='present_case') %}"
    "Kasus **{{ c['case_id'] }}**: akun SIAK **{{ c['account'] }}** ({{ c['holder'] }}), "
    "{{ c['first'] }} s.d. {{ c['last'] }} (UTC)\n\n"
    "Pelanggaran:\n{% for v in c['violations'] %}- {{ v }}\n{% endfor %}"
    "{% if c['sessions'] %}\nSesi yang masih terhubung:\n"
    "{% for s in c['sessions'] %}- {{ s }}\n{% endfor %}{% endif %}"
    "\nBukti lengkap: `{{ ti.xcom_pull(task_ids='present_case')['output_ref'] }}`. PROGRAM dan "
    "MACHINE dilaporkan oleh komputer pengguna sendiri: bukti, bukan kepastian."
)


def close(label: str) -> Choice:
    return Choice(label, "record_case", "rejected")


# The case's way up (steps 2-4): the step, the task, what it offers (a choice's label and the
# task it leads to).
KASI = [Choice("Teruskan ke Kabid", "report_to_kabid"), close("Bukan pelanggaran: tutup kasus")]
KABID = [Choice("Teruskan ke Kepala Dinas", "report_to_kadis"), close("Tutup kasus: cukup teguran")]
KADIS = [
    Choice("Hentikan layanan: blokir akun dan putus sesi", "stop_service"),
    close("Tidak dihentikan: tutup kasus"),
]
REPORTS = [
    (2, "report_to_kasi", KASI),
    (3, "report_to_kabid", KABID),
    (4, "report_to_kadis", KADIS),
]


with sop_dag(
    SOP,
    dag_id="out_of_policy_case",
    tags=["keamanan"],
    params={
        "case_id": Param(
            type="string",
            pattern=usage_policy.CASE_PATTERN,
            title="Nomor kasus",
            description="Diisi oleh pemantauan, contoh KASUS-20261125-1000-SITI4471.",
        )
    },
):
    # 1 (its outcome) the case monitoring opened, with its evidence
    present = work(
        SOP, 1, run=usage_policy.present_case,
        agenda_event="kasus-dibuka",
    )  # fmt: skip
    # 2 Report to the Kasi; 3 to the Kabid; 4 to the Kepala Dinas - each may close the case
    kasi, kabid, kadis = decisions(SOP, REPORTS, show=CASE)
    # 5 Administrator: stop the service - the account locked, its sessions ended, confirmed
    stop = work(
        SOP, 5, run=usage_policy.stop_service,
        op_kwargs={"decision_task": "report_to_kadis"},
    )  # fmt: skip
    # 6 Administrator: the case in the agenda (archive), whatever was decided
    record = work(
        SOP, 6, run=usage_policy.record_case,
        op_kwargs={"decision_tasks": DECISIONS}, trigger_rule="none_failed_min_one_success",
    )  # fmt: skip

    present >> kasi >> [kabid, record]
    kabid >> [kadis, record]
    kadis >> [stop, record]
    stop >> record
