"""The aggregate pack: counts per kecamatan and per kelurahan/desa with Indonesian labels.

Every count is a ``GROUP BY`` in the database (one statement per table, all on one consistent
image, grouped down to the kelurahan); the kecamatan tables add up those groups. Kelurahan tables
get small-count suppression (:mod:`piak.provision.suppress`), with the row totals and the
kecamatan tables as the published sums a hidden cell must not be recoverable from.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from piak.provision.catalog import AggregateSpec, load
from piak.provision.output import (
    SUPPRESSED,
    HashingFile,
    Written,
    cover_text,
    finish_file,
    tanggal,
    write_cover_sheet,
)
from piak.provision.request import KelKey, Regions, Request, kec_code, kel_code
from piak.provision.source import fetch_all, snapshot
from piak.provision.sql import aggregate_query
from piak.provision.suppress import Suppression, suppress

UNKNOWN = "?"
LEVELS = {"kecamatan": ("Kec", "per Kecamatan"), "kelurahan": ("Kel", "per Kelurahan/Desa")}


@dataclass
class Table:
    """One table of the pack: label columns, count columns (without the row total) and rows."""

    key: str
    title: str
    sheet: str
    level: str
    labels: list[str]
    categories: list[str]
    rows: list[tuple[list[str], list[int]]]
    suppression: Suppression | None = None

    def hidden(self, row: int, col: int) -> bool:
        return self.suppression is not None and (row, col) in self.suppression.cells

    def cell(self, row: int, col: int) -> int | None:
        """A published value (None when suppressed)."""
        return None if self.hidden(row, col) else self.rows[row][1][col]

    def totals(self) -> list[int]:
        """Column totals and the grand total (true sums: they are published figures)."""
        sums = [sum(counts[c] for _, counts in self.rows) for c in range(len(self.categories))]
        return [*sums, sum(sums)]

    @property
    def headers(self) -> list[str]:
        return [*self.labels, *self.categories, "Jumlah"]

    def report(self) -> dict[str, Any]:
        s = self.suppression
        return {
            "rows": len(self.rows),
            "suppressed": bool(s and s.cells),
            "suppressed_primary": s.primary if s else 0,
            "suppressed_secondary": s.secondary if s else 0,
        }


def count_all(conn: Any, dialect: str, request: Request) -> dict[str, dict[tuple, int]]:
    """Run every GROUP BY of the pack on one snapshot: table key -> {(kel key, categories): n}."""
    results: dict[str, dict[tuple, int]] = {}
    with snapshot(conn, dialect):
        for spec in load().aggregates:
            rows = fetch_all(conn, aggregate_query(spec, request, dialect))
            results[spec.key] = {
                (tuple(int(v) for v in row[:4]), tuple(_code(v) for v in row[4:-1])): int(row[-1])
                for row in rows
            }
    return results


def _code(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _categories(spec: AggregateSpec, counts: dict[tuple, int]) -> list[tuple[Hashable, str]]:
    catalog = load()
    labels = catalog.labels(spec.codes if spec.kind == "codes" else "JENIS_KLMIN")
    position = 0 if spec.kind != "age_sex" else 1
    seen = {keys[position] for _, keys in counts}
    columns: list[tuple[Hashable, str]] = list(labels.items())
    if seen - set(labels):
        columns.append((UNKNOWN, "Tidak diketahui"))
    return columns


def _kelurahan_rows(request: Request, regions: Regions, counts: dict[tuple, int]) -> list[KelKey]:
    whole = not request.kecamatan and not request.kelurahan
    rows = {
        kel
        for kel in regions.kelurahan
        if whole or kel[:3] in request.kecamatan or kel in request.kelurahan
    }
    rows |= {kel for kel, _ in counts}
    return sorted(rows)


def _names(level: str, region: tuple, request: Request, regions: Regions) -> list[str]:
    kec_name = regions.kecamatan.get(region[:3], "(tidak ada di SETUP_KEC)")
    if level == "kecamatan":
        partial = (request.kecamatan or request.kelurahan) and region not in request.kecamatan
        return [kec_code(region), kec_name + (" (sebagian)" if partial else "")]
    kel_name = regions.kelurahan.get(region, "(tidak ada di SETUP_KEL)")
    return [kel_code(region), kec_name, kel_name]


def _cells(
    spec: AggregateSpec, counts: dict[tuple, int], known: set, level: str
) -> dict[tuple, int]:
    """(row key, category) -> count; row key = region (+ age group)."""
    cells: dict[tuple, int] = defaultdict(int)
    for (kel, keys), n in counts.items():
        region = kel if level == "kelurahan" else kel[:3]
        code = keys[-1] if keys[-1] in known else UNKNOWN
        row = (region, keys[0]) if spec.kind == "age_sex" else (region,)
        cells[row, code] += n
    return cells


def _row_keys(spec: AggregateSpec, regions_in_rows: list[tuple]) -> list[tuple]:
    if spec.kind != "age_sex":
        return [(r,) for r in regions_in_rows]
    groups = range(len(load().age_groups()))
    return [(r, g) for r in regions_in_rows for g in groups]


def _lines(spec: AggregateSpec, row_keys: list[tuple], cols: list[Hashable]) -> list[list[tuple]]:
    """Groups of kelurahan cells whose sums are published elsewhere."""
    lines = [[(i, c) for c in range(len(cols))] for i in range(len(row_keys))]
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, key in enumerate(row_keys):
        groups["kec", key[0][:3], *key[1:]].append(i)
        if spec.kind == "age_sex":
            groups["kel", key[0]].append(i)
    for members in groups.values():
        lines += [[(i, c) for i in members] for c in range(len(cols))]
    return lines


def build_table(
    spec: AggregateSpec,
    level: str,
    counts: dict[tuple, int],
    request: Request,
    regions: Regions,
) -> Table:
    """One table of the pack at ``level`` (kecamatan or kelurahan)."""
    columns = _categories(spec, counts)
    codes = [code for code, _ in columns]
    kel_rows = _kelurahan_rows(request, regions, counts)
    region_rows = kel_rows if level == "kelurahan" else sorted({k[:3] for k in kel_rows})
    row_keys = _row_keys(spec, region_rows)
    cells = _cells(spec, counts, set(codes), level)
    ages = [label for _, _, label in load().age_groups()]
    rows = []
    for key in row_keys:
        names = _names(level, key[0], request, regions)
        if spec.kind == "age_sex":
            names.append(ages[key[1]])
        rows.append((names, [cells.get((key, code), 0) for code in codes]))
    short, per = LEVELS[level]
    labels = ["Kode", "Kecamatan"] + (["Kelurahan/Desa"] if level == "kelurahan" else [])
    table = Table(
        key=f"{level}_{spec.key}",
        title=f"{spec.title} {per}",
        sheet=f"{short} {spec.sheet}"[:31],
        level=level,
        labels=labels + (["Kelompok Umur"] if spec.kind == "age_sex" else []),
        categories=[label for _, label in columns],
        rows=rows,
    )
    if level == "kelurahan":
        values = {(i, c): rows[i][1][c] for i in range(len(rows)) for c in range(len(codes))}
        table.suppression = suppress(values, _lines(spec, row_keys, codes), request.threshold)
    return table


def build_pack(conn: Any, dialect: str, request: Request, regions: Regions) -> list[Table]:
    """Every table of the pack: all kecamatan tables, then all kelurahan tables."""
    counts = count_all(conn, dialect, request)
    specs = load().aggregates
    return [
        build_table(spec, level, counts[spec.key], request, regions)
        for level in LEVELS
        for spec in specs
    ]


# --- writing ------------------------------------------------------------------------------------


def _published_rows(table: Table) -> list[list[Any]]:
    out = []
    for i, (names, counts) in enumerate(table.rows):
        values = [SUPPRESSED if table.hidden(i, c) else n for c, n in enumerate(counts)]
        out.append([*names, *values, sum(counts)])
    return out


def write_csv(table: Table, folder: Path) -> Written:
    """``<table>.csv`` (UTF-8 with BOM for Excel); suppressed cells are ``*``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.headers)
    writer.writerows(_published_rows(table))
    target = HashingFile(folder, f"{table.key}.csv")
    try:
        target.write(buffer.getvalue().encode("utf-8-sig"))
        return target.commit(len(table.rows))
    except BaseException:
        target.abort()
        raise


def write_parquet(table: Table, folder: Path) -> Written:
    """``<table>.parquet``; suppressed cells are null."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns: dict[str, Any] = {}
    for j, header in enumerate(table.labels):
        columns[header] = pa.array([names[j] for names, _ in table.rows], pa.string())
    for c, header in enumerate(table.categories):
        values = [table.cell(i, c) for i in range(len(table.rows))]
        columns[header] = pa.array(values, pa.int64())
    columns["Jumlah"] = pa.array([sum(counts) for _, counts in table.rows], pa.int64())
    path = folder / f"{table.key}.parquet"
    tmp = folder / f".{path.name}.tmp"
    pq.write_table(pa.table(columns), tmp, compression="zstd")
    return finish_file(tmp, path, len(table.rows))


def _sheet(wb: Any, table: Table, as_of: str, threshold: int) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill

    ws = wb.create_sheet(table.sheet)
    for i, _header in enumerate(table.headers):
        letter = _column_letter(i)
        ws.column_dimensions[letter].width = 14 if i < len(table.labels) else 11
    bold = Font(bold=True)

    def styled(value: Any, font: Any = None, fill: Any = None) -> Any:
        cell = WriteOnlyCell(ws, value=value)
        if font:
            cell.font = font
        if fill:
            cell.fill = fill
        return cell

    ws.append([styled(table.title, Font(bold=True, size=13))])
    ws.append([f"Posisi data: {as_of}"])
    ws.append([])
    grey = PatternFill("solid", fgColor="DDDDDD")
    header_cells = [styled(h, bold, grey) for h in table.headers]
    for cell in header_cells:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.append(header_cells)
    for row in _published_rows(table):
        ws.append(row)
    blanks = [""] * (len(table.labels) - 1)
    ws.append([styled("JUMLAH", bold), *blanks, *(styled(v, bold) for v in table.totals())])
    if table.suppression and table.suppression.cells:
        ws.append([])
        ws.append(
            [
                f"{SUPPRESSED} disensor: sel kecil (di bawah {threshold}) atau sel "
                "pendamping agar sel kecil tidak dapat dihitung dari jumlahnya."
            ]
        )


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def write_xlsx(
    tables: list[Table], folder: Path, cover: list[tuple[str, str]], request: Request
) -> Written:
    """``agregat.xlsx``: a cover sheet, then one sheet per table with totals."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    cover_ws = wb.create_sheet("Keterangan")
    for table in tables:
        _sheet(wb, table, tanggal(request.as_of), request.threshold)
    write_cover_sheet(cover_ws, cover, [(t.sheet, len(t.rows)) for t in tables])
    path = folder / "agregat.xlsx"
    tmp = folder / ".agregat.xlsx.tmp"
    wb.save(tmp)
    return finish_file(tmp, path, sum(len(t.rows) for t in tables))


def write_pack(
    tables: list[Table], folder: Path, fmt: str, cover: list[tuple[str, str]], request: Request
) -> list[Written]:
    """Write the pack in ``fmt``; CSV and Parquet get one file per table and ``keterangan.txt``."""
    if fmt == "xlsx":
        return [write_xlsx(tables, folder, cover, request)]
    writer = write_csv if fmt == "csv" else write_parquet
    files = [writer(table, folder) for table in tables]
    text = cover_text(cover, [(f.name, f.rows) for f in files])
    target = HashingFile(folder, "keterangan.txt")
    target.write(text.encode("utf-8"))
    return [*files, target.commit(0)]
