"""Where the data comes from: a DB-API connection from an Airflow hook, or a SQLite file.

Small results (region codes, GROUP BY counts) go through the DB-API connection. Individual
extracts stream in Arrow record batches of ``chunk_rows`` rows, so memory stays flat whatever the
row count:

- SQLite: the ADBC SQLite driver reads the same file (read-only) straight into Arrow, with no
  Python object per value; if it cannot (in-memory database, driver missing, a column whose type
  its first batch guessed wrong) the extract is redone with ``cursor.fetchmany``.
- Oracle: python-oracledb's ``fetch_df_batches`` (Arrow data frames), else ``fetchmany``.
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
import threading
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from piak.core.errors import PiakError
from piak.engines.provision.sql import Query

if TYPE_CHECKING:
    import pyarrow as pa

CHUNK_ROWS = 65_536


class FastPathUnavailable(Exception):
    """The columnar reader cannot serve this query; use the DB-API path instead."""


def dialect_of(conn: Any) -> str:
    """``sqlite`` or ``oracle``, from the connection object's driver."""
    if isinstance(conn, sqlite3.Connection):
        return "sqlite"
    if type(conn).__module__.split(".")[0] == "oracledb":
        return "oracle"
    raise PiakError(f"koneksi basis data {type(conn).__name__} tidak didukung (sqlite/oracle)")


@contextlib.contextmanager
def snapshot(conn: Any, dialect: str) -> Generator[None, None, None]:
    """Run several reads on one consistent image of the database (read-only transaction)."""
    if dialect == "sqlite":
        own = not conn.in_transaction
        if own:
            conn.execute("BEGIN")
        try:
            yield
        finally:
            if own:
                conn.rollback()
        return
    conn.rollback()
    cur = conn.cursor()
    cur.execute("SET TRANSACTION READ ONLY")
    cur.close()
    try:
        yield
    finally:
        conn.rollback()


def fetch_all(conn: Any, query: Query) -> list[tuple]:
    """All rows of a small result (GROUP BY counts)."""
    cur = conn.cursor()
    try:
        cur.execute(query.sql, query.params)
        return cur.fetchall()
    finally:
        cur.close()


def sqlite_file(conn: sqlite3.Connection) -> Path | None:
    """The file behind a SQLite connection's main database (None for an in-memory one)."""
    for _, name, filename in conn.execute("PRAGMA database_list").fetchall():
        if name == "main" and filename:
            return Path(filename)
    return None


def fast_batches(
    conn: Any, dialect: str, query: Query, chunk_rows: int
) -> Iterator[pa.RecordBatch]:
    """Arrow batches from the columnar reader; raises ``FastPathUnavailable`` when there is none
    (before any batch) or when it fails on the data (the caller starts again with ``fetchmany``).
    """
    if dialect == "oracle" and hasattr(conn, "fetch_df_batches"):
        yield from _oracle_batches(conn, query, chunk_rows)
        return
    path = sqlite_file(conn) if dialect == "sqlite" else None
    if path is None:
        raise FastPathUnavailable("no columnar reader for this connection")
    try:
        import adbc_driver_manager
        import adbc_driver_sqlite
    except ImportError as exc:
        raise FastPathUnavailable("adbc_driver_sqlite missing") from exc
    # The ADBC objects live on the helper thread: reading the next batch there overlaps the
    # formatting and writing of this one.
    yield from prefetch(
        _adbc_batches(adbc_driver_manager, adbc_driver_sqlite, path, query, chunk_rows)
    )


def _adbc_batches(
    manager: Any, driver: Any, path: Path, query: Query, chunk_rows: int
) -> Iterator[pa.RecordBatch]:
    """The ADBC SQLite driver through its low-level API (its DB-API module imports pandas)."""
    import pyarrow as pa

    sql, values = query.qmark()
    with (
        driver.connect(f"{path.resolve().as_uri()}?mode=ro") as database,
        manager.AdbcConnection(database) as connection,
        manager.AdbcStatement(connection) as statement,
    ):
        statement.set_options(**{"adbc.sqlite.query.batch_rows": str(chunk_rows)})
        statement.set_sql_query(sql)
        if values:
            names = [f"p{i}" for i in range(len(values))]
            statement.bind(pa.record_batch([pa.array([v]) for v in values], names=names))
        handle, _ = statement.execute_query()
        reader = pa.RecordBatchReader._import_from_c(handle.address)
        try:
            yield from reader
        except (OSError, pa.ArrowException) as exc:
            # e.g. "Type mismatch in column 3": the driver guessed a column's type from a first
            # batch where it was all NULL
            raise FastPathUnavailable(str(exc)) from exc
        finally:
            reader.close()


def _oracle_batches(conn: Any, query: Query, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa

    frames = conn.fetch_df_batches(query.sql, parameters=query.params, size=chunk_rows)
    first = True
    for frame in frames:
        try:
            table = pa.table(frame)  # the Arrow PyCapsule interface of OracleDataFrame
        except (TypeError, AttributeError, NotImplementedError) as exc:
            if not first:
                raise
            raise FastPathUnavailable(f"Oracle data frame not readable as Arrow: {exc}") from exc
        first = False
        yield from table.to_batches()


def dbapi_batches(conn: Any, query: Query, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    """Arrow batches from plain DB-API ``fetchmany`` (any driver; slower, same memory bound)."""
    import pyarrow as pa

    cur = conn.cursor()
    try:
        cur.arraysize = chunk_rows
        cur.execute(query.sql, query.params)
        names = [d[0] for d in cur.description]
        while rows := cur.fetchmany(chunk_rows):
            columns = zip(*rows, strict=True)
            yield pa.RecordBatch.from_arrays([pa.array(c) for c in columns], names=names)
    finally:
        cur.close()


def prefetch(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """Run ``items`` on a helper thread at most ``depth`` items ahead of the caller.

    The database read of the next batch (C code, no GIL) then overlaps the formatting and writing
    of the current one; memory stays bounded by ``depth``. Exceptions reach the caller in order;
    a caller that stops early stops the helper and closes ``items`` there.
    """
    slots: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(kind: str, value: Any) -> bool:
        while not stop.is_set():
            try:
                slots.put((kind, value), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put("item", item):
                    break
            else:
                put("done", None)
        except BaseException as exc:  # handed to the caller
            put("error", exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="piak-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = slots.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        thread.join()
