"""The probes of SOP "Pemeliharaan Jaringan", run for real on loopback: the SIAK server's TCP
port, DNS through a real DNS server (dnsmasq) and the worker's resolver, the PC's address in the
office subnet, ICMP ping to the PC and the modem (iputils-ping); the JFU's answers compared with
a re-check; the repair report written whatever the reports' outcome; bad input refused before
anything runs."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
from sop_helpers import RunTI, context

from piak.core.errors import InvalidRequest, PiakError
from piak.sops import network
from piak.sops.network import MODEM_OFF, MODEM_ON, NOT_WORKING, WORKING

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ping_installed() -> None:
    result = subprocess.run(
        [str(ROOT / "scripts/ensure-debian-packages.sh"), "iputils-ping"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"iputils-ping missing and not installable: {result.stderr}"


@pytest.fixture
def listening():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("value", ["10.10.1.25", "pc-kec-01.siak.local", "localhost"])
def test_addresses_and_host_names_are_accepted(value):
    assert network.check_host(value) == value


@pytest.mark.parametrize(
    "value",
    ["", "-c 1000 10.0.0.1", "http://10.0.0.1", "10.0.0.1:80", "a;reboot", "10.0.0.1 10.0.0.2"],
)
def test_anything_else_is_refused_naming_the_field(value):
    with pytest.raises(InvalidRequest, match=r"alamat_pc: .* bukan alamat IPv4 atau nama host"):
        network.check_host(value)


def test_a_listening_service_answers_and_a_closed_one_is_reported(listening):
    found = network.check_service(
        network.Service(name="aplikasi", host="127.0.0.1", port=listening), 2
    )
    assert found.ok and found.millis is not None
    port = closed_port()
    closed = network.check_service(network.Service(name="aplikasi", host="127.0.0.1", port=port), 2)
    assert not closed.ok and f"port {port} tidak menjawab" in closed.detail
    unknown = network.check_service(
        network.Service(name="dns", host="tidak-ada.invalid", port=80), 2
    )
    assert not unknown.ok and "nama tidak dikenal" in unknown.detail


def test_dns_through_the_office_server_and_the_worker_resolver(dns_server):
    office = network.Dns(server=dns_server["server"], port=dns_server["port"])
    found = network.check_dns("siak.dinas.local", office, 2)
    assert found.ok and found.detail == "-> 127.0.0.5"
    assert found.check == f"DNS (server 127.0.0.1:{dns_server['port']})"
    missing = network.check_dns("lain.dinas.local", office, 2)
    assert not missing.ok and missing.detail == "nama tidak ada (NXDOMAIN)"
    silent = network.Dns(server="127.0.0.1", port=closed_port())
    assert not network.check_dns("siak.dinas.local", silent, 1).ok
    assert network.check_dns("localhost", network.Dns(), 2).ok


def test_the_pc_must_be_in_an_office_subnet_and_the_gateway_in_its_subnet():
    config = network.NetworkConfig(office_subnets=["127.0.0.0/8", "198.51.100.0/24"])
    inside, gateway = network.check_addressing("127.0.0.1", "127.0.0.2", config)
    assert inside.ok and inside.detail == "127.0.0.1 di 127.0.0.0/8"
    assert gateway.ok
    (outside,) = network.check_addressing("192.0.2.7", None, config)
    assert not outside.ok and "tidak di subnet dinas" in outside.detail
    _, wrong = network.check_addressing("127.0.0.1", "198.51.100.1", config)
    assert not wrong.ok and wrong.detail == "198.51.100.1 di luar 127.0.0.0/8"
    (unknown,) = network.check_addressing("pc-tidak-ada.invalid", None, config)
    assert not unknown.ok and unknown.detail == "nama komputer tidak terselesaikan"


def test_ping_reports_replies_and_loss(ping_installed):
    alive = network.ping("127.0.0.1", 2, 1)
    assert alive.ok and alive.detail.startswith("2/2 balasan, hilang 0%")
    unknown = network.ping("tidak-ada.invalid", 1, 1)
    assert not unknown.ok and unknown.detail


@pytest.mark.parametrize(
    ("modem_ok", "all_ok", "modem", "decision", "expected"),
    [
        (True, True, MODEM_ON, WORKING, []),
        (
            False,
            False,
            MODEM_ON,
            WORKING,
            ["modem menyala dan terhubung, tetapi", "sudah berfungsi, tetapi"],
        ),
        (True, False, MODEM_OFF, NOT_WORKING, ["modem mati atau tidak terhubung, tetapi"]),
        (
            True,
            True,
            MODEM_ON,
            NOT_WORKING,
            ["belum berfungsi, tetapi semua pemeriksaan ulang baik"],
        ),
    ],
)
def test_the_jfu_answers_are_compared_with_the_probes(modem_ok, all_ok, modem, decision, expected):
    probes = {
        "langkah2_layanan": [{"check": "aplikasi", "target": "x:443", "ok": all_ok, "detail": "d"}],
        "langkah3_alamat_ip": [
            {
                "check": "modem/gateway",
                "target": "10.0.0.1",
                "ok": modem_ok,
                "detail": "0/2 balasan",
            }
        ],
    }
    found = network.compare(probes, modem, decision)
    assert len(found) == len(expected)
    for text, part in zip(found, expected, strict=True):
        assert part in text


def test_a_disagreement_is_flagged_and_the_report_written_after_a_refusal(
    tmp_path, monkeypatch, listening, ping_installed
):
    config = tmp_path / "network.yaml"
    port = closed_port()
    config.write_text(
        "services:\n"
        f"  - {{name: aplikasi SIAK, host: 127.0.0.1, port: {listening}}}\n"
        f"  - {{name: listener basis data, host: 127.0.0.1, port: {port}}}\n"
        "office_subnets: [127.0.0.0/8]\nping_count: 1\ntimeout_seconds: 1\n"
    )
    monkeypatch.setenv("PIAK_NETWORK_FILE", str(config))
    monkeypatch.setenv("PIAK_STORAGE", str(tmp_path / "storage"))
    ti = RunTI()
    ctx = context(
        {"pelapor": "Siti", "lokasi": "Kecamatan Contoh", "alamat_pc": "127.0.0.1",
         "alamat_modem": "127.0.0.2", "uraian": "SIAK tidak bisa dibuka"},
        ti=ti,
    )  # fmt: skip
    assert network.record_complaint(ctx)["alamat_modem"] == "127.0.0.2"
    software = network.check_software(ctx)
    assert software["note"].startswith("BERMASALAH") and software["actor"] == network.PROBE_ACTOR
    addressing = network.check_ip_settings(ctx)
    assert addressing["ok"] and [f["check"] for f in addressing["findings"]] == [
        "alamat IP komputer", "gateway sesubnet", "modem/gateway"
    ]  # fmt: skip
    assert network.ping_target(ctx)["ok"]
    ti.answer("check_modem", "OK", "jfu", modem_menyala=MODEM_ON, kondisi_modem="lampu normal")
    ti.answer("decide_network_working", WORKING, "jfu")
    checked = network.verify_network(ctx, "check_modem", "decide_network_working")
    (disagreement,) = checked["disagreements"]
    assert disagreement.startswith("JFU: jaringan sudah berfungsi, tetapi pemeriksaan ulang")
    assert f"listener basis data 127.0.0.1:{port}" in disagreement
    ti.answer("report_to_kasi", "Tolak laporan", "kasi", catatan="port basis data masih tertutup")
    report = network.write_report(ctx, ["check_modem", "decide_network_working", "report_to_kasi"])
    text = Path(report["output_ref"]).read_text()
    assert report["outcome"] == "rejected"
    assert "Status: laporan ditolak (report_to_kasi, kasi): port basis data masih tertutup" in text
    assert "TIDAK SESUAI: JFU: jaringan sudah berfungsi" in text
    assert "modem/gateway 127.0.0.2: baik" in text


def test_the_configuration_is_checked(tmp_path):
    bad = tmp_path / "network.yaml"
    bad.write_text("services:\n  - {name: xx, host: 'http://x', port: 80}\n")
    with pytest.raises(PiakError, match=r"services\[0\]\.host: 'http://x' bukan alamat IPv4"):
        network.load_config(bad)
    bad.write_text("dns: {server: 10.0.0.1, port: 99999}\n")
    with pytest.raises(PiakError, match=r"dns\.port: terlalu besar"):
        network.load_config(bad)
    assert network.load_config().services  # the project's own file loads
