"""The notification letter (surat balasan) of a population-data request, as PDF.

The draft (step 6) carries the word DRAF and no number; the final letter (step 10) carries the
outgoing letter number the JFU entered. Both state what is released - the same summary the
approvers signed (kind, scope, columns, identifiers opened and under which PKS clause, threshold,
rows, format) - and list every file with its rows and SHA-256, with the SHA-256 of
``manifest.json`` so the recipient can check the whole hand-over. Text in Bahasa Indonesia.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from piak.core.files import write_bytes_atomic
from piak.core.indonesian import tanggal

KINDS = {"agregat": "data agregat", "perseorangan": "data perseorangan"}


@dataclass(frozen=True)
class LetterFacts:
    """What the letter says about the request and the data released."""

    request_number: str
    applicant: str
    institution: str
    letter_number: str
    letter_date: date
    purpose: str
    kind: str
    as_of: date
    scope: str
    files: list[tuple[str, int, str]] = field(default_factory=list)  # name, rows, sha256
    pks: str | None = None
    summary: list[tuple[str, str]] = field(default_factory=list)  # what the approvers signed
    manifest_sha256: str | None = None


def render(out: Path, *, office: Any, facts: LetterFacts, dated: date, number: str | None) -> Path:
    """Write the letter to ``out`` (atomically); ``number`` None makes it the draft."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_margins(25, 20, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.set_title(f"Surat balasan permohonan data {facts.request_number}")
    pdf.add_page()
    _letterhead(pdf, office)
    if number is None:
        _draft_mark(pdf)
    _header(pdf, facts, number, office, dated)
    _body(pdf, facts)
    _summary(pdf, facts)
    _files(pdf, facts)
    _closing(pdf, office)
    return write_bytes_atomic(out, bytes(pdf.output()))


def pdf_text(value: str) -> str:
    """The PDF core fonts are Latin-1: keep the letter's text within it."""
    return value.encode("latin-1", "replace").decode("latin-1")


def _letterhead(pdf, office: Any) -> None:
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 6, pdf_text(office.government.upper()), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 7, pdf_text(office.name.upper()), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 5, pdf_text(office.address), align="C", new_x="LMARGIN", new_y="NEXT")
    y = pdf.get_y() + 2
    pdf.set_line_width(0.8)
    pdf.line(pdf.l_margin, y, pdf.w - pdf.r_margin, y)
    pdf.set_y(y + 6)


def _draft_mark(pdf) -> None:
    pdf.set_font("Helvetica", "B", 12)
    pdf.set_text_color(200, 0, 0)
    pdf.cell(0, 6, "DRAF - BELUM DITANDATANGANI", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)


def _header(pdf, facts: LetterFacts, number: str | None, office: Any, dated: date) -> None:
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(0, 6, pdf_text(f"{office.city}, {tanggal(dated)}"), align="R")
    pdf.ln(8)
    rows = [
        ("Nomor", number or "........................"),
        ("Lampiran", f"{len(facts.files)} berkas data"),
        ("Perihal", f"Pemberian {KINDS.get(facts.kind, facts.kind)} kependudukan"),
    ]
    for label, value in rows:
        pdf.cell(25, 6, label)
        pdf.cell(0, 6, pdf_text(f": {value}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.multi_cell(
        0, 6, pdf_text(f"Kepada Yth.\n{facts.applicant}\n{facts.institution}\ndi tempat")
    )
    pdf.ln(4)


def _body(pdf, facts: LetterFacts) -> None:
    kind = KINDS.get(facts.kind, facts.kind)
    text = (
        f"Menindaklanjuti surat Saudara nomor {facts.letter_number} tanggal "
        f"{tanggal(facts.letter_date)} perihal permohonan data kependudukan untuk keperluan "
        f"{facts.purpose} (nomor registrasi {facts.request_number}), bersama ini kami sampaikan "
        f"{kind} kependudukan wilayah {facts.scope} keadaan per {tanggal(facts.as_of)}."
    )
    pdf.multi_cell(0, 6, pdf_text(text))
    pdf.ln(2)
    if facts.pks:
        pdf.multi_cell(
            0,
            6,
            pdf_text(
                f"Pemberian data perseorangan ini berdasarkan Perjanjian Kerja Sama {facts.pks}."
            ),
        )
        pdf.ln(2)
    terms = (
        "Data ini hanya digunakan untuk keperluan sebagaimana tersebut di atas, tidak untuk "
        "disebarluaskan atau diberikan kepada pihak lain, dan dilindungi sesuai UU Nomor 24 "
        "Tahun 2013 tentang Administrasi Kependudukan, Permendagri Nomor 102 Tahun 2019 dan "
        "UU Nomor 27 Tahun 2022 tentang Pelindungan Data Pribadi."
    )
    pdf.multi_cell(0, 6, pdf_text(terms))
    pdf.ln(3)


def _summary(pdf, facts: LetterFacts) -> None:
    if not facts.summary:
        return
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 6, "Ringkasan data yang diberikan:", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    for label, value in facts.summary:
        pdf.cell(45, 5, pdf_text(label))
        pdf.multi_cell(0, 5, pdf_text(f": {value}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.ln(3)


def _files(pdf, facts: LetterFacts) -> None:
    pdf.set_font("Helvetica", "B", 9)
    widths = (48, 20, 97)
    for width, title in zip(widths, ("Berkas", "Baris", "SHA-256"), strict=True):
        pdf.cell(width, 6, title, border=1)
    pdf.ln()
    pdf.set_font("Helvetica", "", 6.5)
    for name, rows, sha in facts.files:
        pdf.cell(widths[0], 5, pdf_text(name[:48]), border=1)
        pdf.cell(widths[1], 5, f"{rows:,}".replace(",", "."), border=1, align="R")
        pdf.cell(widths[2], 5, sha, border=1)
        pdf.ln()
    if facts.manifest_sha256:
        pdf.set_font("Helvetica", "B", 6.5)
        pdf.cell(widths[0], 5, "manifest.json", border=1)
        pdf.cell(widths[1], 5, "", border=1)
        pdf.cell(widths[2], 5, facts.manifest_sha256, border=1)
        pdf.ln()
        pdf.set_font("Helvetica", "", 9)
        pdf.ln(2)
        pdf.multi_cell(
            0,
            5,
            pdf_text(
                "Keutuhan data dapat diperiksa penerima: SHA-256 berkas manifest.json harus "
                f"{facts.manifest_sha256} (mis. sha256sum manifest.json), dan setiap berkas "
                "harus cocok dengan SHA-256 yang tercantum di manifest tersebut."
            ),
        )
    pdf.set_font("Helvetica", "", 11)
    pdf.ln(4)


def _closing(pdf, office: Any) -> None:
    pdf.multi_cell(0, 6, "Demikian disampaikan, atas perhatiannya diucapkan terima kasih.")
    pdf.ln(6)
    x = pdf.w / 2 + 5
    for line in (office.head_title, "", "", "", office.head_name, office.head_id):
        pdf.set_x(x)
        pdf.cell(0, 6, pdf_text(line), new_x="LMARGIN", new_y="NEXT")


def render_notice(
    out: Path,
    *,
    office: Any,
    number: str,
    subject: str,
    to: list[str],
    paragraphs: list[str],
    table: tuple[list[str], list[list[str]]] | None = None,
    dated: date,
) -> Path:
    """A short letter of the office (a refusal, a notice of what was granted): letterhead,
    number, subject, addressee, paragraphs, an optional table (header, rows), signature block.
    Written atomically to ``out``."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_margins(25, 20, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.set_title(pdf_text(f"{subject} {number}"))
    pdf.add_page()
    _letterhead(pdf, office)
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(0, 6, pdf_text(f"{office.city}, {tanggal(dated)}"), align="R")
    pdf.ln(8)
    for label, value in (("Nomor", number), ("Perihal", subject)):
        pdf.cell(25, 6, label)
        pdf.multi_cell(0, 6, pdf_text(f": {value}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.multi_cell(0, 6, pdf_text("\n".join(["Kepada Yth.", *to, "di tempat"])))
    pdf.ln(4)
    for paragraph in paragraphs:
        pdf.multi_cell(0, 6, pdf_text(paragraph))
        pdf.ln(2)
    if table:
        header, rows = table
        width = (pdf.w - pdf.l_margin - pdf.r_margin) / len(header)
        pdf.set_font("Helvetica", "B", 9)
        for title in header:
            pdf.cell(width, 6, pdf_text(title), border=1)
        pdf.ln()
        pdf.set_font("Helvetica", "", 8)
        for row in rows:
            for value in row:
                pdf.cell(width, 5, pdf_text(str(value))[:60], border=1)
            pdf.ln()
        pdf.set_font("Helvetica", "", 11)
        pdf.ln(4)
    _closing(pdf, office)
    return write_bytes_atomic(out, bytes(pdf.output()))
