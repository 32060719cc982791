"""Airflow DAG of SOP Pemeliharaan Jaringan: a network complaint, real checks, the report."""

from __future__ import annotations

from airflow.sdk import Param

from piak import network
from piak.dagkit import sop_dag, trigger_form, work
from piak.signoff import Choice, approval, decision, entry

SOP = "network_maintenance"
TEXT = {"type": "string", "minLength": 3, "maxLength": 2000, "format": "multiline"}
CHECKS = (
    "Keluhan: **{{ params.lokasi }}** ({{ params.pelapor }}), tujuan `{{ params.alamat_ip }}`"
    "\n\n> {{ params.uraian }}\n\n"
    "{% for t in ['check_software', 'check_ip_settings', 'ping_target'] %}"
    "{% for f in ti.xcom_pull(task_ids=t)['findings'] %}"
    "- {{ f['check'] }} `{{ f['target'] }}`: {{ 'baik' if f['ok'] else '**BERMASALAH**' }}, "
    "{{ f['detail'] }}\n{% endfor %}{% endfor %}"
)
ANSWERS = ["check_modem", "decide_network_working", "contact_provider", "report_to_kasi"]

with sop_dag(
    SOP,
    params=trigger_form(network.TRIGGER_FORM, network.TRIGGER_DEFAULTS),
    tags=["jaringan"],
):
    # 1 JFU: receive the complaint (by phone, in person or by letter)
    record = work(SOP, 1, task_id="record_complaint", run="piak.network:record_complaint")
    # 2 JFU: software check - the services answer
    software = work(SOP, 2, task_id="check_software", run="piak.network:check_software")
    # 3 JFU: the office's IP settings
    ip_settings = work(SOP, 3, task_id="check_ip_settings", run="piak.network:check_ip_settings")
    # 4 JFU: ping the address concerned
    ping = work(SOP, 4, task_id="ping_target", run="piak.network:ping_target")
    # 5 JFU: the modem at the user's place (what was seen and done)
    modem = entry(
        SOP,
        5,
        task_id="check_modem",
        fields={"kondisi_modem": Param("", title="Kondisi modem dan tindakan", **TEXT)},
        show=CHECKS,
    )
    # 6 JFU (decision): is the network working?
    working = decision(
        SOP,
        6,
        task_id="decide_network_working",
        choices=[
            Choice("Sudah berfungsi: laporkan ke Kasi", "report_to_kasi"),
            Choice("Belum berfungsi: hubungi provider", "contact_provider"),
        ],
        show=CHECKS,
    )
    # 10 JFU: contact the third-party provider
    provider = entry(
        SOP,
        10,
        task_id="contact_provider",
        fields={
            "provider": Param("", type="string", minLength=2, maxLength=100, title="Provider"),
            "nomor_tiket": Param(
                "", type="string", minLength=1, maxLength=60, title="Nomor tiket provider"
            ),
        },
        show=CHECKS,
    )
    # 7 Report to the Kasi; 8 report to the Kabid
    kasi = approval(
        SOP, 7, task_id="report_to_kasi", show=CHECKS, trigger_rule="none_failed_min_one_success"
    )
    kabid = approval(SOP, 8, task_id="report_to_kabid", show=CHECKS)
    # 9 Kabid: the repair report in the agenda
    report = work(
        SOP,
        9,
        task_id="record_repair_report",
        run="piak.network:write_report",
        op_kwargs={"answer_tasks": [*ANSWERS, "report_to_kabid"]},
    )

    record >> software >> ip_settings >> ping >> modem >> working >> [kasi, provider]
    provider >> kasi >> kabid >> report
