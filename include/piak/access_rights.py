"""SOP "Prosedur Pemberian Hak Akses Aplikasi SIAK dan KTPEL": the code of its steps.

Step 1 checks the proposed team members against the SIAK database (NIK valid and of an active
resident of this kabupaten, the name as recorded, a known access role, no duplicates) without
ever saying whose a NIK is: refusals, the agenda, XCom and the sign-offs name a member by the
line of the proposal, never by NIK or by the name SIAK records; step 5
issues the access rights: the office's access register (one entry per member, replaced, never
duplicated, on a rerun) and an integrity pact (Pakta Integritas) per member as PDF. Passwords are
not made here: the SIAK administration application sets them at the first login.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from piak import letters, settings
from piak.errors import InvalidRequest, PiakError
from piak.files import write_bytes_atomic, write_text_atomic
from piak.indonesian import tanggal
from piak.steps import run_date, run_key

#: Access roles that may be issued (code -> what it means, in Bahasa Indonesia).
ACCESS_ROLES = {
    "operator_siak": "Operator SIAK (pendaftaran penduduk dan pencatatan sipil)",
    "operator_ktpel": "Operator KTP-el (perekaman dan pencetakan)",
    "supervisor": "Supervisor (verifikasi dan persetujuan)",
}
MAX_MEMBERS = 50
_NIK = re.compile(r"^\d{16}$")
_NAME = re.compile(r"^[^\W\d_][\w .,'\-]{1,99}$")

TRIGGER_FORM: dict[str, dict[str, Any]] = {
    "asal": {
        "type": "string",
        "minLength": 3,
        "maxLength": 150,
        "title": "Pengusul (kecamatan / bidang)",
    },
    "nomor_surat": {
        "type": "string",
        "minLength": 3,
        "maxLength": 60,
        "title": "Nomor surat usulan",
    },
    "anggota": {
        "type": "string",
        "minLength": 20,
        "maxLength": 10000,
        "format": "multiline",
        "title": "Daftar anggota tim pengelola",
        "description": "Satu anggota per baris: NIK;Nama lengkap;Jabatan;Hak akses ("
        + ", ".join(ACCESS_ROLES)
        + ")",
    },
}
TRIGGER_DEFAULTS: dict[str, Any] = {"asal": "", "nomor_surat": "", "anggota": ""}


@dataclass(frozen=True)
class Member:
    nik: str
    name: str
    position: str
    access: str
    line: int = 0


def parse_members(text: str) -> list[Member]:
    """The proposal's lines as members; a malformed line is refused with its line number."""
    members = []
    for number, line in enumerate(str(text or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(";")]
        if len(parts) != 4:
            raise InvalidRequest(f"anggota baris {number}: harus NIK;Nama;Jabatan;Hak akses")
        nik, name, position, access = parts
        if not _NIK.match(nik):
            raise InvalidRequest(f"anggota baris {number}: NIK harus 16 angka")
        if not _NAME.match(name) or not _NAME.match(position):
            raise InvalidRequest(f"anggota baris {number}: nama atau jabatan tidak sah")
        if access not in ACCESS_ROLES:
            raise InvalidRequest(
                f"anggota baris {number}: hak akses {access!r} bukan salah satu dari "
                + ", ".join(ACCESS_ROLES)
            )
        members.append(Member(nik, " ".join(name.split()), position, access, number))
    if not members:
        raise InvalidRequest("anggota: daftar kosong")
    if len(members) > MAX_MEMBERS:
        raise InvalidRequest(f"anggota: paling banyak {MAX_MEMBERS} orang per usulan")
    lines: dict[str, list[int]] = {}
    for member in members:
        lines.setdefault(member.nik, []).append(member.line)
    if duplicates := [found for found in lines.values() if len(found) > 1]:
        where = "; ".join("baris " + " dan ".join(map(str, found)) for found in duplicates)
        raise InvalidRequest(f"anggota: NIK ganda ({where})")
    return members


def check_against_siak(members: list[Member], conn: Any) -> list[dict[str, Any]]:
    """Each member against BIODATA_WNI: an active resident with this NIK and this name. A
    mismatch says only that the name differs, never the name SIAK records."""
    results = []
    for member in members:
        row = conn.execute(
            "SELECT NAMA_LGKP, FLAG_STATUS FROM BIODATA_WNI WHERE NIK = ?", (member.nik,)
        ).fetchone()
        if row is None:
            problem = "NIK tidak terdaftar di SIAK"
        elif str(row[1]) != "0":
            problem = "bukan penduduk aktif"
        elif " ".join(str(row[0]).upper().split()) != member.name.upper():
            problem = "nama tidak sama dengan data SIAK"
        else:
            problem = None
        results.append({**asdict(member), "eligible": problem is None, "problem": problem})
    return results


# -- the run's folder ----------------------------------------------------------------------


def proposal_number(context: Any) -> str:
    """``HAKAKSES-20261125-093012-1a2b3c``."""
    return run_key(context, "HAKAKSES")


def proposal_dir(context: Any) -> Path:
    return settings.storage() / "access_rights" / proposal_number(context)


def register_file() -> Path:
    return settings.storage() / "access_rights" / "register.json"


def _checked(context: Any) -> dict[str, Any]:
    path = proposal_dir(context) / "hasil_pemeriksaan.json"
    if not path.exists():
        raise PiakError(f"{path} belum ada: langkah 1 belum selesai pada run ini")
    return json.loads(path.read_text(encoding="utf-8"))


# -- steps ---------------------------------------------------------------------------------


def check_members(context: Any) -> dict[str, Any]:
    """Step 1: the proposed members checked; the result for the Kabid and the Kadis."""
    from piak import provision

    params = dict(context["params"])
    for field in ("asal", "nomor_surat"):
        if len(str(params.get(field) or "").strip()) < 3:
            raise InvalidRequest(f"{field}: wajib diisi")
    members = parse_members(params.get("anggota"))
    conn = provision.connect(settings.siak_conn_id())
    try:
        results = check_against_siak(members, conn)
    finally:
        conn.close()
    eligible = [r for r in results if r["eligible"]]
    if not eligible:
        reasons = "; ".join(f"baris {r['line']}: {r['problem']}" for r in results)
        raise InvalidRequest(f"anggota: tidak ada yang memenuhi syarat ({reasons})")
    record = {
        "nomor": proposal_number(context),
        "asal": params["asal"].strip(),
        "nomor_surat": params["nomor_surat"].strip(),
        "anggota": results,
    }
    path = write_text_atomic(
        proposal_dir(context) / "hasil_pemeriksaan.json",
        json.dumps(record, indent=2, ensure_ascii=False),
    )
    refused = [f"baris {r['line']} ({r['problem']})" for r in results if not r["eligible"]]
    note = f"{len(eligible)} dari {len(results)} memenuhi syarat"
    if refused:
        note += "; tidak memenuhi: " + ", ".join(refused)
    summary = [
        {k: r[k] for k in ("line", "position", "access", "eligible", "problem")} for r in results
    ]
    return {"output_ref": str(path), "note": note, "members": summary}


def issue_access(context: Any) -> dict[str, Any]:
    """Step 5: the access register and one integrity pact per eligible member."""
    checked = _checked(context)
    eligible = [r for r in checked["anggota"] if r["eligible"]]
    folder = proposal_dir(context)
    pacts = []
    for member in eligible:
        user_id = user_id_for(member)
        pact = folder / f"pakta_integritas_{member['nik'][-4:]}_{user_id}.pdf"
        write_bytes_atomic(pact, integrity_pact(member, user_id, checked, run_date(context)))
        pacts.append({**member, "user_id": user_id, "pakta": str(pact)})
    _update_register(pacts, checked["nomor"])
    lines = ", ".join(f"baris {p['line']} ({p['access']})" for p in pacts)
    return {
        "output_ref": str(register_file()),
        "note": f"{len(pacts)} hak akses dan pakta integritas diterbitkan: {lines}",
    }


def user_id_for(member: dict[str, Any]) -> str:
    """``op.siti4471``: the access role, the first name and the NIK's last four digits."""
    prefix = {"operator_siak": "op", "operator_ktpel": "ktp", "supervisor": "spv"}[member["access"]]
    first = re.sub(r"[^a-z]", "", member["name"].split()[0].lower())[:12] or "user"
    return f"{prefix}.{first}{member['nik'][-4:]}"


def _update_register(pacts: list[dict[str, Any]], proposal: str) -> None:
    path = register_file()
    register = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    for pact in pacts:
        register[pact["nik"]] = {
            "nama": pact["name"],
            "jabatan": pact["position"],
            "hak_akses": pact["access"],
            "user_id": pact["user_id"],
            "usulan": proposal,
            "pakta_integritas": pact["pakta"],
        }
    write_text_atomic(path, json.dumps(register, indent=2, ensure_ascii=False, sort_keys=True))


def integrity_pact(member: dict[str, Any], user_id: str, checked: dict[str, Any], when) -> bytes:
    """The Pakta Integritas the member signs when receiving the access right (PDF)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_margins(25, 25, 20)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, "PAKTA INTEGRITAS", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(0, 6, "Pengelola Hak Akses Aplikasi SIAK dan KTP-el", align="C")
    pdf.ln(14)
    rows = [
        ("Nama", member["name"]),
        ("NIK", member["nik"]),
        ("Jabatan", member["position"]),
        ("Unit", checked["asal"]),
        ("Hak akses", ACCESS_ROLES[member["access"]]),
        ("ID pengguna", user_id),
        ("Usulan", f"{checked['nomor_surat']} ({checked['nomor']})"),
    ]
    for label, value in rows:
        pdf.cell(35, 7, label)
        pdf.cell(0, 7, letters.pdf_text(f": {value}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    promises = [
        "menggunakan hak akses hanya untuk tugas pelayanan administrasi kependudukan;",
        "tidak memberikan atau meminjamkan kata sandi dan hak akses kepada siapa pun;",
        "tidak mengakses, menyalin atau menyebarkan data kependudukan di luar kewenangan, "
        "sesuai UU Nomor 24 Tahun 2013 dan UU Nomor 27 Tahun 2022;",
        "bersedia hak aksesnya dicabut dan menerima sanksi bila melanggar.",
    ]
    lines = ["Dengan ini saya menyatakan:"]
    lines += [f"{number}. {promise}" for number, promise in enumerate(promises, start=1)]
    for line in lines:
        pdf.multi_cell(0, 6, letters.pdf_text(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    pdf.set_x(pdf.w / 2 + 5)
    pdf.cell(0, 6, letters.pdf_text(tanggal(when.date())), new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(pdf.w / 2 + 5)
    pdf.cell(0, 6, "Yang menyatakan,", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(18)
    pdf.set_x(pdf.w / 2 + 5)
    pdf.cell(0, 6, letters.pdf_text(member["name"]))
    return bytes(pdf.output())


def record_refusal(context: Any, decision_task: str) -> dict[str, Any]:
    """The Kepala Dinas refused the proposal: recorded with the note; no access is issued."""
    from piak.steps import ANSWER_XCOM

    answer = context["ti"].xcom_pull(task_ids=decision_task, key=ANSWER_XCOM) or {}
    note = str((answer.get("params_input") or {}).get("catatan") or "").strip()
    checked = _checked(context)
    write_text_atomic(
        proposal_dir(context) / "ditolak.json",
        json.dumps({"catatan": note, "oleh": answer.get("responded_by_user")}, ensure_ascii=False),
    )
    return {
        "output_ref": checked["nomor"],
        "outcome": "rejected",
        "note": f"usulan ditolak Kepala Dinas: {note}; tidak ada hak akses yang diterbitkan",
    }
