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

from piak import settings
from piak.indonesian import tanggal
from piak.provision.catalog import load
from piak.provision.request import Regions, Request, describe_scope

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


def cover_lines(request: Request, regions: Regions) -> list[tuple[str, str]]:
    """The request as (label, value) lines, in Bahasa Indonesia."""
    catalog = load()
    sex = {None: "Semua", 1: "Laki-laki", 2: "Perempuan"}[request.sex]
    lines = [
        ("Pemohon", request.applicant),
        ("Instansi", request.institution),
        ("Nomor surat permohonan", request.letter_number),
        ("Tanggal surat permohonan", tanggal(request.letter_date)),
        ("Keperluan", request.purpose),
        ("Kontak", request.contact),
        ("Jenis data", "Data perseorangan" if request.kind == "perseorangan" else "Data agregat"),
    ]
    if request.kind == "perseorangan":
        lines += [
            ("Nomor PKS", request.pks_number or "-"),
            ("Tanggal PKS", tanggal(request.pks_date) if request.pks_date else "-"),
            ("Kolom", ", ".join(catalog.columns[c].header for c in request.columns)),
            (
                "Identitas disamarkan",
                ", ".join(catalog.columns[c].header for c in request.masked) or "tidak ada",
            ),
        ]
    lines += [
        ("Wilayah", describe_scope(request, regions)),
        ("Posisi data", tanggal(request.as_of)),
        ("Umur", _age_text(request)),
        ("Jenis kelamin", sex),
        (
            "Cakupan",
            "Penduduk aktif (FLAG_STATUS 0) yang lahir dan tercatat sampai tanggal "
            "posisi data; umur dihitung pada tanggal posisi data.",
        ),
    ]
    if request.kind == "agregat":
        lines.append(("Sel kecil", _suppression_text(request.threshold)))
    lines.append(("Dibuat", now_wib().strftime("%d-%m-%Y %H:%M WIB")))
    return lines


def _suppression_text(threshold: int) -> str:
    if threshold <= 1:
        return "Tanpa sensor sel kecil."
    return (
        f"Sel tabel kelurahan/desa bernilai 1 sampai {threshold - 1} disensor ({SUPPRESSED}), "
        "bersama sel pendamping agar tidak dapat dihitung dari jumlahnya."
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
        cell = WriteOnlyCell(ws, value=_safe_text(value))
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


def _safe_text(value: str) -> str:
    """Text that a spreadsheet never takes for a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value
