"""SOP "Prosedur Layanan Bantuan dan Gangguan SIAK": the complaint sheet and its archive.

A complaint (the DAG's trigger form) gets a ticket number and a "Lembar Permasalahan"; after the
Kasi, Kabid and field officer have answered, the JFU's archive step writes every answer into the
ticket's folder as proof that the complaint was followed up ("Bukti sudah ditindak lanjuti").
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from piak import settings
from piak.files import write_text_atomic
from piak.steps import ANSWER_XCOM, run_date

CATEGORIES = ["Aplikasi SIAK", "Layanan KTP-el", "Jaringan", "Lainnya"]

#: The trigger form (Airflow Params as plain JSON-schema dicts; labels in Bahasa Indonesia).
TRIGGER_FORM: dict[str, dict[str, Any]] = {
    "pelapor": {
        "type": "string",
        "minLength": 3,
        "maxLength": 100,
        "title": "Nama pelapor",
    },
    "asal": {
        "type": "string",
        "minLength": 3,
        "maxLength": 100,
        "title": "Asal keluhan",
        "description": "Kecamatan, bidang atau unit layanan yang melapor.",
    },
    "kontak": {
        "type": "string",
        "maxLength": 100,
        "title": "Kontak pelapor",
        "description": "Nomor telepon atau surel.",
    },
    "kategori": {"type": "string", "enum": CATEGORIES, "title": "Kategori permasalahan"},
    "uraian": {
        "type": "string",
        "minLength": 10,
        "maxLength": 4000,
        "title": "Uraian permasalahan",
        "format": "multiline",
    },
}
TRIGGER_DEFAULTS = {
    "pelapor": "",
    "asal": "",
    "kontak": "",
    "kategori": "Aplikasi SIAK",
    "uraian": "",
}

#: Sign-off steps whose answers belong in the archive, in SOP order.
ANSWER_TASKS = ("decide_handling", "review_by_kabid", "instruct_field_officer", "check_in_field")


def ticket_number(context: Any) -> str:
    """``BANTUAN-20261125-1a2b3c``: the run's WIB date and a short digest of its run id."""
    day = run_date(context).strftime("%Y%m%d")
    digest = hashlib.sha256(context["run_id"].encode()).hexdigest()[:6]
    return f"BANTUAN-{day}-{digest}"


def ticket_dir(ticket: str) -> Path:
    return settings.storage() / "helpdesk" / ticket


def record_complaint(context: Any) -> dict[str, str]:
    """Step 1: write the complaint sheet of this run (the same file on every retry)."""
    params = context["params"]
    ticket = ticket_number(context)
    sheet = "\n".join(
        [
            f"# Lembar Permasalahan {ticket}",
            "",
            f"- Pelapor: {params['pelapor']}",
            f"- Asal: {params['asal']}",
            f"- Kontak: {params.get('kontak') or '-'}",
            f"- Kategori: {params['kategori']}",
            "",
            "## Uraian",
            "",
            params["uraian"].strip(),
            "",
        ]
    )
    path = write_text_atomic(ticket_dir(ticket) / "lembar_permasalahan.md", sheet)
    return {
        "output_ref": str(path),
        "note": f"{ticket}: {params['kategori']} dari {params['asal']} ({params['pelapor']})",
    }


def archive(context: Any) -> dict[str, str]:
    """Step 6: the answers of every step that ran, written next to the complaint sheet."""
    ticket = ticket_number(context)
    ti = context["ti"]
    lines = [f"# Arsip tindak lanjut {ticket}", ""]
    for task_id in ANSWER_TASKS:
        answer = ti.xcom_pull(task_ids=task_id, key=ANSWER_XCOM)
        if not answer:
            continue
        user = answer.get("responded_by_user") or {}
        lines.append(f"## {task_id}")
        lines.append(f"- Oleh: {user.get('name') or user.get('id') or '-'}")
        lines.append(f"- Waktu: {answer.get('responded_at')}")
        lines.append(f"- Pilihan: {', '.join(answer.get('chosen_options') or []) or '-'}")
        for key, value in (answer.get("params_input") or {}).items():
            lines.append(f"- {key}: {value if value not in (None, '') else '-'}")
        lines.append("")
    path = write_text_atomic(ticket_dir(ticket) / "arsip.md", "\n".join(lines))
    return {"output_ref": str(path), "note": f"{ticket} diarsipkan"}
