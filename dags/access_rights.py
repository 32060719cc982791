"""Airflow DAG of SOP Prosedur Pemberian Hak Akses Aplikasi SIAK dan KTPEL: proposal to access."""

from __future__ import annotations

from piak import access_rights
from piak.dagkit import sop_dag, trigger_form, work
from piak.signoff import Choice, approval, decision

SOP = "access_rights"
MEMBERS = (
    "Usulan **{{ params.nomor_surat }}** dari {{ params.asal }} (nama dan NIK anggota: surat "
    "usulan dan `{{ ti.xcom_pull(task_ids='check_members')['output_ref'] }}`)\n\n"
    "| Baris usulan | Jabatan | Hak akses | Hasil pemeriksaan |\n|---|---|---|---|\n"
    "{% for m in ti.xcom_pull(task_ids='check_members')['members'] %}"
    "| {{ m['line'] }} | {{ m['position'] }} | {{ m['access'] }} | "
    "{{ 'memenuhi syarat' if m['eligible'] else m['problem'] }} |\n{% endfor %}"
)

with sop_dag(
    SOP,
    params=trigger_form(access_rights.TRIGGER_FORM, access_rights.TRIGGER_DEFAULTS),
    tags=["hak-akses"],
):
    # 1 Kasi: receive and check the proposed team members (against the SIAK database)
    check = work(SOP, 1, task_id="check_members", run="piak.access_rights:check_members")
    # 2 Kabid: propose and report to the Kepala Dinas
    propose = approval(SOP, 2, task_id="propose_to_kadis", show=MEMBERS)
    # 3 Kepala Dinas (decision): direct the Kabid to grant access to those entitled
    direct = decision(
        SOP,
        3,
        task_id="direct_granting",
        choices=[
            Choice("Berikan hak akses kepada yang berhak", "instruct_kasi"),
            Choice("Tolak usulan", "record_refusal", "rejected"),
        ],
        show=MEMBERS,
    )
    # 4 Kabid: instruct the Kasi to issue the access rights
    instruct = approval(SOP, 4, task_id="instruct_kasi", show=MEMBERS)
    # 5 Kasi: issue the access rights and the integrity pacts
    issue = work(SOP, 5, task_id="issue_access_rights", run="piak.access_rights:issue_access")
    # 3 (Tolak) the refusal is recorded with its note; nothing is issued
    refusal = work(
        SOP,
        3,
        task_id="record_refusal",
        run="piak.access_rights:record_refusal",
        op_kwargs={"decision_task": "direct_granting"},
    )

    check >> propose >> direct >> [instruct, refusal]
    instruct >> issue
