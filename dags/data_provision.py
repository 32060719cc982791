"""Airflow DAG of SOP Pelayanan Penyajian Data Kependudukan: a data request to its archive."""

from __future__ import annotations

from airflow.sdk import Param

from piak.engines import provision
from piak.sops.data_provision import DECISIONS, password_delivery_show
from piak.sops.data_provision import signoff_show as show
from piak.workflow.dagkit import sop_dag, trigger_form, work
from piak.workflow.signoff import Choice, decision, entry

SOP = "data_provision"
REJECT = Choice("Tolak", "close_request", "rejected")

with sop_dag(
    SOP,
    params=trigger_form(provision.params_schema()),
    tags=["data"],
):
    # 1 JFU: receive and record the request (checked before anything else runs)
    record = work(SOP, 1, task_id="record_request", run="piak.sops.data_provision:record_request")
    # 2 Sekretaris: disposition to the Kabid
    dispose = decision(
        SOP,
        2,
        task_id="dispose_request",
        choices=[Choice("Disposisi ke Kabid", "review_request"), REJECT],
        show=show("dispose_request"),
    )
    # 3 Kabid: review the request for the Kasi
    review = decision(
        SOP,
        3,
        task_id="review_request",
        choices=[Choice("Teruskan ke Kasi", "decide_request"), REJECT],
        show=show("review_request"),
    )
    # 4 Kasi (decision): continue, reject, or return to the applicant for clarification
    decide = decision(
        SOP,
        4,
        task_id="decide_request",
        choices=[
            Choice("Lanjutkan: siapkan data", "prepare_data"),
            REJECT,
            Choice("Kembalikan ke pemohon untuk klarifikasi", "close_request", "returned"),
        ],
        show=show("decide_request"),
    )
    # 5 Administrator: prepare the data (extraction, files + manifest)
    prepare = work(SOP, 5, task_id="prepare_data", run="piak.sops.data_provision:prepare_data")
    # 6 Kasi: the draft letter, then the check of data and letter
    draft = work(SOP, 6, task_id="draft_letter", run="piak.sops.data_provision:draft_letter")
    check = decision(
        SOP,
        6,
        task_id="check_data",
        choices=[Choice("Sesuai: teruskan untuk paraf Kabid", "initial_by_kabid"), REJECT],
        show=show("check_data", data=True),
    )
    # 7 Kabid initials; 8 Sekretaris initials
    initial_kabid = decision(
        SOP,
        7,
        task_id="initial_by_kabid",
        choices=[Choice("Paraf", "initial_by_sekretaris"), REJECT],
        show=show("initial_by_kabid", data=True),
    )
    initial_sekretaris = decision(
        SOP,
        8,
        task_id="initial_by_sekretaris",
        choices=[Choice("Paraf", "sign_by_kadis"), REJECT],
        show=show("initial_by_sekretaris", data=True),
    )
    # 9 Kadis (decision): sign, or return
    sign = decision(
        SOP,
        9,
        task_id="sign_by_kadis",
        choices=[
            Choice("Tandatangani", "number_letter"),
            Choice("Kembalikan", "close_request", "returned"),
        ],
        show=show("sign_by_kadis", data=True),
    )
    # 10 JFU: outgoing letter number, final letter and hand-over package
    number = entry(
        SOP,
        10,
        task_id="number_letter",
        fields={
            "nomor_surat_keluar": Param(
                "",
                type="string",
                minLength=3,
                maxLength=60,
                pattern=r"^[A-Za-z0-9][A-Za-z0-9./\- ]*$",
                title="Nomor surat keluar",
            )
        },
        show=show("number_letter", data=True),
    )
    pack = work(
        SOP,
        10,
        task_id="pack_release",
        run="piak.sops.data_provision:pack_release",
        op_kwargs={"number_task": "number_letter"},
    )
    # 10 JFU: a password-protected package's password, delivered apart from the package
    deliver = entry(
        SOP,
        10,
        task_id="record_password_delivery",
        fields={
            "disampaikan_melalui": Param(
                "",
                type="string",
                enum=["telepon", "SMS", "diserahkan langsung"],
                title="Kata sandi disampaikan melalui",
            ),
            "disampaikan_kepada": Param(
                "", type="string", minLength=3, maxLength=100, title="Kepada (nama penerima)"
            ),
        },
        show=password_delivery_show(),
        run_if="piak.sops.data_provision:password_to_deliver",
        agenda_event="kata-sandi",
    )
    # 11 Kasi: archive (the package, verified) - or the closed request with its reason
    archive = work(
        SOP,
        11,
        task_id="archive_release",
        run="piak.sops.data_provision:archive_release",
        trigger_rule="none_failed_min_one_success",  # also when no password had to be delivered
    )
    close = work(
        SOP,
        11,
        task_id="close_request",
        run="piak.sops.data_provision:close_request",
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
