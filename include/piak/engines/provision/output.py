"""Output files: written under a temporary name, hashed while written, renamed when complete;
and what every output says about its request (the cover sheet / ``keterangan.txt``)."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from piak.core import settings
from piak.core.indonesian import tanggal
from piak.core.spreadsheet import safe_text
from piak.engines.provision.catalog import load
from piak.engines.provision.request import Regions, Request, describe_scope

SUPPRESSED = "*"


@dataclass(frozen=True)
class Written:
    """A finished output file."""

    name: str
    size: int
    sha256: str
    rows: int

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "sha256": self.sha256, "rows": self.rows}


class HashingFile:
    """A binary file written to ``.<name>.tmp`` and renamed to ``name`` by :meth:`commit`.

    Every write is hashed (SHA-256) on a helper thread while the caller prepares the next one;
    hashlib releases the GIL, so on two cores hashing costs almost no wall time.
    """

    def __init__(self, folder: Path, name: str) -> None:
        self.path = folder / name
        self.tmp = folder / f".{name}.tmp"
        self._handle = self.tmp.open("xb")
        self._hash = hashlib.sha256()
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending: Future | None = None
        self.size = 0

    def write(self, data: Any) -> int:
        data = bytes(data)
        self._handle.write(data)
        self.size += len(data)
        if self._pending is not None:
            self._pending.result()
        self._pending = self._pool.submit(self._hash.update, data)
        return len(data)

    def commit(self, rows: int) -> Written:
        """Flush, fsync, rename into place; return the file's size, hash and rows."""
        if self._pending is not None:
            self._pending.result()
        self._pool.shutdown()
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self.tmp, self.path)
        return Written(self.path.name, self.size, self._hash.hexdigest(), rows)

    def abort(self) -> None:
        self._pool.shutdown(wait=True)
        self._handle.close()
        self.tmp.unlink(missing_ok=True)


def finish_file(tmp: Path, path: Path, rows: int) -> Written:
    """fsync ``tmp``, hash it and rename it to ``path`` (for files a library wrote itself)."""
    digest = hashlib.sha256()
    with tmp.open("rb") as handle:
        while block := handle.read(4 * 1024 * 1024):
            digest.update(block)
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return Written(path.name, path.stat().st_size, digest.hexdigest(), rows)


def now_wib() -> datetime:
    return datetime.now(ZoneInfo(settings.TIMEZONE))


def _age_text(request: Request) -> str:
    if request.age_min is None and request.age_max is None:
        return "semua umur"
    if request.age_max is None:
        return f"{request.age_min} tahun ke atas"
    if request.age_min is None:
        return f"sampai {request.age_max} tahun"
    return f"{request.age_min} sampai {request.age_max} tahun"


FORMAT_NAMES = {"xlsx": "Excel (XLSX)", "csv": "CSV (UTF-8)", "parquet": "Parquet"}


def _count(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def summary_lines(
    request: Request, scope: str, estimated_rows: int | None = None
) -> list[tuple[str, str]]:
    """What a release is, as every approver, the agenda and the letter state it (no resident
    data): requester, letter, purpose, kind, scope, columns, identifiers opened and under which
    PKS clause, threshold, estimated rows and format."""
    catalog = load()
    headers = catalog.columns
    sex = {None: "laki-laki dan perempuan", 1: "laki-laki", 2: "perempuan"}[request.sex]
    agreement = request.agreement
    lines = [
        ("Pemohon", request.applicant),
        ("Instansi", request.institution),
        ("Surat permohonan", f"{request.letter_number} tanggal {tanggal(request.letter_date)}"),
        ("Keperluan", " ".join(request.purpose.split())),
        ("Jenis data", "Data perseorangan" if request.kind == "perseorangan" else "Data agregat"),
        ("Wilayah", scope),
        ("Posisi data", tanggal(request.as_of)),
        ("Umur dan jenis kelamin", f"{_age_text(request)}, {sex}"),
    ]
    if request.kind == "perseorangan":
        opened = ", ".join(headers[c].header for c in request.unmasked)
        clause = agreement.identity_clause if agreement else None
        pks = (
            f"{agreement.number} ({agreement.institution}), berlaku {agreement.period()}"
            if agreement
            else "-"
        )
        lines += [
            ("Kolom", ", ".join(headers[c].header for c in request.columns)),
            (
                "Identitas dibuka",
                f"{opened} - PKS {request.pks_number} {clause}" if opened else "tidak ada",
            ),
            (
                "Identitas diganti pseudonim",
                ", ".join(headers[c].header for c in request.pseudonymised) or "tidak ada",
            ),
            (
                "Tanggal hanya tahunnya",
                ", ".join(headers[c].header for c in request.coarsened) or "tidak ada",
            ),
            ("PKS", pks),
        ]
    else:
        tables = ", ".join(spec.sheet for spec in catalog.aggregates)
        lines += [
            ("Kolom", f"tabel agregat per kecamatan dan kelurahan/desa: {tables}"),
            ("Identitas dibuka", "tidak ada (data agregat)"),
        ]
    lines.append(
        ("Ambang sel kecil", f"{request.threshold} (sel 1-{request.threshold - 1} disensor)")
    )
    if estimated_rows is not None:
        unit = "baris (penduduk)" if request.kind == "perseorangan" else "penduduk dalam cakupan"
        lines.append(("Perkiraan jumlah", f"{_count(estimated_rows)} {unit}"))
    lines.append(("Format", FORMAT_NAMES.get(request.format, request.format)))
    return lines


def cover_lines(request: Request, regions: Regions) -> list[tuple[str, str]]:
    """The request as (label, value) lines for the release's cover sheet, in Bahasa Indonesia."""
    lines = summary_lines(request, describe_scope(request, regions))
    lines.insert(4, ("Kontak", request.contact))
    lines.append(
        (
            "Penduduk",
            "Penduduk aktif (FLAG_STATUS 0) yang lahir dan tercatat sampai tanggal "
            "posisi data; umur dihitung pada tanggal posisi data.",
        )
    )
    if request.kind == "agregat":
        lines.append(("Sel kecil", suppression_text(request.threshold)))
    else:
        lines.append(
            (
                "Pseudonim",
                "Setiap NIK/Nomor KK yang tidak dibuka diganti kode acak berkunci yang hanya "
                "berlaku di rilis ini (P... untuk NIK, K... untuk Nomor KK); tidak dapat "
                "dihitung kembali menjadi NIK.",
            )
        )
    lines.append(("Dibuat", now_wib().strftime("%d-%m-%Y %H:%M WIB")))
    return lines


def suppression_text(threshold: int) -> str:
    return (
        f"Sel bernilai 1 sampai {threshold - 1} disensor ({SUPPRESSED}) di semua tabel dan "
        "tingkat (kabupaten, kecamatan, kelurahan/desa, termasuk jumlah), bersama sel "
        "pendamping agar tidak dapat dihitung kembali dari jumlah baris, kolom, tingkat lain "
        "atau tabel lain dalam rilis ini."
    )


def cover_text(lines: list[tuple[str, str]], files: list[tuple[str, int]]) -> str:
    """``keterangan.txt`` of CSV / Parquet outputs."""
    width = max(len(label) for label, _ in lines)
    text = ["PENYAJIAN DATA KEPENDUDUKAN", ""]
    text += [f"{label:<{width}} : {value}" for label, value in lines]
    text += ["", "Berkas:"] + [f"- {name}: {rows} baris" for name, rows in files]
    return "\n".join(text) + "\n"


def write_cover_sheet(ws: Any, lines: list[tuple[str, str]], sheets: list[tuple[str, int]]) -> None:
    """Fill a write-only worksheet with the request and the list of sheets."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 90
    title = WriteOnlyCell(ws, value="PENYAJIAN DATA KEPENDUDUKAN")
    title.font = Font(bold=True, size=14)
    ws.append([title])
    ws.append([])
    for label, value in lines:
        cell = WriteOnlyCell(ws, value=safe_text(value))
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        head = WriteOnlyCell(ws, value=label)
        head.font = Font(bold=True)
        ws.append([head, cell])
    ws.append([])
    head = WriteOnlyCell(ws, value="Lembar")
    head.font = Font(bold=True)
    rows = WriteOnlyCell(ws, value="Jumlah baris")
    rows.font = Font(bold=True)
    ws.append([head, rows])
    for name, count in sheets:
        ws.append([name, count])
