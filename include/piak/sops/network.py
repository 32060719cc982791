"""SOP "Pemeliharaan Jaringan": probes of the devices a complaint names, run from the worker.

- Step 2, software check: the SIAK server's port(s) accept a TCP connection and the configured
  names resolve (through the office's DNS server when configured, else the worker's resolver).
- Step 3, the office's IP settings: the complaining PC's address lies in an office subnet, the
  modem/gateway the complaint names (else the configured one) is in the PC's subnet and answers.
- Step 4, ping: ``ping`` (ICMP, iputils) to the complaining PC, with loss and round-trip times.
- Step 6, re-check: after the JFU's decision (and the provider's ticket) every probe runs again
  and is compared with what the JFU answered - the modem's state at step 5, "working" or not at
  step 6. A disagreement is flagged to the Kasi and the Kabid and in the repair report.

A network problem is a finding, not a task failure: each probe writes what it found to the
complaint's folder. Bad input (an address that is neither an IPv4 address nor a host name) and
bad configuration fail before anything runs. The probes reach only what the worker can reach:
the JFU still looks at the modem's lights and cables on site.
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
from typing import Annotated, Any

from pydantic import Field

from piak.core import sealed, settings
from piak.core.config import Strict, checked, load_model
from piak.core.errors import InvalidRequest, PiakError
from piak.core.files import write_text_atomic
from piak.workflow.steps import ANSWER_XCOM, answered_by, run_key

_HOST = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_PING_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")
_PING_RTT = re.compile(r"= ([\d.]+)/([\d.]+)/([\d.]+)/")
#: The JFU's answers the probes are compared with.
MODEM_ON, MODEM_OFF = "Menyala dan terhubung", "Mati atau tidak terhubung"
WORKING, NOT_WORKING = "Sudah berfungsi: laporkan ke Kasi", "Belum berfungsi: hubungi provider"
PROBE_ACTOR = "sistem (pemeriksaan otomatis dari worker)"

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
    "alamat_pc": {
        "type": "string",
        "minLength": 1,
        "maxLength": 253,
        "title": "Alamat IP / nama komputer pengguna",
        "description": "Komputer yang dikeluhkan, contoh 10.10.1.25 atau pc-kec-01.siak.local.",
    },
    "alamat_modem": {
        "type": ["null", "string"],
        "maxLength": 253,
        "title": "Alamat modem / gateway di lokasi pengguna",
        "description": "Contoh 10.10.1.1. Kosongkan: gateway dari konfigurasi.",
    },
    "uraian": {
        "type": "string",
        "minLength": 5,
        "maxLength": 2000,
        "format": "multiline",
        "title": "Uraian keluhan",
    },
}
TRIGGER_DEFAULTS: dict[str, Any] = {
    "pelapor": "",
    "lokasi": "",
    "alamat_pc": "",
    "alamat_modem": None,
    "uraian": "",
}


def check_host(value: str, field: str = "alamat_pc") -> str:
    """An IPv4 address or a host name; never a URL, a port, an option or a list."""
    value = (value or "").strip()
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        pass
    if not _HOST.match(value) or value.startswith("-"):
        problem = f"{value!r} bukan alamat IPv4 atau nama host (contoh 10.10.1.25)"
        raise InvalidRequest(f"{field}: {problem}" if field else problem)
    return value


Host = Annotated[str, checked(lambda value: check_host(str(value), field=""))]


class Service(Strict):
    name: str = Field(min_length=2, max_length=80)
    host: Host
    port: int = Field(ge=1, le=65535)


class Dns(Strict):
    """Names the SIAK clients must resolve; through ``server`` when set."""

    server: Host | None = None
    port: int = Field(default=53, ge=1, le=65535)
    names: tuple[Host, ...] = ()


class NetworkConfig(Strict):
    """``config/network.yaml``."""

    services: tuple[Service, ...] = ()
    dns: Dns = Dns()
    office_subnets: tuple[ipaddress.IPv4Network, ...] = ()
    gateway: Host | None = None
    timeout_seconds: float = Field(default=3, gt=0, le=30)
    ping_count: int = Field(default=4, ge=1, le=20)


def config_file() -> Path:
    return settings.config_file("PIAK_NETWORK_FILE", "network.yaml")


def load_config(path: Path | None = None) -> NetworkConfig:
    """``config/network.yaml`` (or ``PIAK_NETWORK_FILE``), checked; errors name the key."""
    return load_model(path or config_file(), NetworkConfig, "jaringan")


# -- the probes -----------------------------------------------------------------------------


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
    target = f"{service.host}:{service.port}"
    try:
        with socket.create_connection((service.host, service.port), timeout=timeout):
            pass
    except socket.gaierror as exc:
        return Finding(service.name, service.host, False, f"nama tidak dikenal: {exc}")
    except OSError as exc:
        detail = f"port {service.port} tidak menjawab: {exc.strerror or exc}"
        return Finding(service.name, target, False, detail)
    millis = (time.perf_counter() - start) * 1000
    return Finding(service.name, target, True, f"terhubung dalam {millis:.0f} ms", millis)


def check_dns(name: str, where: Dns, timeout: float) -> Finding:
    """``name`` resolved: by the office's DNS server (a real DNS query) or the worker's resolver."""
    start = time.perf_counter()
    if where.server is None:
        try:
            found = sorted({a[4][0] for a in socket.getaddrinfo(name, None, socket.AF_INET)})
        except socket.gaierror as exc:
            return Finding("DNS (resolver worker)", name, False, f"tidak terselesaikan: {exc}")
        shown = "resolver worker"
    else:
        import dns.exception
        import dns.resolver

        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port = [where.server], where.port
        resolver.lifetime = timeout
        shown = f"server {where.server}:{where.port}"
        try:
            found = sorted(r.to_text() for r in resolver.resolve(name, "A"))
        except dns.resolver.NXDOMAIN:
            return Finding(f"DNS ({shown})", name, False, "nama tidak ada (NXDOMAIN)")
        except dns.exception.Timeout:
            return Finding(f"DNS ({shown})", name, False, f"tidak menjawab dalam {timeout:g} s")
        except dns.exception.DNSException as exc:
            return Finding(f"DNS ({shown})", name, False, f"gagal: {type(exc).__name__}: {exc}")
    millis = (time.perf_counter() - start) * 1000
    return Finding(f"DNS ({shown})", name, True, f"-> {', '.join(found)}", millis)


def resolve(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address of ``host`` (itself when it is one), None when it does not resolve."""
    try:
        return ipaddress.IPv4Address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.getaddrinfo(host, None, socket.AF_INET)[0][4][0])
    except (socket.gaierror, IndexError):
        return None


def check_addressing(pc: str, gateway: str | None, config: NetworkConfig) -> list[Finding]:
    """The PC's address inside an office subnet, and the gateway inside the PC's subnet."""
    address = resolve(pc)
    if address is None:
        return [Finding("alamat IP komputer", pc, False, "nama komputer tidak terselesaikan")]
    subnet = next((n for n in config.office_subnets if address in n), None)
    findings = [
        Finding(
            "alamat IP komputer",
            pc,
            subnet is not None,
            f"{address} di {subnet}"
            if subnet
            else f"{address} tidak di subnet dinas ({', '.join(map(str, config.office_subnets))})",
        )
    ]
    if gateway and subnet is not None:
        gateway_address = resolve(gateway)
        inside = gateway_address is not None and gateway_address in subnet
        findings.append(
            Finding(
                "gateway sesubnet",
                gateway,
                inside,
                f"{gateway_address} di {subnet}"
                if inside
                else f"{gateway_address} di luar {subnet}",
            )
        )
    return findings


def ping(host: str, count: int, timeout: float, check: str = "ping") -> Finding:
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
        return Finding(check, host, False, detail[-1] if detail else "ping gagal")
    sent, received = int(summary.group(1)), int(summary.group(2))
    rtt = _PING_RTT.search(result.stdout)
    average = float(rtt.group(2)) if rtt else None
    loss = 100 * (sent - received) / sent
    detail = f"{received}/{sent} balasan, hilang {loss:.0f}%"
    if average is not None:
        detail += f", rata-rata {average:.1f} ms"
    return Finding(check, host, received > 0, detail, average)


def probe_all(complaint: dict[str, Any], config: NetworkConfig) -> dict[str, list[Finding]]:
    """Every probe of steps 2-4 for one complaint (the re-check runs them all again)."""
    timeout = config.timeout_seconds
    software = [check_service(s, timeout) for s in config.services]
    software += [check_dns(name, config.dns, timeout) for name in config.dns.names]
    addressing = check_addressing(complaint["alamat_pc"], complaint["alamat_modem"], config)
    if complaint["alamat_modem"]:
        addressing.append(ping(complaint["alamat_modem"], 2, timeout, check="modem/gateway"))
    return {
        "langkah2_layanan": software,
        "langkah3_alamat_ip": addressing,
        "langkah4_ping": [ping(complaint["alamat_pc"], config.ping_count, timeout)],
    }


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
        "note": ("BERMASALAH - " if bad else "baik - ") + note,
        "ok": not bad,
        "findings": [asdict(f) for f in findings],
        "actor": PROBE_ACTOR,
    }


def record_complaint(context: Any) -> dict[str, Any]:
    """Step 1: the complaint, its addresses checked, written to the ticket's folder."""
    params = dict(context["params"])
    pc = check_host(str(params.get("alamat_pc") or ""))
    modem = str(params.get("alamat_modem") or "").strip()
    for field in ("pelapor", "lokasi", "uraian"):
        if not str(params.get(field) or "").strip():
            raise InvalidRequest(f"{field}: wajib diisi")
    config = load_config()
    modem = check_host(modem, "alamat_modem") if modem else config.gateway
    ticket = ticket_number(context)
    sheet = {
        **{k: str(params[k]).strip() for k in ("pelapor", "lokasi", "uraian")},
        "alamat_pc": pc,
        "alamat_modem": modem,
    }
    path = write_text_atomic(
        ticket_dir(context) / "keluhan.json", json.dumps(sheet, indent=2, ensure_ascii=False)
    )
    return {
        "output_ref": str(path),
        "note": f"{ticket}: {sheet['lokasi']} ({sheet['pelapor']}), komputer {pc}, "
        f"modem {modem or '-'}",
        "alamat_modem": modem,
    }


def _complaint(context: Any) -> dict[str, Any]:
    path = ticket_dir(context) / "keluhan.json"
    if not path.exists():
        raise PiakError(f"{path} belum ada: keluhan belum dicatat pada run ini")
    return json.loads(path.read_text(encoding="utf-8"))


def check_software(context: Any) -> dict[str, Any]:
    """Step 2: the SIAK server's port(s) answer and the names resolve."""
    config = load_config()
    found = [check_service(s, config.timeout_seconds) for s in config.services]
    found += [check_dns(n, config.dns, config.timeout_seconds) for n in config.dns.names]
    return _save(context, "langkah2_layanan", found)


def check_ip_settings(context: Any) -> dict[str, Any]:
    """Step 3: the PC's address in the office subnet; the modem/gateway in it and answering."""
    config = load_config()
    complaint = _complaint(context)
    found = check_addressing(complaint["alamat_pc"], complaint["alamat_modem"], config)
    if complaint["alamat_modem"]:
        found.append(ping(complaint["alamat_modem"], 2, config.timeout_seconds, "modem/gateway"))
    return _save(context, "langkah3_alamat_ip", found)


def ping_target(context: Any) -> dict[str, Any]:
    """Step 4: ping the complaining PC."""
    config = load_config()
    host = _complaint(context)["alamat_pc"]
    return _save(context, "langkah4_ping", [ping(host, config.ping_count, config.timeout_seconds)])


def compare(
    probes: dict[str, list[dict[str, Any]]], modem_answer: str | None, decision: str | None
) -> list[str]:
    """Where the JFU's answers and the probes disagree (empty: they agree)."""
    failed = [f for found in probes.values() for f in found if not f["ok"]]
    modem = [f for f in probes.get("langkah3_alamat_ip", []) if f["check"] == "modem/gateway"]
    found = []
    if modem and modem_answer == MODEM_ON and not modem[0]["ok"]:
        found.append(f"JFU: modem {MODEM_ON.lower()}, tetapi modem/gateway {modem[0]['target']} "
                     f"tidak menjawab ping ({modem[0]['detail']})")  # fmt: skip
    if modem and modem_answer == MODEM_OFF and modem[0]["ok"]:
        found.append(f"JFU: modem {MODEM_OFF.lower()}, tetapi modem/gateway {modem[0]['target']} "
                     f"menjawab ping ({modem[0]['detail']})")  # fmt: skip
    if decision == WORKING and failed:
        found.append(
            "JFU: jaringan sudah berfungsi, tetapi pemeriksaan ulang bermasalah: "
            + "; ".join(f"{f['check']} {f['target']}: {f['detail']}" for f in failed)
        )
    if decision == NOT_WORKING and not failed:
        found.append("JFU: jaringan belum berfungsi, tetapi semua pemeriksaan ulang baik")
    return found


def verify_network(context: Any, modem_task: str, decision_task: str) -> dict[str, Any]:
    """Step 6 (re-check): every probe again after the JFU's decision, compared with the JFU's
    answers; a disagreement is flagged for the Kasi and the Kabid."""
    ti = context["ti"]
    modem = (ti.xcom_pull(task_ids=modem_task, key=ANSWER_XCOM) or {}).get("params_input") or {}
    chosen = (ti.xcom_pull(task_ids=decision_task, key=ANSWER_XCOM) or {}).get("chosen_options")
    decision = (chosen or [None])[0]
    probes = {
        name: [asdict(f) for f in found]
        for name, found in probe_all(_complaint(context), load_config()).items()
    }
    disagreements = compare(probes, modem.get("modem_menyala"), decision)
    record = {"keputusan_jfu": decision, "modem_jfu": modem.get("modem_menyala"),
              "pemeriksaan_ulang": probes, "tidak_sesuai": disagreements}  # fmt: skip
    path = write_text_atomic(
        ticket_dir(context) / "periksa_ulang.json",
        json.dumps(record, indent=2, ensure_ascii=False),
    )
    findings = [f for found in probes.values() for f in found]
    state = "TIDAK SESUAI - " + "; ".join(disagreements) if disagreements else "sesuai"
    return {
        "output_ref": str(path),
        "note": f"pemeriksaan ulang {state}",
        "disagreements": disagreements,
        "findings": findings,
        "actor": PROBE_ACTOR,
    }


def write_report(context: Any, answer_tasks: list[str]) -> dict[str, Any]:
    """Step 9: the repair report (Laporan Penanggulangan Kerusakan) from the complaint, the
    probes, the re-check and its comparison, and every answer - accepted or not."""
    folder = ticket_dir(context)
    complaint = _complaint(context)
    lines = [
        f"# Laporan Penanggulangan Kerusakan {ticket_number(context)}",
        "",
        f"- Pelapor: {complaint['pelapor']} ({complaint['lokasi']})",
        f"- Komputer: {complaint['alamat_pc']}; modem/gateway: {complaint['alamat_modem'] or '-'}",
        f"- Keluhan: {complaint['uraian']}",
        "",
        "## Pemeriksaan (langkah 2-4)",
    ]
    for name in ("langkah2_layanan", "langkah3_alamat_ip", "langkah4_ping"):
        path = folder / f"{name}.json"
        for finding in json.loads(path.read_text()) if path.exists() else []:
            lines.append(_line(finding))
    recheck = folder / "periksa_ulang.json"
    if recheck.exists():
        record = json.loads(recheck.read_text())
        lines += ["", "## Pemeriksaan ulang setelah keputusan JFU"]
        for found in record["pemeriksaan_ulang"].values():
            lines += [_line(f) for f in found]
        lines += ["", "## Jawaban JFU dibandingkan dengan pemeriksaan"]
        lines += [f"- TIDAK SESUAI: {d}" for d in record["tidak_sesuai"]] or ["- sesuai"]
    lines += ["", "## Tindak lanjut"]
    ti = context["ti"]
    refused = None
    for task_id in answer_tasks:
        answer = ti.xcom_pull(task_ids=task_id, key=ANSWER_XCOM)
        if not answer:
            continue
        user = answered_by(context, task_id) or "-"
        given = {k: v for k, v in (answer.get("params_input") or {}).items() if v}
        chosen = ", ".join(answer.get("chosen_options") or [])
        lines.append(f"- {task_id} oleh {user}: {chosen} {given or ''}".rstrip())
        if chosen.startswith("Tolak"):
            refused = (task_id, user, given.get("catatan") or "-")
    status = (
        f"laporan ditolak ({refused[0]}, {refused[1]}): {refused[2]}"
        if refused
        else f"laporan diterima Kabid ({answered_by(context, 'report_to_kabid')})"
    )
    lines += ["", f"Status: {status}"]
    path = write_text_atomic(folder / "laporan.md", "\n".join(lines) + "\n")
    sealed.seal_case(folder, "network_maintenance", ticket=ticket_number(context))
    kabid = answered_by(context, "report_to_kabid")
    return {
        "output_ref": str(path),
        "note": f"laporan {ticket_number(context)} dicatat: {status}",
        "outcome": "rejected" if refused else "done",
        "actor": kabid if kabid and not refused else f"sistem ({status.split(':')[0]})",
    }


def _line(finding: dict[str, Any]) -> str:
    state = "baik" if finding["ok"] else "BERMASALAH"
    return f"- {finding['check']} {finding['target']}: {state}, {finding['detail']}"
