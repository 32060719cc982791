"""The embedded engine: backing up and restoring a SQLite database as a backup set.

The copy uses SQLite's online backup API, so it is a consistent image even while the source is
being written to. Row counts per table go into the manifest, so a restore can be validated.
"""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from piak import backupset
from piak.errors import PiakError

ENGINE = "sqlite"
DUMP_NAME = "database.sqlite3"


def _open_readonly(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise PiakError(f"basis data SQLite tidak ditemukan: {path}")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise PiakError(f"{path} bukan basis data SQLite: {exc}") from None
    return conn


def row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows per user table (identifiers come from sqlite_master, quoted)."""
    tables = sorted(_user_tables(conn))
    return {
        t: conn.execute(f'SELECT count(*) FROM "{t.replace(chr(34), "")}"').fetchone()[0]
        for t in tables
    }


def backup(source: Path, backup_dir: Path, set_name: str, *, database: str) -> Path:
    """Back up ``source`` into ``backup_dir/set_name`` and return the finished set folder."""
    backupset.validate_set_name(set_name)
    source, backup_dir = Path(source), Path(backup_dir)
    if (backup_dir / set_name).exists():
        raise PiakError(f"set {set_name} sudah ada di {backup_dir}")
    src = _open_readonly(source)
    backup_dir.mkdir(parents=True, exist_ok=True)
    work = backupset.start_set(backup_dir, set_name)
    started = datetime.now(UTC)
    try:
        dst = sqlite3.connect(work / DUMP_NAME)
        try:
            # One step: a single read transaction, so the copy is one consistent image even
            # while others write (stepwise copying would restart, and sleeps between steps).
            src.backup(dst, pages=-1)
            counts = row_counts(dst)
        finally:
            dst.close()
        finished = datetime.now(UTC)
        manifest = backupset.Manifest(
            set_name=set_name,
            database=database,
            engine=ENGINE,
            tool=f"SQLite online backup API (SQLite {sqlite3.sqlite_version})",
            started_at=started.isoformat(),
            finished_at=finished.isoformat(),
            files=backupset.describe_files(work, [DUMP_NAME]),
            schemas=["main"],
            row_counts=counts,
        )
        return backupset.finish_set(work, manifest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        src.close()


def integrity_check(set_dir: Path) -> str:
    """``PRAGMA integrity_check`` of the set's database file (read-only): ``ok`` when sound."""
    conn = _open_readonly(Path(set_dir) / DUMP_NAME)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def restore(set_dir: Path, target: Path, *, tables: Sequence[str] | None = None) -> dict[str, int]:
    """Restore the set's database (or only ``tables``) into ``target`` atomically; returns the
    restored row counts.

    The result is built in a temporary file next to ``target`` and renamed over it only when
    complete and sound, so ``target`` is either untouched or fully restored. Restoring some
    tables starts from a copy of the current ``target`` and replaces just those tables.
    """
    set_dir, target = Path(set_dir), Path(target)
    src = _open_readonly(set_dir / DUMP_NAME)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*.restore"):
        stale.unlink()  # left by a restore that was killed; recoveries run one at a time
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".restore")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        dst = sqlite3.connect(tmp)
        try:
            if tables:
                if target.exists():
                    current = _open_readonly(target)
                    current.backup(dst, pages=-1)
                    current.close()
                counts = _replace_tables(dst, set_dir / DUMP_NAME, list(tables))
            else:
                src.backup(dst, pages=-1)
                counts = row_counts(dst)
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            dst.close()
        if check != "ok":
            raise PiakError(f"hasil pemulihan gagal quick_check: {check}")
        _fsync(tmp)
        os.replace(tmp, target)
        return counts
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        src.close()


def _replace_tables(dst: sqlite3.Connection, source: Path, tables: list[str]) -> dict[str, int]:
    """Drop ``tables`` in ``dst`` and copy them (with their indexes) from ``source``."""
    dst.execute("ATTACH DATABASE ? AS src", (f"file:{source}?mode=ro",))
    counts = {}
    with dst:
        for table in tables:
            ddl = dst.execute(
                "SELECT type, sql FROM src.sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL "
                "ORDER BY type = 'index'",
                (table,),
            ).fetchall()
            if not ddl or ddl[0][0] != "table":
                raise PiakError(f"tabel {table} tidak ada di set cadangan")
            quoted = '"' + table.replace('"', "") + '"'
            dst.execute(f"DROP TABLE IF EXISTS main.{quoted}")
            for _, sql in ddl:
                dst.execute(sql)
            dst.execute(f"INSERT INTO main.{quoted} SELECT * FROM src.{quoted}")
            counts[table] = dst.execute(f"SELECT count(*) FROM main.{quoted}").fetchone()[0]
    dst.execute("DETACH DATABASE src")
    return counts


def count_rows(database: Path, tables: Sequence[str]) -> dict[str, int]:
    """Rows per table of ``database`` (a missing table counts as None)."""
    conn = _open_readonly(Path(database))
    try:
        present = set(_user_tables(conn))
        return {
            t: conn.execute(f'SELECT count(*) FROM "{t.replace(chr(34), "")}"').fetchone()[0]
            if t in present
            else None
            for t in tables
        }
    finally:
        conn.close()


def _user_tables(conn: sqlite3.Connection) -> list[str]:
    return [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        )
    ]


def _fsync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())
