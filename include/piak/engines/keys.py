"""The key ceremony: the office's backup key pair and its printed recovery sheet.

``python -m piak keys create --out DIR`` makes a new age key pair. The private key goes to an
owner-only file (to be moved offline) and onto a recovery sheet (PDF) the Kabid prints and seals;
the public key is what the Airflow Connection ``piak_backup_recipients`` lists. Rotation is the
same command with ``--retire <old public key>``: new sets go to the new key, old sets stay
restorable with the old private key, and the catalogue keeps recognising them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from piak.core import settings
from piak.core.errors import PiakError
from piak.core.files import write_secret
from piak.core.indonesian import tanggal
from piak.engines import encryption


@dataclass(frozen=True)
class KeyPair:
    private_file: Path
    public: str
    sheet: Path


def check_code(private: str) -> str:
    """A short code printed with the key, to check a key typed back from paper."""
    return hashlib.sha256(private.strip().encode()).hexdigest()[:8].upper()


def create(out: Path, name: str = "kantor") -> KeyPair:
    """A new key pair in ``out``: ``<name>.key`` (private, owner-only), ``<name>.pub`` and
    ``<name>-lembar-pemulihan.pdf``. Existing files are never overwritten."""
    if not name.replace("-", "").replace("_", "").isalnum():
        raise PiakError(f"nama kunci tidak sah: {name!r} (huruf, angka, - dan _)")
    out.mkdir(parents=True, exist_ok=True)
    files = [out / f"{name}.key", out / f"{name}.pub", out / f"{name}-lembar-pemulihan.pdf"]
    existing = [p.name for p in files if p.exists()]
    if existing:
        raise PiakError(f"{out}: sudah ada {', '.join(existing)}; pilih --name lain")
    private, public = encryption.generate()
    now = datetime.now(ZoneInfo(settings.TIMEZONE))
    write_secret(files[0], f"# kunci backup PIAK '{name}', dibuat {now:%Y-%m-%d %H:%M} WIB\n"
                 f"# kunci publik: {public}\n{private}\n")  # fmt: skip
    files[1].write_text(public + "\n", encoding="utf-8")
    sheet = recovery_sheet(files[2], name=name, private=private, public=public, made=now)
    return KeyPair(files[0], public, sheet)


def recovery_sheet(path: Path, *, name: str, private: str, public: str, made: datetime) -> Path:
    """The printed recovery sheet (Bahasa Indonesia), written owner-only."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_compression(False)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 10, "LEMBAR PEMULIHAN KUNCI BACKUP SIAK", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    lines = [
        f"Nama kunci: {name}. Dibuat: {tanggal(made.date())}, {made:%H:%M} WIB.",
        "RAHASIA. Siapa pun yang memegang kunci privat di bawah dapat membuka setiap set "
        "cadangan basis data kependudukan yang dienkripsi untuk kunci ini.",
        "Simpan lembar ini di amplop tersegel, di lemari terkunci Kepala Bidang PIAK, terpisah "
        "dari disk backup. Jangan difoto, dipindai atau dikirim lewat surel/chat.",
    ]
    for line in lines:
        pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, "Kunci privat (ketik persis, satu baris):", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Courier", "B", 10)
    pdf.multi_cell(0, 7, private, border=1, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 7, f"Kode pemeriksa: {check_code(private)}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, "Kunci publik (boleh diketahui):", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Courier", "", 9)
    pdf.multi_cell(0, 6, public, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "", 10)
    steps = [
        "Memulihkan dengan kunci ini: ketik kunci privat ke sebuah berkas (satu baris), periksa "
        "kodenya dengan: python -m piak keys check BERKAS, lalu pulihkan dengan: python -m piak "
        "restore SET --to BERKAS_DB --identity BERKAS (atau pasang di Connection "
        "piak_backup_identity). Hapus berkas kunci sesudahnya.",
        "Bila lembar ini hilang: buat kunci baru (python -m piak keys create --retire <kunci "
        "publik ini>), pasang kunci publik barunya, dan buat backup baru segera; set lama tetap "
        "bisa dibuka dengan kunci drill selama kunci itu masih ada.",
    ]
    for step in steps:
        pdf.multi_cell(0, 5.5, step, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    write_secret(path, bytes(pdf.output()))
    return path


def check(path: Path) -> list[str]:
    """``public key (check code)`` of every private key in a key file typed back from paper."""
    keys = encryption.identities_from_text(path.read_text(encoding="utf-8"))
    return [f"{k.to_public()} (kode {check_code(str(k))})" for k in keys]
