"""The network checks of SOP "Pemeliharaan Jaringan", run for real on loopback: TCP services,
the worker's addresses, ICMP ping (Debian's iputils-ping, installed when missing), and bad input
refused before anything runs."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from piak import network
from piak.errors import InvalidRequest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ping_installed() -> None:
    result = subprocess.run(
        [str(ROOT / "scripts/ensure-debian-packages.sh"), "iputils-ping"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"iputils-ping missing and not installable: {result.stderr}"


@pytest.mark.parametrize("value", ["10.10.1.25", "pc-kec-01.siak.local", "localhost"])
def test_addresses_and_host_names_are_accepted(value):
    assert network.check_host(value) == value


@pytest.mark.parametrize(
    "value",
    ["", "-c 1000 10.0.0.1", "http://10.0.0.1", "10.0.0.1:80", "a;reboot", "10.0.0.1 10.0.0.2"],
)
def test_anything_else_is_refused_naming_the_field(value):
    with pytest.raises(InvalidRequest, match=r"alamat_ip: .* bukan alamat IPv4 atau nama host"):
        network.check_host(value)


def test_a_listening_service_answers_and_a_closed_one_is_reported():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        found = network.check_service(network.Service("aplikasi", "127.0.0.1", port), 2)
        assert found.ok and found.millis is not None
    closed = network.check_service(network.Service("aplikasi", "127.0.0.1", port), 2)
    assert not closed.ok and f"port {port} tidak menjawab" in closed.detail
    unknown = network.check_service(network.Service("dns", "tidak-ada.invalid", 80), 2)
    assert not unknown.ok and "nama tidak dikenal" in unknown.detail


def test_the_office_subnet_is_checked_against_the_worker_addresses():
    config = network.NetworkConfig(
        services=(),
        office_subnets=(
            network.ipaddress.IPv4Network("127.0.0.0/8"),
            network.ipaddress.IPv4Network("198.51.100.0/24"),
        ),
        gateway=None,
        timeout=1,
        ping_count=1,
    )
    loopback, elsewhere = network.check_office_addresses(config)
    assert loopback.ok and "127.0.0.1" in loopback.detail
    assert not elsewhere.ok


def test_ping_reports_replies_and_loss(ping_installed):
    alive = network.ping("127.0.0.1", 2, 1)
    assert alive.ok and alive.detail.startswith("2/2 balasan, hilang 0%")
    unknown = network.ping("tidak-ada.invalid", 1, 1)
    assert not unknown.ok and unknown.detail


def test_the_configuration_is_checked(tmp_path):
    bad = tmp_path / "network.yaml"
    bad.write_text("services:\n  - {name: x, host: 'http://x', port: 80}\n")
    with pytest.raises(network.PiakError, match="konfigurasi jaringan tidak sah"):
        network.load_config(bad)
    assert network.load_config().services  # the project's own file loads
