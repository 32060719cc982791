"""The aggregate pack: counts per kecamatan and per kelurahan/desa with Indonesian labels.

Every count is a ``GROUP BY`` in the database (one statement per table, all on one consistent
image, grouped down to the kelurahan); the kecamatan tables and the kabupaten totals add up those
groups. The whole pack is one system of published cells for small-count protection
(:mod:`piak.engines.provision.suppress`): every cell of every table at every level, row totals and
the kabupaten totals, with the relations between them - within a table and across tables.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from piak.core.spreadsheet import safe_row
from piak.engines.provision.catalog import AggregateSpec, load
from piak.engines.provision.output import (
    SUPPRESSED,
    HashingFile,
    Written,
    cover_text,
    finish_file,
    suppression_text,
    tanggal,
    write_cover_sheet,
)
from piak.engines.provision.request import KelKey, Regions, Request, kec_code, kel_code
from piak.engines.provision.source import fetch_all, snapshot
from piak.engines.provision.sql import aggregate_query
from piak.engines.provision.suppress import AtMost, Equality, Suppression, protect

UNKNOWN = "?"
LEVELS = {"kecamatan": ("Kec", "per Kecamatan"), "kelurahan": ("Kel", "per Kelurahan/Desa")}


@dataclass
class Table:
    """One table of the pack: label columns, count columns (without the row total) and rows.

    ``ids`` name each row's cells (the categories, then the row total) in the pack's system of
    published cells; ``total_ids`` the kabupaten totals (the JUMLAH row). ``hidden`` and
    ``primary`` are the pack's suppression, shared by every table."""

    key: str
    title: str
    sheet: str
    level: str
    labels: list[str]
    categories: list[str]
    rows: list[tuple[list[str], list[int]]]
    ids: list[list[int]] = field(default_factory=list)
    total_ids: list[int] = field(default_factory=list)
    hidden: frozenset[int] = frozenset()
    primary: frozenset[int] = frozenset()

    def hidden_cell(self, row: int, col: int) -> bool:
        """Whether a cell (``col`` = len(categories) is the row total) is suppressed."""
        return bool(self.ids) and self.ids[row][col] in self.hidden

    def cell(self, row: int, col: int) -> int | None:
        """A published value (None when suppressed); ``col`` = len(categories): the row total."""
        counts = self.rows[row][1]
        value = sum(counts) if col == len(self.categories) else counts[col]
        return None if self.hidden_cell(row, col) else value

    def totals(self) -> list[int]:
        """Column totals and the grand total (true sums)."""
        sums = [sum(counts[c] for _, counts in self.rows) for c in range(len(self.categories))]
        return [*sums, sum(sums)]

    def published_totals(self) -> list[Any]:
        """The JUMLAH row as published."""
        return [
            SUPPRESSED if self.total_ids and self.total_ids[c] in self.hidden else value
            for c, value in enumerate(self.totals())
        ]

    @property
    def headers(self) -> list[str]:
        return [*self.labels, *self.categories, "Jumlah"]

    def own_ids(self) -> list[int]:
        """This table's cells (the kabupaten totals belong to the kecamatan table)."""
        own = [i for row in self.ids for i in row]
        return own + (self.total_ids if self.level == "kecamatan" else [])

    def report(self) -> dict[str, Any]:
        own = set(self.own_ids())
        hidden = own & self.hidden
        return {
            "rows": len(self.rows),
            "suppressed": bool(hidden),
            "suppressed_primary": len(hidden & self.primary),
            "suppressed_secondary": len(hidden - self.primary),
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


def _kelurahan_rows(
    request: Request, regions: Regions, counts: dict[str, dict[tuple, int]]
) -> list[KelKey]:
    """Every kelurahan/desa of the request (the same rows in every table)."""
    whole = not request.kecamatan and not request.kelurahan
    rows = {
        kel
        for kel in regions.kelurahan
        if whole or kel[:3] in request.kecamatan or kel in request.kelurahan
    }
    for table in counts.values():
        rows |= {kel for kel, _ in table}
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


class _Cells:
    """The pack's published cells (values) and the relations between them."""

    def __init__(self) -> None:
        self.values: list[int] = []
        self.relations: list[Equality | AtMost] = []

    def new(self, value: int) -> int:
        self.values.append(value)
        return len(self.values) - 1

    def sum_of(self, parts: list[int]) -> int:
        """A new cell published as the sum of ``parts``, with its relation."""
        total = self.new(sum(self.values[p] for p in parts))
        self.relations.append(Equality(total, tuple(parts)))
        return total


@dataclass
class _SpecCells:
    """One table's cells at every level: region key (+ age group) -> cell per code (+ total)."""

    spec: AggregateSpec
    codes: list[Hashable]
    kel: dict[tuple, list[int]]
    kec: dict[tuple, list[int]]
    kab: list[int]

    def region_total(self, level: str, region: tuple) -> list[int]:
        """The cells whose sum is the region's population in this table."""
        rows = self.kel if level == "kelurahan" else self.kec
        if self.spec.kind != "age_sex":
            return [rows[region,][-1]]
        return [ids[-1] for key, ids in rows.items() if key[0] == region]

    def by_code(self, level: str, region: tuple, code: Hashable) -> list[int]:
        rows = self.kel if level == "kelurahan" else self.kec
        c = self.codes.index(code)
        return [ids[c] for key, ids in rows.items() if key[0] == region]


def _level_cells(
    cells: _Cells, row_keys: list[tuple], values: dict[tuple, int], codes: list[Hashable]
) -> dict[tuple, list[int]]:
    out = {}
    for key in row_keys:
        ids = [cells.new(values.get((key, code), 0)) for code in codes]
        out[key] = [*ids, cells.sum_of(ids)]
    return out


def _spec_cells(
    cells: _Cells, spec: AggregateSpec, counts: dict[tuple, int], kel_rows: list[KelKey]
) -> _SpecCells:
    codes = [code for code, _ in _categories(spec, counts)]
    known = set(codes)
    kel = _level_cells(cells, _row_keys(spec, kel_rows), _cells(spec, counts, known, "kelurahan"),
                       codes)  # fmt: skip
    kec: dict[tuple, list[int]] = {}
    for key in _row_keys(spec, sorted({k[:3] for k in kel_rows})):
        members = [ids for kel_key, ids in kel.items() if kel_key[0][:3] == key[0] and
                   kel_key[1:] == key[1:]]  # fmt: skip
        kec[key] = [cells.sum_of([ids[c] for ids in members]) for c in range(len(codes) + 1)]
        cells.relations.append(Equality(kec[key][-1], tuple(kec[key][:-1])))
    kab = [cells.sum_of([ids[c] for ids in kec.values()]) for c in range(len(codes) + 1)]
    cells.relations.append(Equality(kab[-1], tuple(kab[:-1])))
    return _SpecCells(spec, codes, kel, kec, kab)


def _cross_relations(cells: _Cells, tables: list[_SpecCells], kel_rows: list[KelKey]) -> None:
    """What one table tells about another: same population per region, the sex columns, and
    the subsets (heads of family, wajib KTP) of a whole."""
    catalog = load()
    population = [t for t in tables if t.spec.kind in ("codes", "age_sex")]
    by_sex = next(
        (t for t in population if t.spec.kind == "codes" and t.spec.column == "JENIS_KLMIN"), None
    )
    anchor = next((t for t in population if t.spec.kind == "codes"), None)
    married = next((t for t in tables if t.spec.kind == "codes" and t.spec.column == "STAT_KWN"),
                   None)  # fmt: skip
    adult_groups = [
        i for i, (low, _, _) in enumerate(catalog.age_groups()) if low >= catalog.adult_age
    ]
    regions = {"kelurahan": kel_rows, "kecamatan": sorted({k[:3] for k in kel_rows})}
    add = cells.relations.append
    for level, keys in regions.items():
        for region in keys:
            if anchor is not None:
                (total,) = anchor.region_total(level, region)
                for other in population:
                    if other is not anchor:
                        add(Equality(total, tuple(other.region_total(level, region))))
            if by_sex is None:
                continue
            for table in tables:
                for code in by_sex.codes:
                    if table is by_sex or code not in table.codes:
                        continue
                    (whole,) = by_sex.by_code(level, region, code)
                    parts = table.by_code(level, region, code)
                    if table.spec.kind == "age_sex":
                        add(Equality(whole, tuple(parts)))
                        if any(t.spec.kind == "wajib_ktp" for t in tables):
                            _adults(add, tables, table, level, region, code, adult_groups)
                    elif table.spec.kind in ("heads", "wajib_ktp"):
                        add(AtMost(tuple(parts), (whole,)))
            if married is not None:
                for table in tables:
                    if table.spec.kind == "wajib_ktp":
                        ever = [c for c in catalog.ever_married if c in married.codes]
                        small = [married.by_code(level, region, c)[0] for c in ever]
                        add(AtMost(tuple(small), tuple(table.region_total(level, region))))
    if anchor is not None:
        for other in population:
            if other is not anchor:
                add(Equality(anchor.kab[-1], (other.kab[-1],)))
    if by_sex is not None:
        for table in tables:
            if table is by_sex:
                continue
            for code in by_sex.codes:
                if code in table.codes:
                    whole = by_sex.kab[by_sex.codes.index(code)]
                    part = table.kab[table.codes.index(code)]
                    if table.spec.kind == "age_sex":
                        add(Equality(whole, (part,)))
                    elif table.spec.kind in ("heads", "wajib_ktp"):
                        add(AtMost((part,), (whole,)))


def _adults(add, tables, age_sex, level, region, code, adult_groups) -> None:
    """Wajib KTP of a sex is at least the residents of that sex aged 20 and over."""
    rows = age_sex.kel if level == "kelurahan" else age_sex.kec
    c = age_sex.codes.index(code)
    adults = tuple(rows[region, g][c] for g in adult_groups)
    for table in tables:
        if table.spec.kind == "wajib_ktp" and code in table.codes:
            (wajib,) = table.by_code(level, region, code)
            add(AtMost(adults, (wajib,)))


def _table(
    spec: AggregateSpec,
    level: str,
    cells: _Cells,
    spec_cells: _SpecCells,
    counts: dict[tuple, int],
    request: Request,
    regions: Regions,
) -> Table:
    columns = _categories(spec, counts)
    rows_ids = spec_cells.kel if level == "kelurahan" else spec_cells.kec
    ages = [label for _, _, label in load().age_groups()]
    rows, ids = [], []
    for key, row_ids in rows_ids.items():
        names = _names(level, key[0], request, regions)
        if spec.kind == "age_sex":
            names.append(ages[key[1]])
        rows.append((names, [cells.values[i] for i in row_ids[:-1]]))
        ids.append(row_ids)
    short, per = LEVELS[level]
    labels = ["Kode", "Kecamatan"] + (["Kelurahan/Desa"] if level == "kelurahan" else [])
    return Table(
        key=f"{level}_{spec.key}",
        title=f"{spec.title} {per}",
        sheet=f"{short} {spec.sheet}"[:31],
        level=level,
        labels=labels + (["Kelompok Umur"] if spec.kind == "age_sex" else []),
        categories=[label for _, label in columns],
        rows=rows,
        ids=ids,
        total_ids=list(spec_cells.kab),
    )


def build_pack(
    conn: Any, dialect: str, request: Request, regions: Regions
) -> tuple[list[Table], Suppression]:
    """Every table of the pack (all kecamatan tables, then all kelurahan tables), protected
    together; and the suppression with its audit."""
    counts = count_all(conn, dialect, request)
    specs = load().aggregates
    kel_rows = _kelurahan_rows(request, regions, counts)
    cells = _Cells()
    spec_cells = [_spec_cells(cells, spec, counts[spec.key], kel_rows) for spec in specs]
    _cross_relations(cells, spec_cells, kel_rows)
    suppression = protect(cells.values, cells.relations, request.threshold)
    tables = [
        _table(spec, level, cells, sc, counts[spec.key], request, regions)
        for level in LEVELS
        for spec, sc in zip(specs, spec_cells, strict=True)
    ]
    for table in tables:
        table.hidden, table.primary = suppression.cells, suppression.primary
    return tables, suppression


# --- writing ------------------------------------------------------------------------------------


def _published_rows(table: Table) -> list[list[Any]]:
    out = []
    width = len(table.categories) + 1
    for i, (names, _) in enumerate(table.rows):
        values = [table.cell(i, c) for c in range(width)]
        out.append([*names, *(SUPPRESSED if v is None else v for v in values)])
    return out


def write_csv(table: Table, folder: Path) -> Written:
    """``<table>.csv`` (UTF-8 with BOM for Excel); suppressed cells are ``*``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(safe_row(table.headers))
    writer.writerows(safe_row(row) for row in _published_rows(table))
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
    for c, header in enumerate([*table.categories, "Jumlah"]):
        values = [table.cell(i, c) for i in range(len(table.rows))]
        columns[header] = pa.array(values, pa.int64())
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
    header_cells = [styled(h, bold, grey) for h in safe_row(table.headers)]
    for cell in header_cells:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.append(header_cells)
    for row in _published_rows(table):
        ws.append(safe_row(row))
    blanks = [""] * (len(table.labels) - 1)
    totals = table.published_totals()
    ws.append([styled("JUMLAH", bold), *blanks, *(styled(v, bold) for v in totals)])
    if table.report()["suppressed"] or SUPPRESSED in totals:
        ws.append([])
        ws.append([f"{SUPPRESSED} disensor: {suppression_text(threshold)}"])


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
