"""The embedded engine: backing up and restoring a SQLite database as a backup set.

Backup: SQLite's online backup API inside one read transaction of the source, so the copy and the
row counts recorded in the manifest are the same consistent image even while the source is being
written to. The dump is kept in rollback-journal mode: a single self-contained file.

Restore: into a database that may be open in an application (WAL or not), through SQLite itself -
the backup API for a whole database, one transaction for some tables - never by replacing the
file under a connection (which corrupts a WAL database). A target locked by a writer is waited for
a bounded time, then refused. After every restore the target is integrity-checked and its row
counts compared with the manifest.

Encrypted sets (``recipients`` given, the default of the nightly backup): the dump is made in an
owner-only temporary folder, encrypted to ``database.sqlite3.age`` in the set and removed; a
restore or a full verification decrypts it into such a folder, checks it against the manifest
and removes it (:mod:`piak.engines.encryption`).

Paths are data: every SQLite URI is built with percent-encoding, so ``#``, ``?``, ``%``, spaces
and non-ASCII names open the file they name and nothing else.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Generator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from piak.core.errors import PiakError
from piak.engines import backupset, encryption

log = logging.getLogger(__name__)
ENGINE = "sqlite"
DUMP_NAME = "database.sqlite3"
SEALED_NAME = DUMP_NAME + ".age"
#: Pages copied per step of a restore (64 MiB at 16 KiB pages): progress and busy checks between.
STEP_PAGES = 4096
BUSY_WAIT_SECONDS = 60.0


class TargetBusy(PiakError):
    """The restore target stayed locked by another writer longer than the bounded wait."""


def sqlite_uri(path: Path, **params: str | int) -> str:
    """``file:`` URI of ``path`` with every special character percent-encoded."""
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"file:{quote(str(Path(path).absolute()), safe='/')}" + (f"?{query}" if query else "")


def open_readonly(path: Path, *, immutable: bool = False) -> sqlite3.Connection:
    """A read-only connection to an existing database (``immutable``: a file nobody writes, such
    as a set's dump, read without locks or side files)."""
    if not Path(path).is_file():
        raise PiakError(f"basis data SQLite tidak ditemukan: {path}")
    params = {"mode": "ro", **({"immutable": 1} if immutable else {})}
    conn = sqlite3.connect(sqlite_uri(path, **params), uri=True)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise PiakError(f"{path} bukan basis data SQLite: {exc}") from None
    return conn


def row_counts(conn: sqlite3.Connection, schema: str = "main") -> dict[str, int]:
    """Rows per user table (identifiers come from sqlite_master, quoted)."""
    return {
        t: conn.execute(f"SELECT count(*) FROM {schema}.{_quoted(t)}").fetchone()[0]
        for t in sorted(_user_tables(conn, schema))
    }


def backup(
    source: Path,
    backup_dir: Path,
    set_name: str,
    *,
    database: str,
    recipients: Sequence[str] | None = None,
) -> Path:
    """Back up ``source`` into ``backup_dir/set_name`` and return the finished set folder;
    encrypted to ``recipients`` (age public keys) when given."""
    backupset.validate_set_name(set_name)
    source, backup_dir = Path(source), Path(backup_dir)
    if (backup_dir / set_name).exists():
        raise PiakError(f"set {set_name} sudah ada di {backup_dir}")
    keys = [encryption.recipient(r) for r in recipients or ()]
    src = open_readonly(source)
    backup_dir.mkdir(parents=True, exist_ok=True)
    work = backupset.start_set(backup_dir, set_name)
    plain_dir = encryption.private_workdir(backup_dir) if keys else work
    started = datetime.now(UTC)
    try:
        dst = sqlite3.connect(plain_dir / DUMP_NAME)
        try:
            # One read transaction: the counts and the copy see the same snapshot while others
            # write. One backup step, so the copy never restarts because the source changed.
            src.execute("BEGIN")
            counts = row_counts(src)
            src.backup(dst, pages=-1)
            src.rollback()
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
        if keys:
            sealed = encryption.encrypt_file(plain_dir / DUMP_NAME, work / SEALED_NAME, keys)
            files = [
                backupset.FileEntry(
                    SEALED_NAME, sealed.size, sealed.sha256, sealed.plain_size, sealed.plain_sha256
                )
            ]
            extra: dict[str, object] = {
                "encryption": {"scheme": encryption.SCHEME, "recipients": list(recipients)}
            }
        else:
            files, extra = backupset.describe_files(work, [DUMP_NAME]), {}
        if not any(counts.values()):
            log.warning("Basis data sumber %s KOSONG (%d tabel, 0 baris)", source, len(counts))
            extra["source_empty"] = True
        manifest = backupset.Manifest(
            set_name=set_name,
            database=database,
            engine=ENGINE,
            tool=f"SQLite online backup API (SQLite {sqlite3.sqlite_version})",
            started_at=started.isoformat(),
            finished_at=datetime.now(UTC).isoformat(),
            files=files,
            schemas=["main"],
            row_counts=counts,
            extra=extra,
        )
        return backupset.finish_set(work, manifest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        src.close()
        if keys:
            shutil.rmtree(plain_dir, ignore_errors=True)


@contextlib.contextmanager
def plain_dump(
    set_dir: Path, identities: Sequence[Any] = (), near: Path | None = None
) -> Generator[Path]:
    """The set's database as a plain file for as long as the block runs: the set's own dump, or
    the encrypted one opened (and checked against the manifest) in an owner-only temporary folder
    ``near`` the place it is needed, removed afterwards."""
    set_dir = Path(set_dir)
    manifest = backupset.load_manifest(set_dir)
    sealed = next((f for f in manifest.files if f.name == SEALED_NAME), None)
    if sealed is None:
        yield set_dir / DUMP_NAME
        return
    folder = encryption.private_workdir(near or set_dir.parent)
    try:
        yield encryption.decrypt_file(
            set_dir / SEALED_NAME,
            folder / DUMP_NAME,
            identities,
            plain_sha256=sealed.plain_sha256,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def content_problems(
    set_dir: Path, manifest: backupset.Manifest, identities: Sequence[Any] = ()
) -> list[str]:
    """The dump's tables and rows against the counts recorded from the source."""
    try:
        with plain_dump(set_dir, identities) as dump:
            conn = open_readonly(dump, immutable=True)
            try:
                found = row_counts(conn)
            except sqlite3.DatabaseError as exc:
                return [f"{DUMP_NAME} tidak terbaca: {exc}"]
            finally:
                conn.close()
    except PiakError as exc:
        return [str(exc)]
    return [
        f"tabel {table}: {found.get(table)} baris di set, {expected} tercatat dari sumber"
        for table, expected in sorted(manifest.row_counts.items())
        if found.get(table) != expected
    ] + [
        f"tabel {t} ada di set tetapi tidak di manifest"
        for t in sorted(set(found) - set(manifest.row_counts))
    ]


def integrity_check(set_dir: Path, identities: Sequence[Any] = ()) -> str:
    """``PRAGMA integrity_check`` of the set's database file: ``ok`` when sound."""
    with plain_dump(set_dir, identities) as dump:
        conn = open_readonly(dump, immutable=True)
        try:
            return conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()


def restore(
    set_dir: Path,
    target: Path,
    *,
    tables: Sequence[str] | None = None,
    busy_wait: float = BUSY_WAIT_SECONDS,
    identities: Sequence[Any] = (),
) -> dict[str, int]:
    """Restore the set's database (or only ``tables``) into ``target``; returns the restored row
    counts, checked against the manifest.

    A new target is built under a temporary name and renamed into place. An existing one - which
    an application may have open - is written through SQLite in one transaction: a killed
    restore rolls back and leaves it as it was; readers keep their snapshot, then see the
    restored data; a writer holding it longer than ``busy_wait`` seconds makes the restore
    refuse (:class:`TargetBusy`) without changing anything.
    """
    set_dir, target = Path(set_dir), Path(target)
    manifest = backupset.load_manifest(set_dir)
    with plain_dump(set_dir, identities, near=target.parent) as dump:
        _restore(dump, target, tables, busy_wait)
    return check_restored(target, manifest, tables)


def _restore(dump: Path, target: Path, tables: Sequence[str] | None, busy_wait: float) -> None:
    src = open_readonly(dump, immutable=True)
    try:
        if tables:
            _replace_tables(target, dump, list(tables), busy_wait)
        elif target.exists():
            try:
                _copy_into(src, target, busy_wait)
            except sqlite3.DatabaseError as exc:
                if "not a database" not in str(exc) and "malformed" not in str(exc):
                    raise
                log.warning("Basis data tujuan %s rusak (%s): berkasnya diganti utuh", target, exc)
                _create(src, target, replace_damaged=True)
        else:
            _create(src, target)
    finally:
        src.close()


def check_restored(
    target: Path, manifest: backupset.Manifest, tables: Sequence[str] | None = None
) -> dict[str, int]:
    """Integrity check of ``target`` and its rows of ``tables`` (default: all) against the
    manifest; raises naming what differs."""
    conn = open_readonly(target)
    try:
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise PiakError(f"hasil pemulihan {target} gagal pemeriksaan integritas: {check}")
        wanted = list(tables or manifest.row_counts)
        present = set(_user_tables(conn))
        counts = {
            t: conn.execute(f"SELECT count(*) FROM {_quoted(t)}").fetchone()[0]
            for t in wanted
            if t in present
        }
    finally:
        conn.close()
    wrong = [
        f"{t}: {counts.get(t)} bukan {manifest.row_counts.get(t)}"
        for t in wanted
        if counts.get(t) != manifest.row_counts.get(t)
    ]
    if wrong:
        raise PiakError(f"jumlah baris hasil pemulihan berbeda dengan manifest: {', '.join(wrong)}")
    return counts


def _create(src: sqlite3.Connection, target: Path, *, replace_damaged: bool = False) -> None:
    """A target that does not exist yet (or is no database any more): built next to it and
    renamed into place when complete; a damaged target's stale journal and WAL go with it."""
    tmp = _temporary(target)
    try:
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst, pages=-1)
        finally:
            dst.close()
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        if replace_damaged:
            for suffix in ("-wal", "-shm", "-journal"):
                target.with_name(target.name + suffix).unlink(missing_ok=True)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _temporary(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".restore")
    os.close(fd)
    return Path(name)


def _copy_into(src: sqlite3.Connection, target: Path, busy_wait: float) -> None:
    """The whole database into an existing (possibly open) ``target``: SQLite's backup API, one
    write transaction on the target."""
    dst = sqlite3.connect(sqlite_uri(target, mode="rw"), uri=True, timeout=1)
    try:
        source = src
        wal = dst.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
        page_size = dst.execute("PRAGMA page_size").fetchone()[0]
        resized = None
        if wal and src.execute("PRAGMA page_size").fetchone()[0] != page_size:
            resized = _with_page_size(src, page_size, target)  # WAL keeps its page size
            source = sqlite3.connect(resized)
        try:
            source.backup(dst, pages=STEP_PAGES, progress=_progress(target, busy_wait), sleep=0.1)
        finally:
            if resized:
                source.close()
                resized.unlink(missing_ok=True)
    finally:
        dst.close()


def _with_page_size(src: sqlite3.Connection, page_size: int, target: Path) -> Path:
    """A temporary copy of ``src`` with ``page_size`` (a WAL target cannot change its own)."""
    path = _temporary(target)
    try:
        copy = sqlite3.connect(path)
        src.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")
        copy.execute(f"PRAGMA page_size={int(page_size)}")
        copy.execute("VACUUM")
        copy.close()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _progress(target: Path, busy_wait: float):
    deadline = time.monotonic() + busy_wait
    said = [0]

    def progress(status: int, remaining: int, total: int) -> None:
        if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            if time.monotonic() > deadline:
                raise TargetBusy(
                    f"basis data tujuan {target} sedang dipakai (dikunci untuk menulis) lebih "
                    f"dari {busy_wait:.0f} detik: tidak ada yang diubah; hentikan penulisnya "
                    "lalu ulangi"
                )
            return
        restored_pages(total - remaining, total, said)

    return progress


def restored_pages(done: int, total: int, said: list[int]) -> None:
    """Log the restore's progress every tenth of the database."""
    tenth = (10 * done) // max(total, 1)
    if tenth > said[0]:
        said[0] = tenth
        log.info("Pemulihan: %d dari %d halaman (%d%%)", done, total, 10 * tenth)


def _replace_tables(target: Path, source: Path, tables: list[str], busy_wait: float) -> None:
    """Drop ``tables`` in ``target`` and copy them (with their indexes) from ``source``, in one
    transaction of the target itself (other tables and other writers' work are untouched). A
    target that does not exist yet is built under a temporary name and renamed into place."""
    if target.exists():
        _replace_tables_in(target, source, tables, busy_wait)
        return
    tmp = _temporary(target)
    try:
        _replace_tables_in(tmp, source, tables, busy_wait)
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _replace_tables_in(target: Path, source: Path, tables: list[str], busy_wait: float) -> None:
    dst = sqlite3.connect(
        sqlite_uri(target, mode="rw"), uri=True, timeout=busy_wait, isolation_level=None
    )
    try:
        dst.execute("ATTACH DATABASE ? AS src", (sqlite_uri(source, mode="ro", immutable=1),))
        try:
            dst.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise TargetBusy(
                f"basis data tujuan {target} sedang dipakai (dikunci untuk menulis): {exc}; "
                "tidak ada yang diubah"
            ) from None
        try:
            for table in tables:
                _replace_table(dst, table)
            dst.execute("COMMIT")
        except BaseException:
            dst.execute("ROLLBACK")
            raise
    finally:
        dst.close()


def _replace_table(dst: sqlite3.Connection, table: str) -> None:
    ddl = dst.execute(
        "SELECT type, sql FROM src.sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL "
        "AND type IN ('table', 'index') ORDER BY type = 'index'",
        (table,),
    ).fetchall()
    if not ddl or ddl[0][0] != "table":
        raise PiakError(f"tabel {table} tidak ada di set cadangan")
    quoted = _quoted(table)
    dst.execute(f"DROP TABLE IF EXISTS main.{quoted}")
    for _, sql in ddl:
        dst.execute(sql)
    dst.execute(f"INSERT INTO main.{quoted} SELECT * FROM src.{quoted}")


def count_rows(database: Path, tables: Sequence[str]) -> dict[str, int | None]:
    """Rows per table of ``database`` (a missing table counts as None)."""
    conn = open_readonly(Path(database))
    try:
        present = set(_user_tables(conn))
        return {
            t: conn.execute(f"SELECT count(*) FROM {_quoted(t)}").fetchone()[0]
            if t in present
            else None
            for t in tables
        }
    finally:
        conn.close()


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _user_tables(conn: sqlite3.Connection, schema: str = "main") -> list[str]:
    return [
        name
        for (name,) in conn.execute(
            f"SELECT name FROM {schema}.sqlite_master "
            "WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
