"""Network maintenance end to end: a complaint about this machine's own address, the real checks
(service, office subnet, ping), the JFU's modem finding and decision, the provider ticket, the
reports signed by the Kasi then the Kabid via REST, the repair report and the agenda."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

DAG = "network_maintenance"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def ping_installed() -> None:
    result = subprocess.run(
        [str(ROOT / "scripts/ensure-debian-packages.sh"), "iputils-ping"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"iputils-ping missing and not installable: {result.stderr}"


def test_a_complaint_checked_escalated_to_the_provider_and_reported(airflow):
    complaint = {
        "pelapor": "Siti Aminah",
        "lokasi": "Kantor Kecamatan Contoh Barat",
        "alamat_ip": "127.0.0.1",
        "uraian": "Aplikasi SIAK tidak bisa dibuka sejak pagi",
    }
    run_id = airflow.trigger(DAG, complaint, user="jfu")
    steps = [
        (
            "check_modem",
            "jfu",
            ["OK"],
            {"kondisi_modem": "lampu DSL berkedip, modem dinyalakan ulang"},
        ),
        ("decide_network_working", "jfu", ["Belum berfungsi: hubungi provider"], {}),
        ("contact_provider", "jfu", ["OK"], {"provider": "Telkom", "nomor_tiket": "IN-4471"}),
        ("report_to_kasi", "kasi", ["Setujui"], {}),
        ("report_to_kabid", "kabid", ["Setujui"], {}),
    ]
    for task_id, user, options, fields in steps:
        airflow.wait_task(DAG, run_id, task_id, {"awaiting_input"})
        if task_id == "report_to_kasi":
            assert airflow.answer("jfu", DAG, run_id, task_id, options).status_code == 403
        response = airflow.answer(user, DAG, run_id, task_id, options, fields)
        assert response.status_code == 200, (task_id, response.text)
    assert airflow.wait_run(DAG, run_id) == "success"

    entries = airflow.agenda(run_id)
    assert {e.step_number for e in entries} == set(range(1, 11))
    by_task = {e.task_id: e for e in entries}
    assert by_task["ping_target"].note.startswith("baik - ping 127.0.0.1: 4/4 balasan")
    assert "server aplikasi" in by_task["check_software"].note
    report = Path(by_task["record_repair_report"].output_ref).read_text()
    assert "IN-4471" in report and "Telkom" in report and "lampu DSL berkedip" in report
    assert "ping 127.0.0.1: baik" in report


def test_a_url_instead_of_an_address_is_refused_before_any_check(airflow):
    run_id = airflow.trigger(
        DAG,
        {
            "pelapor": "Siti",
            "lokasi": "Kecamatan",
            "alamat_ip": "http://10.0.0.1",
            "uraian": "jaringan mati",
        },
        user="jfu",
    )
    airflow.wait_task(DAG, run_id, "record_complaint", {"failed"}, timeout=120)
    assert "bukan alamat IPv4 atau nama host" in airflow.task_log(DAG, run_id, "record_complaint")
    assert airflow.task_state(DAG, run_id, "ping_target") in ("upstream_failed", None)
