"""SOP "Prosedur Penanganan Penggunaan diluar Ketentuan": the code of its steps.

Step 1 (monitoring): the administrator's observation - which SIAK user, from which machine, with
which program - is checked against the usage policy (``config/usage_policy.yaml``: programs that
may not be used against SIAK, machines that may) and the access register of SOP "Hak Akses". A
finding goes to the Kasi, the Kabid and the Kepala Dinas; step 5 stops the service: the user's
access is blocked in the register (idempotent), and when the observation names an Oracle session
the statement that cuts it (``ALTER SYSTEM KILL SESSION 'sid,serial#' IMMEDIATE``) is written for
the administrator to run in TOAD. V$SESSION's PROGRAM and MACHINE are reported by the client and
can be spoofed: evidence, not proof. Nothing found ends the procedure at step 1.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from piak import access_rights, settings
from piak.errors import InvalidRequest, PiakError
from piak.files import write_text_atomic
from piak.steps import run_key

_USER = re.compile(r"^[a-z][a-z0-9._]{1,40}$")
_MACHINE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\\-]{0,100}$")
_PROGRAM = re.compile(r"^[\w .()\-]{1,100}$")

TRIGGER_FORM: dict[str, dict[str, Any]] = {
    "user_id": {
        "type": "string",
        "minLength": 2,
        "maxLength": 41,
        "title": "ID pengguna SIAK",
        "description": "Contoh op.siti4471 (lihat daftar hak akses).",
    },
    "mesin": {"type": "string", "minLength": 1, "maxLength": 100, "title": "Komputer (MACHINE)"},
    "program": {"type": "string", "minLength": 1, "maxLength": 100, "title": "Program (PROGRAM)"},
    "sid_serial": {
        "type": ["null", "string"],
        "title": "SID,SERIAL# sesi Oracle (bila ada)",
        "description": "Contoh 123,4567 dari V$SESSION.",
    },
    "uraian": {
        "type": "string",
        "minLength": 5,
        "maxLength": 2000,
        "format": "multiline",
        "title": "Uraian temuan",
    },
}
TRIGGER_DEFAULTS: dict[str, Any] = {
    "user_id": "",
    "mesin": "",
    "program": "",
    "sid_serial": None,
    "uraian": "",
}


def load_policy(path: Path | None = None) -> dict[str, list[str]]:
    """``config/usage_policy.yaml`` (or ``PIAK_USAGE_POLICY_FILE``): forbidden programs and
    allowed machines (patterns, case-insensitive)."""
    path = path or settings.config_file("PIAK_USAGE_POLICY_FILE", "usage_policy.yaml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        policy = {
            "forbidden_programs": [str(p) for p in data["forbidden_programs"]],
            "allowed_machines": [str(p) for p in data["allowed_machines"]],
        }
        for pattern in policy["forbidden_programs"] + policy["allowed_machines"]:
            re.compile(pattern)
    except FileNotFoundError:
        raise PiakError(f"{path}: berkas kebijakan penggunaan tidak ditemukan") from None
    except (KeyError, TypeError, re.error, yaml.YAMLError) as exc:
        raise PiakError(f"{path}: kebijakan penggunaan tidak sah: {exc}") from None
    return policy


def observation(params: Any) -> dict[str, Any]:
    """The form's observation, checked field by field."""
    params = dict(params or {})
    checks = {"user_id": _USER, "mesin": _MACHINE, "program": _PROGRAM}
    seen = {}
    for field, pattern in checks.items():
        value = str(params.get(field) or "").strip()
        if not pattern.match(value):
            raise InvalidRequest(f"{field}: {value!r} tidak sah")
        seen[field] = value
    sid = str(params.get("sid_serial") or "").strip()
    if sid and not re.match(r"^\d{1,6},\d{1,6}$", sid):
        raise InvalidRequest(f"sid_serial: {sid!r} harus SID,SERIAL# (contoh 123,4567)")
    uraian = str(params.get("uraian") or "").strip()
    if len(uraian) < 5:
        raise InvalidRequest("uraian: wajib diisi")
    return {**seen, "sid_serial": sid or None, "uraian": uraian}


def violations(seen: dict[str, Any], policy: dict[str, list[str]], register: dict) -> list[str]:
    """What in the observation breaks the policy (empty: nothing out of policy)."""
    found = []
    holder = next((e for e in register.values() if e.get("user_id") == seen["user_id"]), None)
    if holder is None:
        found.append(f"ID {seen['user_id']} tidak ada di daftar hak akses")
    elif holder.get("status") == "diblokir":
        found.append(f"ID {seen['user_id']} sudah diblokir tetapi masih dipakai")
    for pattern in policy["forbidden_programs"]:
        if re.search(pattern, seen["program"], re.IGNORECASE):
            found.append(f"program {seen['program']} tidak boleh dipakai ke SIAK")
    if not any(re.fullmatch(p, seen["mesin"], re.IGNORECASE) for p in policy["allowed_machines"]):
        found.append(f"komputer {seen['mesin']} bukan komputer yang diizinkan")
    return found


def case_dir(context: Any) -> Path:
    return settings.storage() / "out_of_policy" / run_key(context, "PELANGGARAN")


def _register() -> dict[str, Any]:
    path = access_rights.register_file()
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def monitor_usage(context: Any) -> dict[str, Any]:
    """Step 1: the observation against the policy and the access register."""
    seen = observation(context["params"])
    found = violations(seen, load_policy(), _register())
    record = {**seen, "pelanggaran": found}
    path = write_text_atomic(
        case_dir(context) / "temuan.json", json.dumps(record, indent=2, ensure_ascii=False)
    )
    if not found:
        note = f"{seen['user_id']}: sesuai ketentuan, tidak ada tindakan"
        return {"output_ref": str(path), "note": note, "stop": True}
    return {"output_ref": str(path), "note": "; ".join(found), "violations": found, **seen}


def stop_service(context: Any) -> dict[str, Any]:
    """Step 5: block the user's access (the register) and write the Oracle statements."""
    path = case_dir(context) / "temuan.json"
    if not path.exists():
        raise PiakError(f"{path} belum ada: langkah 1 belum selesai pada run ini")
    seen = json.loads(path.read_text(encoding="utf-8"))
    register = _register()
    blocked = []
    for nik, entry in register.items():
        if entry.get("user_id") == seen["user_id"] and entry.get("status") != "diblokir":
            register[nik] = {**entry, "status": "diblokir", "diblokir_karena": path.parent.name}
            blocked.append(nik)
    if blocked:
        write_text_atomic(
            access_rights.register_file(),
            json.dumps(register, indent=2, ensure_ascii=False, sort_keys=True),
        )
    state = "diblokir di daftar hak akses" if blocked else "sudah diblokir / tidak terdaftar"
    note = f"{seen['user_id']}: {state}"
    if seen.get("sid_serial"):
        statement = f"ALTER SYSTEM KILL SESSION '{seen['sid_serial']}' IMMEDIATE;"
        write_text_atomic(path.parent / "putus_sesi.sql", statement + "\n")
        note += f"; putus sesi di TOAD: {statement}"
    return {"output_ref": str(path.parent), "note": note}


def record_case(context: Any) -> dict[str, Any]:
    """Step 6: the case closed in the agenda (its folder is the archive)."""
    folder = case_dir(context)
    seen = json.loads((folder / "temuan.json").read_text(encoding="utf-8"))
    return {
        "output_ref": str(folder),
        "note": f"{seen['user_id']}: {'; '.join(seen['pelanggaran'])}; layanan dihentikan",
    }
