"""Airflow DAG of SOP Pelayanan Penyajian Data Kependudukan: a data request to its archive."""

from __future__ import annotations

from airflow.sdk import Param

from piak.engines import provision
from piak.sops import data_provision
from piak.sops.data_provision import DECISIONS, password_delivery_show
from piak.sops.data_provision import signoff_show as show
from piak.workflow.dagkit import sop_dag, trigger_form, work
from piak.workflow.signoff import Choice, decisions, entry

SOP = "data_provision"
REJECT = Choice("Tolak", "close_request", "rejected")
RETURN = Choice("Kembalikan", "close_request", "returned")
CLARIFY = Choice("Kembalikan ke pemohon untuk klarifikasi", "close_request", "returned")
# The sign-offs on the request (steps 2-4), then on the data and its letter (steps 6-9): the
# step, the task, what it offers (a choice's label and the task it leads to).
REQUEST_SIGNOFFS = [
    (2, "dispose_request", [Choice("Disposisi ke Kabid", "review_request"), REJECT]),  # Sekretaris
    (3, "review_request", [Choice("Teruskan ke Kasi", "decide_request"), REJECT]),  # Kabid
    (4, "decide_request", [Choice("Lanjutkan: siapkan data", "prepare_data"), REJECT, CLARIFY]),
]
LETTER_SIGNOFFS = [
    (6, "check_data", [Choice("Sesuai: teruskan untuk paraf Kabid", "initial_by_kabid"), REJECT]),
    (7, "initial_by_kabid", [Choice("Paraf", "initial_by_sekretaris"), REJECT]),  # Kabid
    (8, "initial_by_sekretaris", [Choice("Paraf", "sign_by_kadis"), REJECT]),  # Sekretaris
    (9, "sign_by_kadis", [Choice("Tandatangani", "number_letter"), RETURN]),  # Kadis
]
LETTER_NUMBER = {
    "nomor_surat_keluar": Param(
        "",
        type="string",
        minLength=3,
        maxLength=60,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9./\- ]*$",
        title="Nomor surat keluar",
    )
}
PASSWORD_DELIVERY = {
    "disampaikan_melalui": Param(
        "",
        type="string",
        enum=["telepon", "SMS", "diserahkan langsung"],
        title="Kata sandi disampaikan melalui",
    ),
    "disampaikan_kepada": Param(
        "", type="string", minLength=3, maxLength=100, title="Kepada (nama penerima)"
    ),
}

with sop_dag(SOP, params=trigger_form(provision.params_schema()), tags=["data"]):
    # 1 JFU: receive and record the request (checked before anything else runs)
    record = work(SOP, 1, run=data_provision.record_request)
    # 2 Sekretaris: disposition to the Kabid; 3 Kabid: review for the Kasi; 4 Kasi (decision):
    # continue, reject, or return to the applicant for clarification
    dispose, review, decide = decisions(SOP, REQUEST_SIGNOFFS, show=show)
    # 5 Administrator: prepare the data (extraction, files + manifest)
    prepare = work(SOP, 5, run=data_provision.prepare_data)
    # 6 Kasi: the draft letter, then the check of data and letter; 7 Kabid and 8 Sekretaris
    # initial it; 9 Kadis (decision): sign, or return
    draft = work(SOP, 6, run=data_provision.draft_letter)
    check, initial_kabid, initial_sekretaris, sign = decisions(
        SOP, LETTER_SIGNOFFS, show=lambda task_id: show(task_id, data=True)
    )
    # 10 JFU: outgoing letter number, final letter and hand-over package
    number = entry(
        SOP,
        10,
        task_id="number_letter",
        fields=LETTER_NUMBER,
        show=show("number_letter", data=True),
    )
    pack = work(
        SOP, 10, run=data_provision.pack_release, op_kwargs={"number_task": "number_letter"}
    )
    # 10 JFU: a password-protected package's password, delivered apart from the package
    deliver = entry(
        SOP,
        10,
        task_id="record_password_delivery",
        fields=PASSWORD_DELIVERY,
        show=password_delivery_show(),
        run_if=data_provision.password_to_deliver,
        agenda_event="kata-sandi",
    )
    # 11 Kasi: archive (the package, verified) - or the closed request with its reason
    archive = work(
        SOP,
        11,
        run=data_provision.archive_release,
        trigger_rule="none_failed_min_one_success",  # also when no password had to be delivered
    )
    close = work(
        SOP,
        11,
        run=data_provision.close_request,
        op_kwargs={"decision_tasks": DECISIONS},
        trigger_rule="none_failed_min_one_success",
    )

    record >> dispose >> [review, close]
    review >> [decide, close]
    decide >> [prepare, close]
    prepare >> draft >> check >> [initial_kabid, close]
    initial_kabid >> [initial_sekretaris, close]
    initial_sekretaris >> [sign, close]
    sign >> [number, close]
    number >> pack >> deliver
    [pack, deliver] >> archive
