"""Airflow DAG of SOP Pemeliharaan Jaringan: a network complaint, probes of the devices it
names, the JFU's answers compared with a re-check, the reports, the repair report."""

from __future__ import annotations

from airflow.sdk import Param

from piak.sops import network
from piak.sops.network import MODEM_OFF, MODEM_ON, NOT_WORKING, WORKING
from piak.workflow.dagkit import sop_dag, trigger_form, work
from piak.workflow.signoff import Choice, decision, entry

SOP = "network_maintenance"
TEXT = {"type": "string", "minLength": 3, "maxLength": 2000, "format": "multiline"}
COMPLAINT = (
    "Keluhan: **{{ params.lokasi }}** ({{ params.pelapor }}), komputer `{{ params.alamat_pc }}`, "
    "modem/gateway `{{ ti.xcom_pull(task_ids='record_complaint')['alamat_modem'] or '-' }}`"
    "\n\n> {{ params.uraian }}\n\n"
)
PROBES = (
    "{% for t in ['check_software', 'check_ip_settings', 'ping_target'] %}"
    "{% for f in ti.xcom_pull(task_ids=t)['findings'] %}"
    "- {{ f['check'] }} `{{ f['target'] }}`: {{ 'baik' if f['ok'] else '**BERMASALAH**' }}, "
    "{{ f['detail'] }}\n{% endfor %}{% endfor %}"
)
RECHECK = (
    "\n**Pemeriksaan ulang setelah keputusan JFU:** "
    "{% set v = ti.xcom_pull(task_ids='verify_network') %}"
    "{% if v['disagreements'] %}**TIDAK SESUAI dengan jawaban JFU:**\n"
    "{% for d in v['disagreements'] %}- {{ d }}\n{% endfor %}{% else %}sesuai dengan jawaban "
    "JFU.\n{% endif %}\n{% for f in v['findings'] %}- {{ f['check'] }} `{{ f['target'] }}`: "
    "{{ 'baik' if f['ok'] else '**BERMASALAH**' }}, {{ f['detail'] }}\n{% endfor %}"
)
ANSWERS = [
    "check_modem",
    "decide_network_working",
    "contact_provider",
    "report_to_kasi",
    "report_to_kabid",
]

with sop_dag(
    SOP,
    params=trigger_form(network.TRIGGER_FORM, network.TRIGGER_DEFAULTS),
    tags=["jaringan"],
):
    # 1 JFU: receive the complaint (by phone, in person or by letter)
    record = work(SOP, 1, task_id="record_complaint", run="piak.sops.network:record_complaint")
    # 2 JFU: software check - the SIAK server's port(s), DNS
    software = work(SOP, 2, task_id="check_software", run="piak.sops.network:check_software")
    # 3 JFU: the IP settings - the PC in the office subnet, the modem/gateway answering
    ip_settings = work(
        SOP, 3, task_id="check_ip_settings", run="piak.sops.network:check_ip_settings"
    )
    # 4 JFU: ping the complaining PC
    ping = work(SOP, 4, task_id="ping_target", run="piak.sops.network:ping_target")
    # 5 JFU: the modem at the user's place (what was seen and done)
    modem = entry(
        SOP,
        5,
        task_id="check_modem",
        fields={
            "modem_menyala": Param(
                MODEM_ON, type="string", enum=[MODEM_ON, MODEM_OFF], title="Keadaan modem"
            ),
            "kondisi_modem": Param("", title="Kondisi modem dan tindakan", **TEXT),
        },
        show=COMPLAINT + PROBES,
    )
    # 6 JFU (decision): is the network working?
    working = decision(
        SOP,
        6,
        task_id="decide_network_working",
        choices=[Choice(WORKING, "verify_network"), Choice(NOT_WORKING, "contact_provider")],
        show=COMPLAINT + PROBES,
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
        show=COMPLAINT + PROBES,
    )
    # 6 (re-check) every probe again, compared with the JFU's answers
    verify = work(
        SOP,
        6,
        task_id="verify_network",
        run="piak.sops.network:verify_network",
        op_kwargs={"modem_task": "check_modem", "decision_task": "decide_network_working"},
        agenda_event="periksa-ulang",
        trigger_rule="none_failed_min_one_success",
    )
    # 7 Report to the Kasi; 8 report to the Kabid (a refused report is still written)
    kasi = decision(
        SOP,
        7,
        task_id="report_to_kasi",
        choices=[
            Choice("Terima laporan: teruskan ke Kabid", "report_to_kabid"),
            Choice("Tolak laporan", "record_repair_report", "rejected"),
        ],
        show=COMPLAINT + PROBES + RECHECK,
    )
    kabid = decision(
        SOP,
        8,
        task_id="report_to_kabid",
        choices=[
            Choice("Terima laporan", "record_repair_report"),
            Choice("Tolak laporan", "record_repair_report", "rejected"),
        ],
        show=COMPLAINT + PROBES + RECHECK,
    )
    # 9 Kabid: the repair report in the agenda, whatever the reports' outcome
    report = work(
        SOP,
        9,
        task_id="record_repair_report",
        run="piak.sops.network:write_report",
        op_kwargs={"answer_tasks": ANSWERS},
        trigger_rule="none_failed_min_one_success",
    )

    record >> software >> ip_settings >> ping >> modem >> working >> [verify, provider]
    provider >> verify >> kasi >> [kabid, report]
    kabid >> report
