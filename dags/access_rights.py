"""Airflow DAG of SOP Prosedur Pemberian Hak Akses Aplikasi SIAK dan KTPEL: proposal to access."""

from __future__ import annotations

from airflow.sdk import Param

from piak.sops import access_rights
from piak.sops.access_rights import GRANT, GRANT_AND_UNBLOCK, NOT_SIGNED_FIELD
from piak.workflow.dagkit import sop_dag, trigger_form, work
from piak.workflow.signoff import Choice, decisions, entry

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

# The proposal's way up (steps 1-4): the step, the task, what it offers (a choice's label and
# the task it leads to) - every one may also refuse it.
CHECKED = [
    Choice("Teruskan ke Kabid", "propose_to_kadis"),
    Choice("Kembalikan ke pengusul", "record_refusal", "returned"),
]
DIRECTED = [Choice(GRANT, "instruct_kasi"), Choice(GRANT_AND_UNBLOCK, "instruct_kasi"), REFUSE]
INSTRUCTED = [Choice("Perintahkan Kasi menerbitkan hak akses", "prepare_pacts"), REFUSE]
PROPOSAL_SIGNOFFS = [
    (1, "confirm_check", CHECKED),  # Kasi: the check confirmed
    (2, "propose_to_kadis", [Choice("Usulkan ke Kepala Dinas", "direct_granting"), REFUSE]),
    (3, "direct_granting", DIRECTED),  # Kepala Dinas (decision)
    (4, "instruct_kasi", INSTRUCTED),  # Kabid: the order to issue them
]
UNSIGNED_PACTS = {
    NOT_SIGNED_FIELD: Param(
        "-",
        type="string",
        pattern=r"^(-|\d{1,3}( *, *\d{1,3})*)$",
        title="Baris yang pakta integritasnya belum ditandatangani",
        description="Nomor baris usulan dipisah koma; '-' bila semua sudah.",
    )
}

with sop_dag(
    SOP,
    params=trigger_form(access_rights.TRIGGER_FORM, access_rights.TRIGGER_DEFAULTS),
    tags=["hak-akses"],
):
    # 1 Kasi: receive and check the proposed members (the system checks SIAK and the register)
    check = work(SOP, 1, run=access_rights.check_members, agenda_event="pemeriksaan-sistem")
    # 1 Kasi confirms the check; 2 Kabid proposes to the Kepala Dinas; 3 Kepala Dinas
    # (decision) directs the Kabid to grant access to those entitled; 4 Kabid instructs the Kasi
    confirm, propose, direct, instruct = decisions(SOP, PROPOSAL_SIGNOFFS, show=MEMBERS)
    # 5 Kasi: the integrity pacts signed, then the accounts issued in SIAK
    pacts = work(
        SOP,
        5,
        run=access_rights.prepare_pacts,
        op_kwargs={"decision_task": "direct_granting", "order_task": "instruct_kasi"},
        agenda_event="pakta-disiapkan",
    )
    signed = entry(SOP, 5, task_id="confirm_signed_pacts", fields=UNSIGNED_PACTS, show=PACTS)
    issue = work(
        SOP,
        5,
        task_id="issue_access_rights",
        run=access_rights.issue_access,
        agenda_event="akun-diterbitkan",
        op_kwargs={"decision_task": "direct_granting", "pacts_task": "confirm_signed_pacts"},
    )
    # 1-4 (Kembalikan / Tolak): the refusal letter to the proposer; nothing is issued
    refusal = work(
        SOP,
        5,
        run=access_rights.record_refusal,
        op_kwargs={"decision_tasks": DECISIONS},
        agenda_event="usulan-ditolak",
        trigger_rule="none_failed_min_one_success",
    )

    check >> confirm >> [propose, refusal]
    propose >> [direct, refusal]
    direct >> [instruct, refusal]
    instruct >> [pacts, refusal]
    pacts >> signed >> issue
