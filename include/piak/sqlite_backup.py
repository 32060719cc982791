"""The embedded engine: backing up and restoring a SQLite database as a backup set.

The copy uses SQLite's online backup API, so it is a consistent image even while the source is
being written to. Row counts per table go into the manifest, so a restore can be validated.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
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
    tables = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
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


def restore(set_dir: Path, target: Path) -> dict[str, int]:
    """Restore the set's database into ``target`` atomically; returns the restored row counts.

    The copy is built in a temporary file next to ``target`` and renamed over it only when
    complete and sound, so ``target`` is either untouched or fully restored.
    """
    set_dir, target = Path(set_dir), Path(target)
    src = _open_readonly(set_dir / DUMP_NAME)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".restore")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst, pages=-1)
            check = dst.execute("PRAGMA integrity_check").fetchone()[0]
            counts = row_counts(dst)
        finally:
            dst.close()
        if check != "ok":
            raise PiakError(f"hasil pemulihan gagal integrity_check: {check}")
        os.replace(tmp, target)
        return counts
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        src.close()
