"""Network maintenance end to end, every way out: complaints about a PC on loopback, probed
for real from the worker (the SIAK server's port - a socket this test listens on -, DNS through
a real dnsmasq, the PC's subnet, ping to the PC and the modem); the JFU's answers compared with a
re-check (a disagreement flagged to the Kasi); the reports accepted, or refused by the Kasi or
the Kabid - and the repair report written on every way."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

DAG = "network_maintenance"
ROOT = Path(__file__).resolve().parents[2]
MODEM_ON = "Menyala dan terhubung"
WORKING, NOT_WORKING = "Sudah berfungsi: laporkan ke Kasi", "Belum berfungsi: hubungi provider"


@pytest.fixture(scope="module")
def office(airflow, dns_server):
    """The e2e Airflow's network configuration pointed at loopback: a listening 'SIAK server',
    the test's DNS server."""
    result = subprocess.run(
        [str(ROOT / "scripts/ensure-debian-packages.sh"), "iputils-ping"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"iputils-ping missing and not installable: {result.stderr}"
    path = Path(airflow.env["PIAK_NETWORK_FILE"])
    original = path.read_text()
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        port = server.getsockname()[1]
        path.write_text(
            f"services:\n  - {{name: aplikasi SIAK, host: 127.0.0.1, port: {port}}}\n"
            f"dns: {{server: 127.0.0.1, port: {dns_server['port']}, names: [siak.dinas.local]}}\n"
            "office_subnets: [127.0.0.0/8]\ntimeout_seconds: 2\nping_count: 2\n"
        )
        try:
            yield port
        finally:
            path.write_text(original)


def complaint(where: str) -> dict:
    return {
        "pelapor": "Siti Aminah",
        "lokasi": where,
        "alamat_pc": "127.0.0.1",
        "alamat_modem": "127.0.0.2",
        "uraian": "Aplikasi SIAK tidak bisa dibuka sejak pagi",
    }


def test_every_way_out_ends_in_the_repair_report(airflow, office):
    modem = ("check_modem", "jfu", ["OK"], {"modem_menyala": MODEM_ON,
             "kondisi_modem": "lampu DSL berkedip, modem dinyalakan ulang"})  # fmt: skip
    working = ("decide_network_working", "jfu", [WORKING], {})
    kasi = ("report_to_kasi", "kasi", ["Terima laporan: teruskan ke Kabid"], {})
    refuse = {"catatan": "periksa kabel LAN juga"}
    runs = {way: airflow.trigger(DAG, complaint(f"Kecamatan {way}"), user="jfu")
            for way in ("working", "provider", "kasi", "kabid")}  # fmt: skip
    airflow.drive(
        {
            (DAG, runs["working"]): [
                modem,
                working,
                kasi,
                ("report_to_kabid", "kabid", ["Terima laporan"], {}),
            ],
            (DAG, runs["provider"]): [
                modem,
                ("decide_network_working", "jfu", [NOT_WORKING], {}),
                (
                    "contact_provider",
                    "jfu",
                    ["OK"],
                    {"provider": "Telkom", "nomor_tiket": "IN-4471"},
                ),
                kasi,
                ("report_to_kabid", "kabid", ["Terima laporan"], {}),
            ],
            (DAG, runs["kasi"]): [
                modem,
                working,
                ("report_to_kasi", "kasi", ["Tolak laporan"], refuse),
            ],
            (DAG, runs["kabid"]): [
                modem,
                working,
                kasi,
                ("report_to_kabid", "kabid", ["Tolak laporan"], refuse),
            ],
        }
    )
    for run in runs.values():
        assert airflow.wait_run(DAG, run) == "success"
    agenda = {way: {e.task_id: e for e in airflow.agenda(run)} for way, run in runs.items()}
    reports = {
        way: Path(a["record_repair_report"].output_ref).read_text() for way, a in agenda.items()
    }

    ok = agenda["working"]
    assert ok["ping_target"].note.startswith("baik - ping 127.0.0.1: 2/2 balasan")
    assert ok["ping_target"].actor == "sistem (pemeriksaan otomatis dari worker)"
    assert f"aplikasi SIAK 127.0.0.1:{office}: terhubung" in ok["check_software"].note
    assert "DNS (server 127.0.0.1:" in ok["check_software"].note
    assert "siak.dinas.local: -> 127.0.0.5" in ok["check_software"].note
    assert "modem/gateway 127.0.0.2: 2/2 balasan" in ok["check_ip_settings"].note
    assert ok["verify_network:periksa-ulang"].note == "pemeriksaan ulang sesuai"
    assert ok["record_repair_report"].actor == "kabid"
    assert "Status: laporan diterima Kabid (kabid)" in reports["working"]
    assert "ping 127.0.0.1: baik" in reports["working"] and "- sesuai" in reports["working"]

    provider = agenda["provider"]
    assert {e.step_number for e in provider.values()} == set(range(1, 11))
    flagged = "JFU: jaringan belum berfungsi, tetapi semua pemeriksaan ulang baik"
    assert flagged in provider["verify_network:periksa-ulang"].note
    assert f"TIDAK SESUAI: {flagged}" in reports["provider"]
    assert "IN-4471" in reports["provider"] and "lampu DSL berkedip" in reports["provider"]
    body = airflow.api(
        "kasi", "GET",
        f"/dags/{DAG}/dagRuns/{runs['provider']}/taskInstances/report_to_kasi/-1/hitlDetails",
    ).json()["body"]  # fmt: skip
    assert "TIDAK SESUAI dengan jawaban JFU" in body and flagged in body

    for way, step, who in (
        ("kasi", "report_to_kasi", "kasi"),
        ("kabid", "report_to_kabid", "kabid"),
    ):
        closed = agenda[way]
        assert (
            closed[step].outcome == "rejected"
            and closed["record_repair_report"].outcome == "rejected"
        )
        assert f"Status: laporan ditolak ({step}, {who}): periksa kabel LAN juga" in reports[way]
    assert airflow.task_state(DAG, runs["kasi"], "report_to_kabid") == "skipped"


def test_a_url_instead_of_an_address_is_refused_before_any_check(airflow):
    run_id = airflow.trigger(
        DAG,
        {"pelapor": "Siti", "lokasi": "Kecamatan", "alamat_pc": "http://10.0.0.1",
         "uraian": "jaringan mati"},
        user="jfu",
    )  # fmt: skip
    airflow.wait_task(DAG, run_id, "record_complaint", {"failed"}, timeout=120)
    assert "bukan alamat IPv4 atau nama host" in airflow.task_log(DAG, run_id, "record_complaint")
    assert airflow.task_state(DAG, run_id, "ping_target") in ("upstream_failed", None)
