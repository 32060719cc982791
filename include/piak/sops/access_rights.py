"""SOP "Prosedur Pemberian Hak Akses Aplikasi SIAK dan KTPEL": the code of its steps.

- Step 1 (Kasi): the proposed members are checked against the SIAK database (NIK valid and of an
  active resident, the name as recorded, a known access role, no duplicates) and against the
  access register and the accounts (a member blocked or revoked before is flagged); the Kasi
  confirms the result or returns the proposal. A member is named by the line of the proposal,
  never by NIK or by the name SIAK records (refusals, agenda, XCom, sign-offs).
- Step 5 (Kasi): one integrity pact (Pakta Integritas, PDF, with its reference number) per
  member to be granted; once the Kasi confirms the signed pacts, each member's account is
  created or re-enabled in the system of record with the role the proposal names and an expired
  first password (:mod:`piak.engines.siak_accounts`), read again to confirm, and entered in the
  access register with the signed pact's reference. The first password goes only to an owner-only
  file (``config/accounts.yaml: first_password_dir``) for the Kasi to hand over - never to a log,
  XCom or the agenda. A notice letter tells the proposer who was granted what and who was not,
  and why.
- A block or revocation (SOP "Penggunaan diluar Ketentuan") is never undone by a later proposal:
  such a member is granted only when the Kepala Dinas explicitly decides to lift the block.
- Every refusal or return (steps 1-4) ends in a refusal letter to the proposer.

Code steps done on a role holder's answer are recorded as theirs (the Kasi who confirmed),
not as the work of whoever triggered the run.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from piak.core import letters, sealed, settings
from piak.core.access_register import BLOCKED, history, load_register, update_register
from piak.core.errors import InvalidRequest, PiakError
from piak.core.files import write_bytes_atomic, write_text_atomic
from piak.core.indonesian import tanggal
from piak.engines.siak_accounts import ACCESS_ROLES, username_for
from piak.workflow.steps import ANSWER_XCOM, answered_by, run_date, run_key

#: Register states a later proposal may not silently undo.
MAX_MEMBERS = 50
_NIK = re.compile(r"^\d{16}$")
_NAME = re.compile(r"^[^\W\d_][\w .,'\-]{1,99}$")
_MACHINE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
#: The Kadis's choices at step 3 (the DAG's options; the issue step reads which was taken).
GRANT = "Berikan hak akses kepada yang berhak"
GRANT_AND_UNBLOCK = "Berikan hak akses, termasuk membuka blokir anggota yang diblokir"
NOT_SIGNED_FIELD = "belum_tanda_tangan"

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
        + ")[;Komputer kerja, contoh pc-kec-03]",
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
    machine: str | None = None


def parse_members(text: str) -> list[Member]:
    """The proposal's lines as members; a malformed line is refused with its line number."""
    members = []
    for number, line in enumerate(str(text or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(";")]
        if len(parts) not in (4, 5):
            raise InvalidRequest(
                f"anggota baris {number}: harus NIK;Nama;Jabatan;Hak akses[;Komputer]"
            )
        nik, name, position, access = parts[:4]
        machine = parts[4] if len(parts) == 5 and parts[4] else None
        if not _NIK.match(nik):
            raise InvalidRequest(f"anggota baris {number}: NIK harus 16 angka")
        if not _NAME.match(name) or not _NAME.match(position):
            raise InvalidRequest(f"anggota baris {number}: nama atau jabatan tidak sah")
        if access not in ACCESS_ROLES:
            raise InvalidRequest(
                f"anggota baris {number}: hak akses {access!r} bukan salah satu dari "
                + ", ".join(ACCESS_ROLES)
            )
        if machine is not None and not _MACHINE.match(machine):
            raise InvalidRequest(f"anggota baris {number}: nama komputer tidak sah")
        members.append(Member(nik, " ".join(name.split()), position, access, number, machine))
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


def _checked(context: Any) -> dict[str, Any]:
    path = proposal_dir(context) / "hasil_pemeriksaan.json"
    if not path.exists():
        raise PiakError(f"{path} belum ada: langkah 1 belum selesai pada run ini")
    return json.loads(path.read_text(encoding="utf-8"))


def _summary(member: dict[str, Any]) -> dict[str, Any]:
    """What sign-offs, XCom and the agenda may say about a member: no NIK, no name."""
    keys = ("line", "position", "access", "eligible", "problem", "blocked")
    return {k: member.get(k) for k in keys}


# -- steps ---------------------------------------------------------------------------------


def check_members(context: Any) -> dict[str, Any]:
    """Step 1 (the system's part): the proposal checked; the result for the Kasi."""
    from piak.engines import siak_accounts
    from piak.engines.siak_db import connect

    params = dict(context["params"])
    for field in ("asal", "nomor_surat"):
        if len(str(params.get(field) or "").strip()) < 3:
            raise InvalidRequest(f"{field}: wajib diisi")
    members = parse_members(params.get("anggota"))
    conn = connect(settings.siak_conn_id())
    try:
        results = check_against_siak(members, conn)
    finally:
        conn.close()
    register = load_register()
    taken = {str(e.get("user_id") or "").upper() for e in register.values()}
    with siak_accounts.open_store() as store:
        for result in results:
            if not result["eligible"]:
                continue
            entry = register.get(result["nik"])
            result["username"] = (entry or {}).get("user_id") or username_for(result, taken)
            taken.add(result["username"])
            account = store.account(result["username"])
            if entry and entry.get("status") in BLOCKED:
                result["blocked"] = (
                    f"{entry['status']} ({entry.get('diblokir_karena') or entry.get('usulan')})"
                )
            elif account is not None and account.locked:
                result["blocked"] = f"akun terkunci di SIAK ({account.status})"
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
    eligible = [r for r in results if r["eligible"]]
    note = f"{len(eligible)} dari {len(results)} memenuhi syarat"
    if refused := [f"baris {r['line']} ({r['problem']})" for r in results if not r["eligible"]]:
        note += "; tidak memenuhi: " + ", ".join(refused)
    if blocked := [f"baris {r['line']} ({r['blocked']})" for r in results if r.get("blocked")]:
        note += "; diblokir (hanya dengan keputusan buka blokir): " + ", ".join(blocked)
    return {"output_ref": str(path), "note": note, "members": [_summary(r) for r in results]}


def _to_grant(checked: dict[str, Any], unblock: bool) -> list[dict[str, Any]]:
    return [m for m in checked["anggota"] if m["eligible"] and (unblock or not m.get("blocked"))]


def _unblock(context: Any, decision_task: str) -> bool:
    answer = context["ti"].xcom_pull(task_ids=decision_task, key=ANSWER_XCOM) or {}
    return GRANT_AND_UNBLOCK in (answer.get("chosen_options") or [])


def pact_number(checked: dict[str, Any], member: dict[str, Any]) -> str:
    return f"PI-{checked['nomor'].removeprefix('HAKAKSES-')}-{member['line']:02d}"


def prepare_pacts(context: Any, decision_task: str, order_task: str) -> dict[str, Any]:
    """Step 5 (the system's part, on the Kabid's order): one integrity pact per member to be
    granted, numbered, for the member to sign."""
    checked = _checked(context)
    folder = proposal_dir(context)
    pacts = []
    for member in _to_grant(checked, _unblock(context, decision_task)):
        number = pact_number(checked, member)
        path = folder / f"pakta_integritas_baris{member['line']:02d}.pdf"
        write_bytes_atomic(path, integrity_pact(member, number, checked, run_date(context)))
        pacts.append({"line": member["line"], "account": member["username"], "pakta": number})
    note = f"{len(pacts)} pakta integritas siap ditandatangani: " + (
        ", ".join(f"baris {p['line']} ({p['pakta']})" for p in pacts) or "tidak ada"
    )
    return {
        "output_ref": str(folder),
        "note": note,
        "pacts": pacts,
        "actor": answered_by(context, order_task),
    }


def not_signed(context: Any, pacts_task: str) -> set[int]:
    """The proposal lines whose pact the Kasi did not receive signed."""
    answer = context["ti"].xcom_pull(task_ids=pacts_task, key=ANSWER_XCOM) or {}
    text = str((answer.get("params_input") or {}).get(NOT_SIGNED_FIELD) or "-").strip()
    if text in ("", "-"):
        return set()
    if not re.fullmatch(r"\d{1,3}( *, *\d{1,3})*", text):
        raise InvalidRequest(f"{NOT_SIGNED_FIELD}: {text[:40]!r} harus nomor baris dipisah koma")
    return {int(n) for n in text.split(",")}


def issue_access(context: Any, decision_task: str, pacts_task: str) -> dict[str, Any]:
    """Step 5: each member with a signed pact gets the account, confirmed by reading the system
    of record again; the register and the notice letter say what was confirmed."""
    from piak.engines import siak_accounts

    checked = _checked(context)
    kasi = answered_by(context, pacts_task)
    unblock = _unblock(context, decision_task)
    unsigned = not_signed(context, pacts_task)
    config = siak_accounts.load_config()
    granted, failed = [], []
    with siak_accounts.open_store(config) as store:
        for member in _to_grant(checked, unblock):
            if member["line"] in unsigned:
                continue
            _, password = siak_accounts.first_password(config, checked["nomor"], member["username"])
            try:
                done = siak_accounts.grant(store, member["username"], member["access"], password)
            except siak_accounts.NotConfirmed as exc:
                failed.append(f"baris {member['line']}: {exc}")
                continue
            granted.append({**member, **done, "pakta": pact_number(checked, member)})
    update_register(lambda register: _enter(register, granted, checked, kasi, unblock))
    outcome = _outcomes(checked, granted, unsigned, unblock, failed)
    letter = _notice_letter(context, checked, outcome)
    if failed:  # the letter and the register show what was confirmed; the step fails
        raise PiakError("tidak terkonfirmasi di SIAK: " + "; ".join(failed))
    sealed.seal_case(proposal_dir(context), "access_rights", proposal=checked["nomor"])
    lines = ", ".join(f"baris {g['line']} -> {g['account']} ({g['role']})" for g in granted)
    left = [o for o in outcome if not o["granted"]]
    return {
        "output_ref": str(letter),
        "note": f"{len(granted)} akun aktif terkonfirmasi di SIAK, kata sandi awal kedaluwarsa "
        f"di berkas khusus pemilik: {lines or '-'}"
        + (f"; tidak diberikan: {', '.join(o['reason'] for o in left)}" if left else ""),
        "actor": kasi,
    }


def _enter(
    register: dict[str, Any],
    granted: list[dict[str, Any]],
    checked: dict[str, Any],
    kasi: str | None,
    unblock: bool,
) -> None:
    for member in granted:
        old = register.get(member["nik"], {})
        events = list(old.get("riwayat") or [])
        if old.get("status") in BLOCKED or member.get("blocked"):
            events.append(
                history("blokir dibuka atas keputusan Kepala Dinas", kasi, checked["nomor"])
            )
        events.append(history(f"akun diterbitkan ({member['role']})", kasi, checked["nomor"]))
        register[member["nik"]] = {
            "nama": member["name"],
            "jabatan": member["position"],
            "unit": checked["asal"],
            "hak_akses": member["access"],
            "peran_basis_data": member["role"],
            "user_id": member["account"],
            "mesin": [member["machine"]] if member.get("machine") else old.get("mesin", []),
            "usulan": checked["nomor"],
            "nomor_pakta": member["pakta"],
            "status": "aktif",
            "riwayat": events[-50:],
        }


def _outcomes(
    checked: dict[str, Any],
    granted: list[dict[str, Any]],
    unsigned: set[int],
    unblock: bool,
    failed: list[str],
) -> list[dict[str, Any]]:
    """Per proposal line: granted (account, role) or not, and why."""
    done = {g["line"]: g for g in granted}
    rows = []
    for member in checked["anggota"]:
        line = member["line"]
        if line in done:
            rows.append({"line": line, "granted": True, "account": done[line]["account"],
                         "reason": f"baris {line}: diberikan ({done[line]['role']})"})  # fmt: skip
            continue
        if not member["eligible"]:
            why = member["problem"]
        elif member.get("blocked") and not unblock:
            why = f"{member['blocked']}: perlu keputusan buka blokir Kepala Dinas"
        elif line in unsigned:
            why = "pakta integritas belum ditandatangani"
        else:
            why = "tidak terkonfirmasi di SIAK"
        rows.append(
            {"line": line, "granted": False, "account": None, "reason": f"baris {line}: {why}"}
        )
    return rows


def _office() -> Any:
    from piak.engines.provision.config import load_settings

    return load_settings().office


def _notice_letter(context: Any, checked: dict[str, Any], outcome: list[dict[str, Any]]) -> Path:
    positions = {m["line"]: m for m in checked["anggota"]}
    rows = [
        [
            str(o["line"]),
            positions[o["line"]]["position"],
            o["account"] or "-",
            o["reason"].split(": ", 1)[1],
        ]
        for o in outcome
    ]
    return letters.render_notice(
        proposal_dir(context) / "surat_pemberitahuan.pdf",
        office=_office(),
        number=checked["nomor"],
        subject="Pemberitahuan hasil usulan hak akses SIAK dan KTP-el",
        to=[checked["asal"]],
        paragraphs=[
            f"Menindaklanjuti surat usulan nomor {checked['nomor_surat']} tentang anggota Tim "
            "Pengelola SIAK dan KTP-el, bersama ini kami sampaikan hasilnya per baris usulan.",
            "Kata sandi awal setiap akun diserahkan langsung kepada pemegangnya dalam amplop "
            "tertutup dan wajib diganti pada login pertama. Anggota yang belum diberikan dapat "
            "diusulkan kembali setelah alasannya diselesaikan.",
        ],
        table=(["Baris", "Jabatan", "Akun", "Hasil"], rows),
        dated=run_date(context).date(),
    )


def integrity_pact(member: dict[str, Any], number: str, checked: dict[str, Any], when) -> bytes:
    """The Pakta Integritas the member signs when receiving the access right (PDF)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_margins(25, 25, 20)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, "PAKTA INTEGRITAS", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(
        0,
        6,
        "Pengelola Hak Akses Aplikasi SIAK dan KTP-el",
        align="C",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.cell(0, 6, letters.pdf_text(f"Nomor: {number}"), align="C")
    pdf.ln(14)
    rows = [
        ("Nama", member["name"]),
        ("NIK", member["nik"]),
        ("Jabatan", member["position"]),
        ("Unit", checked["asal"]),
        ("Hak akses", ACCESS_ROLES[member["access"]]),
        ("Akun SIAK", member["username"]),
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


def record_refusal(context: Any, decision_tasks: list[str]) -> dict[str, Any]:
    """A refusal or return at steps 1-4: the refusal letter to the proposer with the note;
    nothing is issued. Recorded as the decision of whoever refused."""
    ti = context["ti"]
    refused = None
    for task_id in decision_tasks:
        answer = ti.xcom_pull(task_ids=task_id, key=ANSWER_XCOM) or {}
        if any(o.startswith(("Tolak", "Kembalikan")) for o in answer.get("chosen_options") or []):
            refused = (task_id, answer)
    if refused is None:
        raise PiakError("tidak ada penolakan pada run ini: tidak ada yang ditutup")
    task_id, answer = refused
    note = str((answer.get("params_input") or {}).get("catatan") or "").strip()
    returned = any(o.startswith("Kembalikan") for o in answer["chosen_options"])
    checked = _checked(context)
    who = answered_by(context, task_id)
    letter = letters.render_notice(
        proposal_dir(context) / "surat_penolakan.pdf",
        office=_office(),
        number=checked["nomor"],
        subject="Pengembalian usulan hak akses" if returned else "Penolakan usulan hak akses",
        to=[checked["asal"]],
        paragraphs=[
            f"Usulan anggota Tim Pengelola SIAK dan KTP-el dengan surat nomor "
            f"{checked['nomor_surat']} {'dikembalikan' if returned else 'tidak dapat disetujui'}"
            f", dengan catatan: {note or '-'}.",
            "Tidak ada hak akses yang diterbitkan atas usulan ini.",
        ],
        table=(
            ["Baris", "Jabatan", "Hak akses", "Pemeriksaan"],
            [
                [str(m["line"]), m["position"], m["access"], m["problem"] or "memenuhi syarat"]
                for m in checked["anggota"]
            ],
        ),
        dated=run_date(context).date(),
    )
    write_text_atomic(
        proposal_dir(context) / "ditolak.json",
        json.dumps({"langkah": task_id, "catatan": note, "oleh": who}, ensure_ascii=False),
    )
    sealed.seal_case(proposal_dir(context), "access_rights", proposal=checked["nomor"])
    return {
        "output_ref": str(letter),
        "outcome": "returned" if returned else "rejected",
        "note": f"usulan {'dikembalikan' if returned else 'ditolak'} ({task_id}, {who}): "
        f"{note}; tidak ada hak akses yang diterbitkan",
        "actor": who,
    }
