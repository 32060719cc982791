"""Airflow DAG of SOP Pemeliharaan Jaringan: a network complaint, probes of the devices it
names, the JFU's answers compared with a re-check, the reports, the repair report."""

from __future__ import annotations

from airflow.sdk import Param

from piak.sops import network
from piak.sops.network import MODEM_OFF, MODEM_ON, NOT_WORKING, WORKING
from piak.workflow.dagkit import sop_dag, trigger_form, work
from piak.workflow.signoff import Choice, decision, decisions, entry, text_field

SOP = "network_maintenance"
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

SHOWN = COMPLAINT + PROBES
MODEM = {
    "modem_menyala": Param(
        MODEM_ON, type="string", enum=[MODEM_ON, MODEM_OFF], title="Keadaan modem"
    ),
    "kondisi_modem": text_field("Kondisi modem dan tindakan", max_length=2000),
}
PROVIDER = {
    "provider": Param("", type="string", minLength=2, maxLength=100, title="Provider"),
    "nomor_tiket": Param(
        "", type="string", minLength=1, maxLength=60, title="Nomor tiket provider"
    ),
}
# What each sign-off offers: the choice's label and the task it leads to.
IS_IT_WORKING = [Choice(WORKING, "verify_network"), Choice(NOT_WORKING, "contact_provider")]
REFUSED = Choice("Tolak laporan", "record_repair_report", "rejected")
REPORTS = [
    (
        7,
        "report_to_kasi",
        [Choice("Terima laporan: teruskan ke Kabid", "report_to_kabid"), REFUSED],
    ),
    (8, "report_to_kabid", [Choice("Terima laporan", "record_repair_report"), REFUSED]),
]

with sop_dag(
    SOP, params=trigger_form(network.TRIGGER_FORM, network.TRIGGER_DEFAULTS), tags=["jaringan"]
):
    # 1 JFU: receive the complaint (by phone, in person or by letter)
    record = work(SOP, 1, run=network.record_complaint)
    # 2 JFU: software check - the SIAK server's port(s), DNS
    software = work(SOP, 2, run=network.check_software)
    # 3 JFU: the IP settings - the PC in the office subnet, the modem/gateway answering
    ip_settings = work(SOP, 3, run=network.check_ip_settings)
    # 4 JFU: ping the complaining PC
    ping = work(SOP, 4, run=network.ping_target)
    # 5 JFU: the modem at the user's place (what was seen and done)
    modem = entry(SOP, 5, task_id="check_modem", fields=MODEM, show=SHOWN)
    # 6 JFU (decision): is the network working?
    working = decision(SOP, 6, task_id="decide_network_working", choices=IS_IT_WORKING, show=SHOWN)
    # 10 JFU: contact the third-party provider
    provider = entry(SOP, 10, task_id="contact_provider", fields=PROVIDER, show=SHOWN)
    # 6 (re-check) every probe again, compared with the JFU's answers
    verify = work(
        SOP,
        6,
        run=network.verify_network,
        op_kwargs={"modem_task": "check_modem", "decision_task": "decide_network_working"},
        agenda_event="periksa-ulang",
        trigger_rule="none_failed_min_one_success",
    )
    # 7 Report to the Kasi; 8 report to the Kabid (a refused report is still written)
    kasi, kabid = decisions(SOP, REPORTS, show=COMPLAINT + PROBES + RECHECK)
    # 9 Kabid: the repair report in the agenda, whatever the reports' outcome
    report = work(
        SOP,
        9,
        task_id="record_repair_report",
        run=network.write_report,
        op_kwargs={"answer_tasks": ANSWERS},
        trigger_rule="none_failed_min_one_success",
    )

    record >> software >> ip_settings >> ping >> modem >> working >> [verify, provider]
    provider >> verify >> kasi >> [kabid, report]
    kabid >> report
