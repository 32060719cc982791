"""Airflow DAG of SOP Prosedur Pemberian Hak Akses Aplikasi SIAK dan KTPEL: proposal to access."""

from __future__ import annotations

from airflow.sdk import Param

from piak.sops import access_rights
from piak.sops.access_rights import GRANT, GRANT_AND_UNBLOCK, NOT_SIGNED_FIELD
from piak.workflow.dagkit import sop_dag, trigger_form, work
from piak.workflow.signoff import Choice, decision, entry

SOP = "access_rights"
REFUSE = Choice("Tolak usulan", "record_refusal", "rejected")
DECISIONS = ["confirm_check", "propose_to_kadis", "direct_granting", "instruct_kasi"]
MEMBERS = (
    "Usulan **{{ params.nomor_surat }}** dari {{ params.asal }} (nama dan NIK anggota: surat "
    "usulan dan `{{ ti.xcom_pull(task_ids='check_members')['output_ref'] }}`)\n\n"
    "| Baris usulan | Jabatan | Hak akses | Hasil pemeriksaan |\n|---|---|---|---|\n"
    "{% for m in ti.xcom_pull(task_ids='check_members')['members'] %}"
    "| {{ m['line'] }} | {{ m['position'] }} | {{ m['access'] }} | "
    "{{ ('memenuhi syarat' if m['eligible'] else m['problem']) }}"
    "{{ (', **DIBLOKIR**: ' ~ m['blocked']) if m['blocked'] else '' }} |\n{% endfor %}"
    "\nAnggota yang diblokir hanya diberi akses bila Kepala Dinas memilih *membuka blokir*."
)
PACTS = (
    "Pakta integritas yang harus ditandatangani (berkas di "
    "`{{ ti.xcom_pull(task_ids='prepare_pacts')['output_ref'] }}`):\n\n"
    "| Baris usulan | Akun SIAK | Nomor pakta |\n|---|---|---|\n"
    "{% for p in ti.xcom_pull(task_ids='prepare_pacts')['pacts'] %}"
    "| {{ p['line'] }} | {{ p['account'] }} | {{ p['pakta'] }} |\n{% endfor %}"
    "\nSetelah Anda konfirmasi, akun dibuat atau diaktifkan di SIAK dengan kata sandi awal yang "
    "kedaluwarsa (berkas khusus pemilik, diserahkan dalam amplop tertutup)."
)

with sop_dag(
    SOP,
    params=trigger_form(access_rights.TRIGGER_FORM, access_rights.TRIGGER_DEFAULTS),
    tags=["hak-akses"],
):
    # 1 Kasi: receive and check the proposed members (the system checks SIAK and the register)
    check = work(
        SOP,
        1,
        task_id="check_members",
        run="piak.sops.access_rights:check_members",
        agenda_event="pemeriksaan-sistem",
    )
    confirm = decision(
        SOP,
        1,
        task_id="confirm_check",
        choices=[
            Choice("Teruskan ke Kabid", "propose_to_kadis"),
            Choice("Kembalikan ke pengusul", "record_refusal", "returned"),
        ],
        show=MEMBERS,
    )
    # 2 Kabid: propose and report to the Kepala Dinas
    propose = decision(
        SOP,
        2,
        task_id="propose_to_kadis",
        choices=[Choice("Usulkan ke Kepala Dinas", "direct_granting"), REFUSE],
        show=MEMBERS,
    )
    # 3 Kepala Dinas (decision): direct the Kabid to grant access to those entitled
    direct = decision(
        SOP,
        3,
        task_id="direct_granting",
        choices=[
            Choice(GRANT, "instruct_kasi"),
            Choice(GRANT_AND_UNBLOCK, "instruct_kasi"),
            REFUSE,
        ],
        show=MEMBERS,
    )
    # 4 Kabid: instruct the Kasi to issue the access rights
    instruct = decision(
        SOP,
        4,
        task_id="instruct_kasi",
        choices=[Choice("Perintahkan Kasi menerbitkan hak akses", "prepare_pacts"), REFUSE],
        show=MEMBERS,
    )
    # 5 Kasi: the integrity pacts signed, then the accounts issued in SIAK
    pacts = work(
        SOP,
        5,
        task_id="prepare_pacts",
        run="piak.sops.access_rights:prepare_pacts",
        op_kwargs={"decision_task": "direct_granting", "order_task": "instruct_kasi"},
        agenda_event="pakta-disiapkan",
    )
    signed = entry(
        SOP,
        5,
        task_id="confirm_signed_pacts",
        fields={
            NOT_SIGNED_FIELD: Param(
                "-",
                type="string",
                pattern=r"^(-|\d{1,3}( *, *\d{1,3})*)$",
                title="Baris yang pakta integritasnya belum ditandatangani",
                description="Nomor baris usulan dipisah koma; '-' bila semua sudah.",
            )
        },
        show=PACTS,
    )
    issue = work(
        SOP,
        5,
        task_id="issue_access_rights",
        run="piak.sops.access_rights:issue_access",
        op_kwargs={"decision_task": "direct_granting", "pacts_task": "confirm_signed_pacts"},
        agenda_event="akun-diterbitkan",
    )
    # 1-4 (Kembalikan / Tolak): the refusal letter to the proposer; nothing is issued
    refusal = work(
        SOP,
        5,
        task_id="record_refusal",
        run="piak.sops.access_rights:record_refusal",
        op_kwargs={"decision_tasks": DECISIONS},
        agenda_event="usulan-ditolak",
        trigger_rule="none_failed_min_one_success",
    )

    check >> confirm >> [propose, refusal]
    propose >> [direct, refusal]
    direct >> [instruct, refusal]
    instruct >> [pacts, refusal]
    pacts >> signed >> issue
