"""SOP "Pemeliharaan Jaringan": the network checks of its steps, run for real from the worker.

- Step 2, software check: every configured service (the SIAK application, the database
  listener, DNS) answers - name resolved, TCP connection accepted, with the time it took.
- Step 3, the office's IP settings: the worker's addresses include the office subnet(s) in
  configuration and the default gateway answers.
- Step 4, ping: ``ping`` (ICMP, iputils) to the address the complaint is about, with packet
  loss and round-trip times.

A network problem is a finding, not a task failure: each check writes what it found to the
complaint's folder and the JFU decides at step 6. Bad input (an address that is neither an IPv4
address nor a host name) and bad configuration fail before anything runs.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from piak import settings
from piak.errors import InvalidRequest, PiakError
from piak.files import write_text_atomic
from piak.steps import ANSWER_XCOM, run_key

_HOST = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_PING_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")
_PING_RTT = re.compile(r"= ([\d.]+)/([\d.]+)/([\d.]+)/")

#: The trigger form of a complaint (Airflow Params JSON schema; labels in Bahasa Indonesia).
TRIGGER_FORM: dict[str, dict[str, Any]] = {
    "pelapor": {"type": "string", "minLength": 3, "maxLength": 100, "title": "Nama pelapor"},
    "lokasi": {
        "type": "string",
        "minLength": 3,
        "maxLength": 150,
        "title": "Lokasi pengguna",
        "description": "Bidang/seksi di dinas atau kantor kecamatan.",
    },
    "alamat_ip": {
        "type": "string",
        "minLength": 1,
        "maxLength": 253,
        "title": "Alamat IP / nama host yang dituju",
        "description": "Contoh 10.10.1.25 atau pc-kec-01.siak.local (bukan URL).",
    },
    "uraian": {
        "type": "string",
        "minLength": 5,
        "maxLength": 2000,
        "format": "multiline",
        "title": "Uraian keluhan",
    },
}
TRIGGER_DEFAULTS: dict[str, Any] = {"pelapor": "", "lokasi": "", "alamat_ip": "", "uraian": ""}


@dataclass(frozen=True)
class Service:
    name: str
    host: str
    port: int


@dataclass(frozen=True)
class NetworkConfig:
    services: tuple[Service, ...]
    office_subnets: tuple[ipaddress.IPv4Network, ...]
    gateway: str | None
    timeout: float
    ping_count: int


def config_file() -> Path:
    return settings.config_file("PIAK_NETWORK_FILE", "network.yaml")


def load_config(path: Path | None = None) -> NetworkConfig:
    """``config/network.yaml`` (or ``PIAK_NETWORK_FILE``), checked; errors name the field."""
    path = path or config_file()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        services = tuple(
            Service(str(s["name"]), check_host(str(s["host"])), int(s["port"]))
            for s in data.get("services") or []
        )
        subnets = tuple(ipaddress.IPv4Network(str(n)) for n in data.get("office_subnets") or [])
        gateway = data.get("gateway")
        return NetworkConfig(
            services,
            subnets,
            check_host(str(gateway)) if gateway else None,
            float(data.get("timeout_seconds", 3)),
            int(data.get("ping_count", 4)),
        )
    except FileNotFoundError:
        raise PiakError(f"{path}: berkas konfigurasi jaringan tidak ditemukan") from None
    except (KeyError, TypeError, ValueError, yaml.YAMLError, InvalidRequest) as exc:
        raise PiakError(f"{path}: konfigurasi jaringan tidak sah: {exc}") from None


def check_host(value: str) -> str:
    """An IPv4 address or a host name; never a URL, a port, an option or a list."""
    value = (value or "").strip()
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        pass
    if not _HOST.match(value) or value.startswith("-"):
        raise InvalidRequest(
            f"alamat_ip: {value!r} bukan alamat IPv4 atau nama host (contoh 10.10.1.25)"
        )
    return value


# -- the checks ----------------------------------------------------------------------------


@dataclass
class Finding:
    check: str
    target: str
    ok: bool
    detail: str
    millis: float | None = None


def check_service(service: Service, timeout: float) -> Finding:
    """Name resolution and a TCP connection to ``service``."""
    start = time.perf_counter()
    try:
        with socket.create_connection((service.host, service.port), timeout=timeout):
            pass
    except socket.gaierror as exc:
        return Finding(service.name, service.host, False, f"nama tidak dikenal: {exc}")
    except OSError as exc:
        detail = f"port {service.port} tidak menjawab: {exc.strerror or exc}"
        return Finding(service.name, f"{service.host}:{service.port}", False, detail)
    millis = (time.perf_counter() - start) * 1000
    target = f"{service.host}:{service.port}"
    return Finding(service.name, target, True, f"terhubung dalam {millis:.0f} ms", millis)


def local_addresses() -> list[ipaddress.IPv4Interface]:
    """The worker's IPv4 addresses (``ip -j addr``)."""
    if not shutil.which("ip"):
        raise PiakError("perintah 'ip' (iproute2) tidak ada di worker ini")
    output = subprocess.run(
        ["ip", "-j", "-4", "addr"], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    return [
        ipaddress.IPv4Interface(f"{info['local']}/{info['prefixlen']}")
        for link in json.loads(output)
        for info in link.get("addr_info", [])
        if info.get("family") == "inet"
    ]


def check_office_addresses(config: NetworkConfig) -> list[Finding]:
    addresses = local_addresses()
    findings = []
    for subnet in config.office_subnets:
        inside = [str(a.ip) for a in addresses if a.ip in subnet]
        detail = f"alamat di {subnet}: {', '.join(inside)}" if inside else f"tidak ada di {subnet}"
        findings.append(Finding("alamat IP dinas", str(subnet), bool(inside), detail))
    return findings


def ping(host: str, count: int, timeout: float) -> Finding:
    """ICMP ping with the system's ``ping``; packet loss and round-trip times."""
    host = check_host(host)
    if not shutil.which("ping"):
        raise PiakError("perintah 'ping' (iputils-ping) tidak ada di worker ini")
    command = ["ping", "-n", "-c", str(count), "-W", str(max(int(timeout), 1)), "--", host]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=count * (timeout + 1) + 10
    )
    summary = _PING_SUMMARY.search(result.stdout)
    if not summary:
        detail = (result.stderr or result.stdout).strip().splitlines()
        return Finding("ping", host, False, detail[-1] if detail else "ping gagal")
    sent, received = int(summary.group(1)), int(summary.group(2))
    rtt = _PING_RTT.search(result.stdout)
    average = float(rtt.group(2)) if rtt else None
    loss = 100 * (sent - received) / sent
    detail = f"{received}/{sent} balasan, hilang {loss:.0f}%"
    if average is not None:
        detail += f", rata-rata {average:.1f} ms"
    return Finding("ping", host, received > 0, detail, average)


# -- the DAG's steps -------------------------------------------------------------------------


def ticket_number(context: Any) -> str:
    """``JARINGAN-20261125-093012-1a2b3c``."""
    return run_key(context, "JARINGAN")


def ticket_dir(context: Any) -> Path:
    return settings.storage() / "network" / ticket_number(context)


def _save(context: Any, name: str, findings: list[Finding]) -> dict[str, Any]:
    path = write_text_atomic(
        ticket_dir(context) / f"{name}.json",
        json.dumps([asdict(f) for f in findings], indent=2, ensure_ascii=False),
    )
    bad = [f for f in findings if not f.ok]
    note = "; ".join(f"{f.check} {f.target}: {f.detail}" for f in findings) or "tidak ada"
    return {
        "output_ref": str(path),
        "outcome": "done",
        "note": ("BERMASALAH - " if bad else "baik - ") + note,
        "ok": not bad,
        "findings": [asdict(f) for f in findings],
    }


def record_complaint(context: Any) -> dict[str, Any]:
    """Step 1: the complaint, its address checked, written to the ticket's folder."""
    params = dict(context["params"])
    host = check_host(str(params.get("alamat_ip") or ""))
    for field in ("pelapor", "lokasi", "uraian"):
        if not str(params.get(field) or "").strip():
            raise InvalidRequest(f"{field}: wajib diisi")
    load_config()
    ticket = ticket_number(context)
    sheet = {**{k: str(params[k]).strip() for k in TRIGGER_FORM}, "alamat_ip": host}
    path = write_text_atomic(
        ticket_dir(context) / "keluhan.json", json.dumps(sheet, indent=2, ensure_ascii=False)
    )
    return {
        "output_ref": str(path),
        "note": f"{ticket}: {sheet['lokasi']} ({sheet['pelapor']}), tujuan {host}",
    }


def _complaint(context: Any) -> dict[str, Any]:
    path = ticket_dir(context) / "keluhan.json"
    if not path.exists():
        raise PiakError(f"{path} belum ada: keluhan belum dicatat pada run ini")
    return json.loads(path.read_text(encoding="utf-8"))


def check_software(context: Any) -> dict[str, Any]:
    """Step 2: the configured services answer (name resolution, TCP connection)."""
    config = load_config()
    return _save(
        context, "langkah2_layanan", [check_service(s, config.timeout) for s in config.services]
    )


def check_ip_settings(context: Any) -> dict[str, Any]:
    """Step 3: the worker's addresses are in the office subnet(s); the gateway answers."""
    config = load_config()
    findings = check_office_addresses(config)
    if config.gateway:
        findings.append(ping(config.gateway, 2, config.timeout))
        findings[-1].check = "gateway"
    return _save(context, "langkah3_alamat_ip", findings)


def ping_target(context: Any) -> dict[str, Any]:
    """Step 4: ping the address the complaint is about."""
    config = load_config()
    host = _complaint(context)["alamat_ip"]
    return _save(context, "langkah4_ping", [ping(host, config.ping_count, config.timeout)])


def write_report(context: Any, answer_tasks: list[str]) -> dict[str, Any]:
    """Step 9: the repair report (Laporan Penanggulangan Kerusakan) from the complaint, the
    checks and every answer, in the ticket's folder."""
    folder = ticket_dir(context)
    complaint = _complaint(context)
    lines = [
        f"# Laporan Penanggulangan Kerusakan {ticket_number(context)}",
        "",
        f"- Pelapor: {complaint['pelapor']} ({complaint['lokasi']})",
        f"- Alamat yang dituju: {complaint['alamat_ip']}",
        f"- Keluhan: {complaint['uraian']}",
        "",
        "## Pemeriksaan",
    ]
    for name in ("langkah2_layanan", "langkah3_alamat_ip", "langkah4_ping"):
        path = folder / f"{name}.json"
        for finding in json.loads(path.read_text()) if path.exists() else []:
            state = "baik" if finding["ok"] else "BERMASALAH"
            lines.append(f"- {finding['check']} {finding['target']}: {state}, {finding['detail']}")
    lines += ["", "## Tindak lanjut"]
    ti = context["ti"]
    for task_id in answer_tasks:
        answer = ti.xcom_pull(task_ids=task_id, key=ANSWER_XCOM)
        if not answer:
            continue
        user = (answer.get("responded_by_user") or {}).get("id") or "-"
        given = {k: v for k, v in (answer.get("params_input") or {}).items() if v}
        chosen = ", ".join(answer.get("chosen_options") or [])
        lines.append(f"- {task_id} oleh {user}: {chosen} {given or ''}".rstrip())
    path = write_text_atomic(folder / "laporan.md", "\n".join(lines) + "\n")
    return {"output_ref": str(path), "note": f"laporan {ticket_number(context)} dicatat"}
