"""Individual extracts (data perseorangan), streamed batch by batch into CSV, Parquet or XLSX.

Memory holds one Arrow batch at a time whatever the row count. Code columns get their Indonesian
labels and dates become real dates in Arrow (vectorised, no Python per value); identifiers the PKS
does not open become per-release pseudonyms (:mod:`piak.engines.provision.pseudonym`) and dates that
would give them back arrive from the database as their year only; text cells of CSV and XLSX are
made formula-safe (:mod:`piak.core.spreadsheet`). The k-anonymity of the released quasi-identifiers
is counted on the way (:mod:`piak.engines.provision.kanon`). XLSX sheets split at Excel's row limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from piak.core.spreadsheet import safe_array
from piak.engines.provision.catalog import ColumnSpec, load
from piak.engines.provision.kanon import ClassCounter
from piak.engines.provision.output import HashingFile, Written, finish_file, write_cover_sheet
from piak.engines.provision.pseudonym import Pseudonymiser
from piak.engines.provision.request import Request
from piak.engines.provision.source import (
    CHUNK_ROWS,
    FastPathUnavailable,
    dbapi_batches,
    fast_batches,
)
from piak.engines.provision.sql import individual_query

if TYPE_CHECKING:
    import pyarrow as pa

#: Excel's limit: 1,048,576 rows per sheet, the header included.
XLSX_MAX_ROWS = 1_048_576
STEM = "perseorangan"


@dataclass(frozen=True)
class Released:
    """One column as released: its spec, its header and how it is transformed."""

    spec: ColumnSpec
    header: str
    how: str  # "pseudonym", "year", "codes", "date", "int" or "text"

    @property
    def arrow_type(self) -> pa.DataType:
        import pyarrow as pa

        if self.how in ("year", "int"):
            return pa.int64()
        return pa.date32() if self.how == "date" else pa.string()


def released_columns(request: Request) -> list[Released]:
    """The request's columns as the release carries them."""
    catalog = load()
    pseudonymised, coarse = set(request.pseudonymised), set(request.coarsened)
    out = []
    for name in request.columns:
        spec = catalog.columns[name]
        if name in pseudonymised:
            out.append(Released(spec, spec.header, "pseudonym"))
        elif name in coarse:
            out.append(Released(spec, spec.year_header or spec.header, "year"))
        elif spec.codes:
            out.append(Released(spec, spec.header, "codes"))
        else:
            kind = {"date": "date", "int": "int"}.get(spec.type, "text")
            out.append(Released(spec, spec.header, kind))
    return out


def _labels(array: pa.Array, table: str) -> pa.Array:
    """Codes -> Indonesian labels; an unknown code keeps its number as text, NULL stays NULL."""
    import pyarrow as pa
    import pyarrow.compute as pc

    labels = load().labels(table)
    codes = pc.cast(array, pa.int64())
    lookup = pa.array([labels.get(i) for i in range(max(labels) + 1)], pa.string())
    low, high = pc.min_max(codes).values()
    if low.is_valid and low.as_py() >= 0 and high.as_py() < len(lookup):
        named = pc.take(lookup, codes)
        if named.null_count == codes.null_count:
            return named
    else:
        inside = pc.and_(pc.greater_equal(codes, 0), pc.less(codes, len(lookup)))
        named = pc.take(lookup, pc.if_else(inside, codes, None))
    return pc.if_else(pc.is_null(named), pc.cast(codes, pa.string()), named)


def _dates(array: pa.Array) -> pa.Array:
    """ISO text (SQLite) or timestamps (Oracle DATE) -> dates; unreadable text becomes NULL."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return pc.cast(array, pa.date32())
    try:
        return pc.cast(array, pa.date32())
    except pa.ArrowInvalid:
        text = pc.utf8_slice_codeunits(array, 0, 10)
        stamps = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True)
        return pc.cast(stamps, pa.date32())


def conform(
    batch: pa.RecordBatch,
    columns: list[Released],
    schema: pa.Schema,
    pseudonyms: Pseudonymiser | None,
    spreadsheet: bool,
) -> pa.RecordBatch:
    """A batch from any reader, as released: labels, dates, pseudonyms, Indonesian headers;
    text made formula-safe when it goes to a spreadsheet format."""
    import pyarrow as pa

    catalog = load()
    arrays = []
    for column, array, field in zip(columns, batch.columns, schema, strict=True):
        if column.how == "pseudonym":
            if pseudonyms is None:
                raise ValueError("identifiers to pseudonymise but no Pseudonymiser")
            prefix = catalog.pseudonym_prefix[column.spec.name]
            value = pseudonyms.array(array, prefix)
        elif pa.types.is_null(array.type):
            value = pa.nulls(len(array), field.type)
        elif column.how == "codes":
            value = _labels(array, column.spec.codes)
        elif column.how == "date":
            value = _dates(array)
        else:
            value = array.cast(field.type)
        if spreadsheet and column.how in ("text", "codes"):
            value = safe_array(value)
        arrays.append(value)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


# --- sinks ----------------------------------------------------------------------------------


class CsvSink:
    """UTF-8 CSV (with BOM, so Excel reads it right), header of Indonesian column names."""

    def __init__(self, folder: Path, schema: pa.Schema, **_: Any) -> None:
        self.file = HashingFile(folder, f"{STEM}.csv")
        self.file.write(b"\xef\xbb\xbf")
        self.schema = schema
        self.rows = 0
        self._header = True

    def write(self, batch: pa.RecordBatch) -> None:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        out = pa.BufferOutputStream()
        pcsv.write_csv(batch, out, pcsv.WriteOptions(include_header=self._header))
        self._header = False
        self.file.write(out.getvalue())
        self.rows += batch.num_rows

    def commit(self) -> list[Written]:
        if self._header:
            self.write(_empty_batch(self.schema))
        return [self.file.commit(self.rows)]

    def abort(self) -> None:
        self.file.abort()


def _empty_batch(schema: pa.Schema) -> pa.RecordBatch:
    import pyarrow as pa

    return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)


class ParquetSink:
    """Parquet (zstd), one row group per batch."""

    def __init__(self, folder: Path, schema: pa.Schema, **_: Any) -> None:
        import pyarrow.parquet as pq

        self.path = folder / f"{STEM}.parquet"
        self.tmp = folder / f".{STEM}.parquet.tmp"
        self.writer = pq.ParquetWriter(self.tmp, schema, compression="zstd")
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        self.writer.write_batch(batch)
        self.rows += batch.num_rows

    def commit(self) -> list[Written]:
        self.writer.close()
        return [finish_file(self.tmp, self.path, self.rows)]

    def abort(self) -> None:
        self.writer.close()
        self.tmp.unlink(missing_ok=True)


class XlsxSink:
    """XLSX through openpyxl's write-only mode (rows go to disk as they come): a cover sheet,
    then ``Data 1``, ``Data 2``... of at most ``max_rows`` rows each, the header included."""

    def __init__(
        self,
        folder: Path,
        schema: pa.Schema,
        *,
        cover: list[tuple[str, str]],
        max_rows: int = XLSX_MAX_ROWS,
    ) -> None:
        from openpyxl import Workbook

        if max_rows < 2:
            raise ValueError("max_rows must leave room for the header and one row")
        self.path = folder / f"{STEM}.xlsx"
        self.tmp = folder / f".{STEM}.xlsx.tmp"
        self.schema = schema
        self.cover = cover
        self.max_rows = max_rows
        self.wb = Workbook(write_only=True)
        self.cover_ws = self.wb.create_sheet("Keterangan")
        self.sheets: list[tuple[str, int]] = []
        self.ws: Any = None
        self.rows = 0

    def _new_sheet(self) -> None:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        name = f"Data {len(self.sheets) + 1}"
        self.ws = self.wb.create_sheet(name)
        self.sheets.append((name, 0))
        bold = Font(bold=True)
        header = []
        for field in self.schema:
            cell = WriteOnlyCell(self.ws, value=field.name)
            cell.font = bold
            header.append(cell)
        self.ws.append(header)

    def write(self, batch: pa.RecordBatch) -> None:
        columns = [column.to_pylist() for column in batch.columns]
        rows = zip(*columns, strict=True)
        remaining = batch.num_rows
        while remaining:
            if self.ws is None or self.sheets[-1][1] >= self.max_rows - 1:
                self._new_sheet()
            name, used = self.sheets[-1]
            take = min(remaining, self.max_rows - 1 - used)
            append = self.ws.append
            for _ in range(take):
                append(next(rows))
            self.sheets[-1] = (name, used + take)
            remaining -= take
            self.rows += take

    def commit(self) -> list[Written]:
        if self.ws is None:
            self._new_sheet()
        write_cover_sheet(self.cover_ws, self.cover, self.sheets)
        self.wb.save(self.tmp)
        return [finish_file(self.tmp, self.path, self.rows)]

    def abort(self) -> None:
        self.tmp.unlink(missing_ok=True)


SINKS: dict[str, Callable[..., Any]] = {"csv": CsvSink, "parquet": ParquetSink, "xlsx": XlsxSink}


# --- the extract ----------------------------------------------------------------------------


def _readers(
    conn: Any, dialect: str, query: Any, chunk_rows: int, fast: bool
) -> Iterator[Callable[[], Iterator[pa.RecordBatch]]]:
    if fast:
        yield lambda: fast_batches(conn, dialect, query, chunk_rows)
    yield lambda: dbapi_batches(conn, query, chunk_rows)


def write_extract(
    conn: Any,
    dialect: str,
    request: Request,
    folder: Path,
    *,
    cover: list[tuple[str, str]],
    pseudonyms: Pseudonymiser | None = None,
    chunk_rows: int = CHUNK_ROWS,
    xlsx_max_rows: int = XLSX_MAX_ROWS,
    fast: bool = True,
) -> tuple[list[Written], dict[str, Any]]:
    """Stream the request's individual extract into ``folder``; return the files and a note of
    how it was read (``reader``, ``chunks``) with the k-anonymity of its quasi-identifiers."""
    import pyarrow as pa

    columns = released_columns(request)
    schema = pa.schema([pa.field(c.header, c.arrow_type) for c in columns])
    query = individual_query(request, dialect)
    quasi = [c for c in columns if c.spec.quasi_identifier]
    spreadsheet = request.format in ("csv", "xlsx")
    for attempt, reader in enumerate(_readers(conn, dialect, query, chunk_rows, fast)):
        sink = SINKS[request.format](folder, schema, cover=cover, max_rows=xlsx_max_rows)
        classes = ClassCounter([c.spec.name for c in quasi], [c.header for c in quasi], folder)
        chunks = 0
        batches = reader()
        try:
            for batch in batches:
                if batch.num_rows:
                    classes.add(batch)
                    sink.write(conform(batch, columns, schema, pseudonyms, spreadsheet))
                    chunks += 1
            files = sink.commit()
        except FastPathUnavailable:
            sink.abort()
            classes.discard()
            continue
        except BaseException:
            sink.abort()
            classes.discard()
            raise
        finally:
            batches.close()  # stops a prefetch thread and releases the reader at once
        name = "columnar" if fast and attempt == 0 else "fetchmany"
        note = {"reader": name, "chunks": chunks, "chunk_rows": chunk_rows}
        return files, {**note, "k_anonymity": classes.report(request.threshold)}
    raise AssertionError("unreachable: the DB-API reader never gives up")
