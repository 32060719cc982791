"""SOP "Prosedur Layanan Bantuan dan Gangguan SIAK": a complaint, its answers, its archive.

A complaint (the DAG's trigger form) gets a ticket number and a "Lembar Permasalahan". The Kasi
answers it (step 2, the answer for the reporter is a required field), the Kabid may answer
instead (step 3), the Kasi instructs the field officer (step 4), who reports what he found
(step 5). Then the answers go to the reporter's contact through the configured notifier
(``config/helpdesk.yaml``; :mod:`piak.workflow.notify`) and the JFU's archive step writes
everything into the ticket's folder as proof of follow-up ("Bukti sudah ditindak lanjuti").

"Belum berfungsi" at step 5 goes round again: the round is written to the ticket's history and a
new run of the same DAG starts for the same ticket (run ``<ticket>__putaran-<n>``), carrying
the round number; its sign-offs show the earlier rounds. A field check nobody answers in time
(``config/signoffs.yaml``) is given up; the reporter is told and the complaint archived all the
same.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from piak.core import sealed, settings
from piak.core.config import Strict, load_model
from piak.core.errors import InvalidRequest, PiakError
from piak.core.files import write_text_atomic
from piak.workflow.steps import ANSWER_XCOM, answered_by, run_date

CATEGORIES = ["Aplikasi SIAK", "Layanan KTP-el", "Jaringan", "Lainnya"]
FIXED, NOT_FIXED = "Sudah berfungsi", "Belum berfungsi: tangani lagi"
_TICKET = re.compile(r"^BANTUAN-\d{8}-[0-9a-f]{6}$")
MAX_ROUNDS = 10

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
        "minLength": 5,
        "maxLength": 100,
        "title": "Kontak pelapor",
        "description": "Nomor telepon atau surel: jawaban dikirim ke sini.",
    },
    "kategori": {"type": "string", "enum": CATEGORIES, "title": "Kategori permasalahan"},
    "uraian": {
        "type": "string",
        "minLength": 10,
        "maxLength": 4000,
        "title": "Uraian permasalahan",
        "format": "multiline",
    },
    "tiket": {
        "type": ["null", "string"],
        "pattern": _TICKET.pattern,
        "title": "Nomor tiket (putaran ulang)",
        "description": "Diisi otomatis bila keluhan ditangani lagi; kosongkan untuk keluhan baru.",
    },
    "putaran": {
        "type": "integer",
        "minimum": 1,
        "maximum": MAX_ROUNDS,
        "title": "Putaran",
        "description": "Diisi otomatis; keluhan baru: 1.",
    },
}
TRIGGER_DEFAULTS = {
    "pelapor": "",
    "asal": "",
    "kontak": "",
    "kategori": "Aplikasi SIAK",
    "uraian": "",
    "tiket": None,
    "putaran": 1,
}

#: Sign-off steps whose answers belong in the archive, in SOP order.
ANSWER_TASKS = ("decide_handling", "review_by_kabid", "instruct_field_officer", "check_in_field")


class HelpdeskConfig(Strict):
    """``config/helpdesk.yaml``."""

    #: a ``piak.workflow.notify.PiakNotifier`` (``module:Class``): how the reporter hears the answer
    notifier: Annotated[str, Field(pattern=r"^[\w.]+:\w+$")] = "piak.workflow.notify:OfficeNotifier"


def load_config(path: Path | None = None) -> HelpdeskConfig:
    path = path or settings.config_file("PIAK_HELPDESK_FILE", "helpdesk.yaml")
    return load_model(path, HelpdeskConfig, "layanan bantuan")


def ticket_number(context: Any) -> str:
    """``BANTUAN-20261125-1a2b3c``: the first round's WIB date and a digest of its run id; a
    later round carries the ticket of the first."""
    given = str((context.get("params") or {}).get("tiket") or "").strip()
    if given:
        if not _TICKET.match(given):
            raise InvalidRequest(f"tiket: {given[:40]!r} bukan nomor tiket (BANTUAN-...)")
        return given
    day = run_date(context).strftime("%Y%m%d")
    digest = hashlib.sha256(context["run_id"].encode()).hexdigest()[:6]
    return f"BANTUAN-{day}-{digest}"


def ticket_dir(ticket: str) -> Path:
    return settings.storage() / "helpdesk" / ticket


def round_of(context: Any) -> int:
    return int((context.get("params") or {}).get("putaran") or 1)


def _history(ticket: str) -> list[dict[str, Any]]:
    path = ticket_dir(ticket) / "riwayat.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def record_complaint(context: Any) -> dict[str, Any]:
    """Step 1: write the complaint sheet (round 1), or take up the ticket again (a later
    round, with the history of the earlier ones)."""
    params = context["params"]
    ticket, number = ticket_number(context), round_of(context)
    folder = ticket_dir(ticket)
    if number == 1:
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
        path = write_text_atomic(folder / "lembar_permasalahan.md", sheet)
        note = f"{ticket}: {params['kategori']} dari {params['asal']} ({params['pelapor']})"
        actor = None
    else:
        path = folder / "lembar_permasalahan.md"
        history = _history(ticket)
        if not path.exists() or len(history) < number - 1:
            raise InvalidRequest(f"tiket: {ticket} belum punya putaran {number - 1}")
        last = history[number - 2]
        note = f"{ticket} putaran {number}: {last['hasil']} menurut {last['oleh']} - ditangani lagi"
        actor = f"sistem (putaran {number}, atas jawaban {last['oleh']})"
    history = [{k: h[k] for k in ("putaran", "hasil", "temuan", "oleh")} for h in _history(ticket)][
        : number - 1
    ]
    return {
        "output_ref": str(path),
        "note": note,
        "actor": actor,
        "ticket": ticket,
        "round": number,
        "history": history,
    }


def _answer(context: Any, task_id: str) -> dict[str, Any] | None:
    return context["ti"].xcom_pull(task_ids=task_id, key=ANSWER_XCOM)


def _field(answer: dict[str, Any] | None, name: str) -> str:
    return str(((answer or {}).get("params_input") or {}).get(name) or "").strip()


def _require_answered(context: Any) -> None:
    """The complaint never reached the Kasi (step 1 failed): nothing to answer or archive."""
    if _answer(context, "decide_handling") is None:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException("keluhan tidak sampai ke Kasi: tidak ada jawaban")


def next_round(context: Any) -> dict[str, Any]:
    """Step 5 ("Belum berfungsi"): this round into the ticket's history, and the next round's
    run (``reopen_complaint`` starts it with the same complaint)."""
    params = dict(context["params"])
    ticket, number = ticket_number(context), round_of(context)
    if number >= MAX_ROUNDS:
        raise PiakError(f"{ticket}: sudah {MAX_ROUNDS} putaran - laporkan ke Kabid")
    field = _answer(context, "check_in_field")
    entry = {
        "putaran": number,
        "run_id": context["run_id"],
        "hasil": "belum berfungsi",
        "temuan": _field(field, "temuan")[:500],
        "petunjuk": _field(_answer(context, "instruct_field_officer"), "petunjuk")[:500],
        "oleh": answered_by(context, "check_in_field") or "-",
    }
    history = [h for h in _history(ticket) if h["putaran"] < number] + [entry]
    write_text_atomic(ticket_dir(ticket) / "riwayat.json", json.dumps(history, indent=2))
    keep = ("pelapor", "asal", "kontak", "kategori", "uraian")
    conf = {**{k: params[k] for k in keep}, "tiket": ticket, "putaran": number + 1}
    return {
        "output_ref": str(ticket_dir(ticket) / "riwayat.json"),
        "note": f"{ticket}: belum berfungsi, dibuka putaran {number + 1}",
        "actor": entry["oleh"],
        "run_id": f"{ticket}__putaran-{number + 1}",
        "conf": conf,
    }


def reply(context: Any) -> str:
    """What the reporter is told: every answer of this round, in SOP order."""
    params = context["params"]
    ticket, number = ticket_number(context), round_of(context)
    decide, review = _answer(context, "decide_handling"), _answer(context, "review_by_kabid")
    field = _answer(context, "check_in_field")
    lines = [f"Keluhan {ticket} ({params['kategori']}, {params['asal']})"
             + (f", penanganan ke-{number}" if number > 1 else "") + ":"]  # fmt: skip
    if answer := _field(decide, "jawaban"):
        lines.append(f"Jawaban Kasi: {answer}")
    if note := _field(decide, "catatan"):
        lines.append(f"Catatan Kasi: {note}")
    if answer := _field(review, "jawaban"):
        lines.append(f"Jawaban Kabid: {answer}")
    if field:
        chosen = (field.get("chosen_options") or ["-"])[0]
        lines.append(
            f"Hasil pemeriksaan petugas: {chosen.split(':')[0]} - {_field(field, 'temuan')}"
        )
        if chosen == NOT_FIXED:
            lines.append(f"Keluhan ditangani lagi (putaran {number + 1}).")
    elif _answer(context, "instruct_field_officer"):
        lines.append(
            "Petugas belum melaporkan pemeriksaan dalam batas waktu; keluhan dilaporkan ke Kasi."
        )
    return "\n".join(lines)


def answer_reporter(context: Any) -> dict[str, Any]:
    """Step 6 (the answer): the answers sent to the reporter's contact through the notifier,
    once - a retry finds the receipt and does not send again."""
    from piak.workflow import notify

    _require_answered(context)
    ticket, number = ticket_number(context), round_of(context)
    contact = str(context["params"].get("kontak") or "").strip()
    body = reply(context)
    marker = ticket_dir(ticket) / f"jawaban_putaran-{number}.json"
    digest = hashlib.sha256(f"{contact}\n{body}".encode()).hexdigest()
    sent = json.loads(marker.read_text()) if marker.exists() else {}
    if sent.get("sha256") != digest:
        notifier = notify.messenger(load_config().notifier, title="Layanan bantuan SIAK")
        receipt = notifier.send(
            notify.Message(recipient=contact, subject=f"Jawaban keluhan {ticket}", body=body)
        )
        sent = {"kepada": contact, "isi": body, "sha256": digest, "tanda_terima": receipt,
                "pengirim": type(notifier).__name__}  # fmt: skip
        write_text_atomic(marker, json.dumps(sent, indent=2, ensure_ascii=False))
    return {
        "output_ref": str(marker),
        "note": f"jawaban {ticket} ke {contact}: {sent['tanda_terima']}",
    }


def archive(context: Any) -> dict[str, str]:
    """Step 6: every answer of the round, the reply and how it was delivered, written next to
    the complaint sheet - also when the field check was given up."""
    _require_answered(context)
    ticket, number = ticket_number(context), round_of(context)
    folder = ticket_dir(ticket)
    lines = [f"# Arsip tindak lanjut {ticket}, putaran {number}", ""]
    for earlier in _history(ticket)[: number - 1]:
        lines.append(
            f"- Putaran {earlier['putaran']}: {earlier['hasil']} ({earlier['oleh']}): "
            f"{earlier['temuan']}"
        )
    lines.append("")
    for task_id in ANSWER_TASKS:
        answer = _answer(context, task_id)
        if not answer:
            continue
        lines.append(f"## {task_id}")
        lines.append(f"- Oleh: {answered_by(context, task_id) or '-'}")
        lines.append(f"- Waktu: {answer.get('responded_at')}")
        lines.append(f"- Pilihan: {', '.join(answer.get('chosen_options') or []) or '-'}")
        for key, value in (answer.get("params_input") or {}).items():
            lines.append(f"- {key}: {value if value not in (None, '') else '-'}")
        lines.append("")
    unanswered = _answer(context, "instruct_field_officer") and not _answer(
        context, "check_in_field"
    )
    if unanswered:
        lines += ["## check_in_field", "- Tidak dijawab petugas dalam batas waktu: dihentikan", ""]
    sent_file = folder / f"jawaban_putaran-{number}.json"
    if sent_file.exists():
        sent = json.loads(sent_file.read_text(encoding="utf-8"))
        via = f"- Melalui: {sent['pengirim']} ({sent['tanda_terima']})"
        lines += ["## Jawaban kepada pelapor", f"- Kepada: {sent['kepada']}", via, "", sent["isi"]]
    else:
        lines += [
            "## Jawaban kepada pelapor",
            "- BELUM TERKIRIM (lihat langkah answer_reporter)",
            "",
        ]
    path = write_text_atomic(folder / f"arsip_putaran-{number}.md", "\n".join(lines))
    sealed.seal_case(folder, "helpdesk", ticket=ticket, round=number)
    field = _answer(context, "check_in_field")
    state = (
        "tidak diperiksa petugas dalam batas waktu"
        if unanswered
        else ((field or {}).get("chosen_options") or ["dijawab"])[0].split(":")[0].lower()
    )
    return {"output_ref": str(path), "note": f"{ticket} putaran {number} diarsipkan: {state}"}
