"""The Kadis's monthly report: how the office kept its SOPs in one WIB month (XLSX + PDF).

Made from the agenda alone: per SOP how many runs, steps, failures, reminders and escalations,
the share of steps within their standard time (Mutu Baku, in the registry's own words: "2 Hari",
not minutes); per step and per role the count, median, p90 and longest duration. Officials
appear by name (they act for the office); no resident's data is in the agenda, so none is here.

The DAG ``monthly_report`` makes it on the 1st of each month for the month before and mails it
to the Kadis (``email`` of the holders of ``kadis`` in ``config/access.yaml``, else the office's
addresses). The files are keyed to the month: a rerun writes the same two files again, whole,
and mails them only when their figures changed (``terkirim.json`` beside them).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from piak.core import settings
from piak.core.files import write_text_atomic

log = logging.getLogger(__name__)

TITLE = "Laporan Bulanan Kepatuhan SOP Bidang PIAK"
#: Beside a month's report once it was mailed: the digest of its figures and the receipt.
SENT_MARKER = "terkirim.json"
STEP_COLUMNS = ["SOP", "Langkah", "Kegiatan", "Waktu baku", "Jumlah", "Median (menit)",
                "P90 (menit)", "Terlama (menit)", "Sesuai waktu baku (%)"]  # fmt: skip
ROLE_COLUMNS = ["Peran", "Jumlah", "Median (menit)", "P90 (menit)", "Terlama (menit)",
                "Sesuai waktu baku (%)"]  # fmt: skip
SOP_COLUMNS = ["SOP", "Run", "Langkah terukur", "Sesuai waktu baku (%)", "Gagal", "Pengingat",
               "Eskalasi"]  # fmt: skip


@dataclass
class Figures:
    """One month's figures, as the report's three tables show them."""

    month: str
    by_sop: list[list[Any]] = field(default_factory=list)
    by_step: list[list[Any]] = field(default_factory=list)
    by_role: list[list[Any]] = field(default_factory=list)

    @property
    def measured(self) -> int:
        return sum(row[2] for row in self.by_sop)


def previous_month(moment: datetime) -> str:
    """The WIB month before ``moment`` (``YYYY-MM``): what a run on the 1st reports."""
    from piak.workflow import steps

    local = steps.wib(moment)
    year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def figures(month: str, url: str | None = None) -> Figures:
    """The month's figures from the agenda (``url``: another agenda store)."""
    from piak.core import agenda, registry

    items = agenda.entries(month=month, url=url)
    found = Figures(month)
    for sop in registry.load_registry():
        mine = [e for e in items if e.sop_code == sop.code]
        if not mine:
            continue
        measured = [e for e in mine if e.duration_minutes is not None and e.outcome not in
                    agenda.EVENTS]  # fmt: skip
        judged = [e.within_standard for e in measured if e.within_standard is not None]
        found.by_sop.append(
            [
                sop.title,
                len({(e.dag_id, e.run_id) for e in mine}),
                len(measured),
                round(100 * sum(judged) / len(judged)) if judged else None,
                sum(e.outcome == "failed" for e in mine),
                sum(e.outcome == "reminded" for e in mine),
                sum(e.outcome == "escalated" for e in mine),
            ]
        )
        for row in agenda.compliance(mine, "langkah"):
            number = int(row["group"].rsplit(" ", 1)[-1])
            step = registry.find_step(sop.code, number)  # None: renumbered since
            activity, standard = (step.activity, step.time_text) if step else ("-", None)
            found.by_step.append([sop.title, number, activity, standard or "-", *_durations(row)])
    found.by_role = [[r["group"], *_durations(r)] for r in agenda.compliance(items, "peran")]
    return found


def _durations(row: dict[str, Any]) -> list[Any]:
    return [row["count"], row["median"], row["p90"], row["max"], row["within"]]


def write_xlsx(found: Figures, path: Path) -> Path:
    """Three sheets - per SOP, per step, per role - written whole or not at all."""
    import pandas as pd

    from piak.core.files import atomic_file
    from piak.core.spreadsheet import safe_row

    sheets = {
        "Per SOP": (SOP_COLUMNS, found.by_sop),
        "Per langkah": (STEP_COLUMNS, found.by_step),
        "Per peran": (ROLE_COLUMNS, found.by_role),
    }
    with atomic_file(path) as out, pd.ExcelWriter(out, engine="openpyxl") as book:
        for name, (columns, rows) in sheets.items():
            frame = pd.DataFrame([safe_row(r) for r in rows], columns=columns)
            frame.to_excel(book, sheet_name=name, index=False)
    return path


def write_pdf(found: Figures, path: Path, made_at: datetime) -> Path:
    """The same figures on A4 landscape pages, with a bar per SOP of the share within the
    standard time (green from 80 %)."""
    from fpdf import FPDF

    from piak.core import agenda
    from piak.core.files import write_bytes_atomic
    from piak.core.letters import pdf_text
    from piak.workflow import steps

    pdf = FPDF(orientation="L", format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.set_title(f"{TITLE} {found.month}")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, pdf_text(TITLE), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    period = agenda.month_title(found.month)
    made = f"{steps.wib(made_at):%d-%m-%Y %H:%M} WIB"
    pdf.cell(0, 6, pdf_text(f"Bulan {period}; disusun {made} dari agenda PIAK Ops"),
             new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.ln(3)
    if not found.by_sop:
        pdf.cell(0, 8, pdf_text("Tidak ada catatan agenda pada bulan ini."))
        return write_bytes_atomic(path, bytes(pdf.output()))
    _table(pdf, "Per SOP", SOP_COLUMNS, found.by_sop, [90, 20, 35, 45, 25, 30, 25])
    _bars(pdf, found.by_sop)
    widths = [55, 18, 75, 25, 17, 23, 20, 24, 20]
    _table(pdf, "Per langkah", STEP_COLUMNS, found.by_step, widths)
    _table(pdf, "Per peran", ROLE_COLUMNS, found.by_role, [70, 25, 35, 35, 35, 45])
    return write_bytes_atomic(path, bytes(pdf.output()))


def _table(pdf: Any, title: str, columns: list[str], rows: list[list[Any]], widths: list[int]):
    from fpdf.fonts import FontFace

    from piak.core.letters import pdf_text

    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, pdf_text(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8)
    pdf.set_fill_color(255, 255, 255)
    headings = FontFace(emphasis="BOLD", fill_color=(230, 230, 230))
    with pdf.table(col_widths=widths, text_align="LEFT", headings_style=headings) as table:
        table.row([pdf_text(c) for c in columns])
        for values in rows:
            table.row([pdf_text("-" if v is None else str(v)) for v in values])
    pdf.ln(4)


def _bars(pdf: Any, by_sop: list[list[Any]]) -> None:
    from piak.core.letters import pdf_text

    pdf.set_font("Helvetica", "", 9)
    for row in by_sop:
        title, within = row[0], row[3]
        if within is None:
            continue
        y = pdf.get_y()
        pdf.cell(90, 6, pdf_text(title[:55]))
        pdf.set_fill_color(*((46, 125, 50) if within >= 80 else (198, 40, 40)))
        pdf.rect(pdf.l_margin + 92, y + 1, 1.5 * within, 4, style="F")
        pdf.set_x(pdf.l_margin + 95 + 1.5 * within)
        pdf.cell(20, 6, f"{within}%", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)


def report_dir(month: str) -> Path:
    """Where a month's report lives on the shared storage."""
    return settings.storage() / "laporan-bulanan" / month


def compile_report(**context: Any) -> dict[str, Any]:
    """Task: the report of the month before the run's date (or ``params.bulan``)."""
    from piak.core import agenda
    from piak.workflow import steps

    made_at = steps.run_date(context)  # a manual run may have no logical date
    month = (context["params"].get("bulan") or "").strip() or previous_month(made_at)
    agenda.month_bounds(month)  # a month that is not YYYY-MM is refused, naming it
    found = figures(month)
    out = report_dir(month)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"laporan-bulanan-{month}"
    write_xlsx(found, out / f"{stem}.xlsx")
    write_pdf(found, out / f"{stem}.pdf", made_at)
    log.info("Laporan %s: %d langkah terukur, di %s", month, found.measured, out)
    digest = hashlib.sha256(json.dumps(asdict(found), sort_keys=True).encode()).hexdigest()
    files = [f"{stem}.pdf", f"{stem}.xlsx"]
    return {"month": month, "dir": str(out), "files": files, "digest": digest}


def send_report(**context: Any) -> dict[str, Any]:
    """Task: the report to the Kadis by e-mail (both files attached), through the office's
    notifier; without a mail Connection it is logged where the files are."""
    from piak.core import access, agenda
    from piak.workflow import notify

    made = context["ti"].xcom_pull(task_ids="compile_report")
    files = [str(Path(made["dir"]) / name) for name in made["files"]]
    period = agenda.month_title(made["month"])
    marker = Path(made["dir"]) / SENT_MARKER
    if marker.exists():
        sent = json.loads(marker.read_text(encoding="utf-8"))
        if sent.get("digest") == made["digest"]:  # a retry or rerun: the Kadis has it already
            log.info("Laporan %s sudah dikirim (%s): tidak dikirim lagi", made["month"], sent)
            return {"month": made["month"], "receipt": sent["receipt"], "sent": False}
    kadis = access.load().addresses(["kadis"])
    notifier = notify.OfficeNotifier(title=TITLE)
    receipts = [
        notifier.send(
            notify.Message(
                recipient=to,
                subject=f"[PIAK Ops] {TITLE} {period}",
                body=(
                    f"Yth. Kepala Dinas,\n\nterlampir laporan kepatuhan SOP Bidang PIAK bulan "
                    f"{period} (PDF dan XLSX), disusun dari agenda PIAK Ops.\n\n"
                    f"Berkas: {made['dir']}"
                ),
                files=tuple(files),
                to_office=not kadis,
            )
        )
        for to in kadis or ["kantor"]
    ]
    receipt = "; ".join(receipts)
    mailed = any(r.startswith("dikirim") for r in receipts)
    if mailed:  # only logged (no mail Connection yet): a later run still mails it
        write_text_atomic(marker, json.dumps({"digest": made["digest"], "receipt": receipt}))
    return {"month": made["month"], "receipt": receipt, "sent": mailed}
