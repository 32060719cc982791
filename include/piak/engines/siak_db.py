"""The SIAK database: a DB-API connection through its Airflow Connection's hook (SQLite on the
embedded default, Oracle in production), or a SQLite file for the command line. Every SOP that
reads or changes SIAK opens it here."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from piak.core.errors import PiakError


def connect(conn_id: str) -> Any:
    """A DB-API connection for Airflow Connection ``conn_id`` through its hook (SQLite on the
    embedded default, Oracle in production). The caller closes it."""
    from airflow.sdk import BaseHook

    conn_type = BaseHook.get_connection(conn_id).conn_type
    if conn_type == "sqlite":
        from airflow.providers.sqlite.hooks.sqlite import SqliteHook

        return SqliteHook(sqlite_conn_id=conn_id).get_conn()
    if conn_type == "oracle":
        from airflow.providers.oracle.hooks.oracle import OracleHook

        return OracleHook(oracle_conn_id=conn_id).get_conn()
    raise PiakError(f"Connection {conn_id}: jenis {conn_type!r} tidak didukung (sqlite/oracle)")


def connect_sqlite(path: str | Path) -> sqlite3.Connection:
    """A read-only connection to the SQLite database file ``path`` (the CLI's ``--sqlite``)."""
    path = Path(path)
    if not path.is_file():
        raise PiakError(f"basis data SQLite tidak ditemukan: {path}")
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
