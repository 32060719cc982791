"""Backups and restores under real-life conditions on the embedded engine: a production database
open in WAL mode while it is restored, a writer that holds it, a damaged target, folders whose
names hold ``#``, ``?``, ``%``, spaces and non-ASCII, and manifests handed back by an adversary
(re-signed with a valid checksum, so only the checks of their contents can catch them)."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path

import pytest
from backup_helpers import piak_cli

from piak.core.errors import PiakError
from piak.engines import backupset, demo_db, offsite, sqlite_backup

ROOT = Path(__file__).resolve().parents[1]
SET = "siak_20261124T2300"
ODD = "arsip #1 ?v=2 100% é"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("src") / "siak.db"
    demo_db.generate(path, residents=800, seed=11)
    return path


@pytest.fixture
def set_dir(source, tmp_path) -> Path:
    return sqlite_backup.backup(source, tmp_path / "backups", SET, database="siak")


def live_copy(source: Path, path: Path, *, page_size: int | None = None) -> sqlite3.Connection:
    """A production database in WAL mode with an application's connection open on it, which
    has changed it since the backup (so a restore has something to undo)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    app = sqlite3.connect(path, check_same_thread=False)
    if page_size:
        app.execute(f"PRAGMA page_size={page_size}")
    sqlite3.connect(source).backup(app)
    app.execute("PRAGMA journal_mode=WAL")
    app.execute("DELETE FROM BIODATA_WNI WHERE rowid % 2 = 0")
    app.commit()
    return app


def rows(conn: sqlite3.Connection, table: str = "BIODATA_WNI") -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# -- restore into a database in use ----------------------------------------------------------


@pytest.mark.parametrize("page_size", [None, 8192])
def test_restore_into_an_open_wal_database_keeps_it_sound(source, set_dir, tmp_path, page_size):
    target = tmp_path / "prod" / "siak.db"
    app = live_copy(source, target, page_size=page_size)
    reader = sqlite3.connect(target)
    reader.execute("BEGIN")
    before = rows(reader)  # a reader in the middle of a transaction keeps its snapshot

    counts = sqlite_backup.restore(set_dir, target)

    assert counts["BIODATA_WNI"] == 800
    assert rows(reader) == before
    reader.rollback()
    for conn in (app, reader, sqlite3.connect(target)):
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert rows(conn) == 800
    assert app.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    app.execute("INSERT INTO SETUP_PROP (NO_PROP, NAMA_PROP) VALUES (98, 'UJI')")
    app.commit()  # the application keeps working on the restored database
    assert rows(sqlite3.connect(target), "SETUP_PROP") == 2


def test_restoring_some_tables_into_an_open_database_keeps_the_others_work(
    source, set_dir, tmp_path
):
    target = tmp_path / "prod" / "siak.db"
    app = live_copy(source, target)
    app.execute("INSERT INTO SETUP_PROP (NO_PROP, NAMA_PROP) VALUES (98, 'BARU')")
    app.commit()

    sqlite_backup.restore(set_dir, target, tables=["BIODATA_WNI"])

    assert rows(app) == 800
    assert rows(app, "SETUP_PROP") == 2  # written after the backup, outside the restored table
    assert app.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_target_held_by_a_writer_is_refused_and_left_unchanged(source, set_dir, tmp_path):
    target = tmp_path / "prod" / "siak.db"
    app = live_copy(source, target)
    before = rows(app)
    app.execute("BEGIN IMMEDIATE")
    app.execute("DELETE FROM SETUP_PROP")
    for tables in (None, ["BIODATA_WNI"]):
        with pytest.raises(sqlite_backup.TargetBusy, match="sedang dipakai"):
            sqlite_backup.restore(set_dir, target, tables=tables, busy_wait=1)
    app.rollback()
    assert rows(app) == before
    assert rows(app, "SETUP_PROP") == 1


def test_a_writer_that_finishes_within_the_wait_is_waited_for(source, set_dir, tmp_path):
    target = tmp_path / "prod" / "siak.db"
    app = live_copy(source, target)
    app.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.5, app.rollback)
    release.start()
    sqlite_backup.restore(set_dir, target, busy_wait=20)
    release.join()
    assert rows(app) == 800


def test_a_damaged_target_is_replaced_with_its_stale_wal(source, set_dir, tmp_path):
    target = tmp_path / "prod" / "siak.db"
    live_copy(source, target).close()
    target.write_bytes(b"bukan basis data " * 500)
    target.with_name("siak.db-wal").write_bytes(b"sisa WAL lama" * 100)
    assert sqlite_backup.restore(set_dir, target)["BIODATA_WNI"] == 800
    assert not target.with_name("siak.db-wal").exists()
    assert rows(sqlite3.connect(target)) == 800


# -- paths are data ----------------------------------------------------------------------------


def test_odd_folder_names_back_up_restore_and_verify_the_real_database(source, tmp_path):
    odd = tmp_path / ODD
    odd.mkdir()
    database = odd / "siak #prod?.db"
    database.write_bytes(source.read_bytes())
    (tmp_path / "arsip #1").mkdir()  # what the name would mean if '#' cut the URI short

    folder = sqlite_backup.backup(database, odd / "backups ?x", SET, database="siak")

    manifest = backupset.load_manifest(folder)
    assert manifest.row_counts["BIODATA_WNI"] == 800
    assert backupset.verify_set(folder).ok
    restored = odd / "pulih %20 é.db"
    assert sqlite_backup.restore(folder, restored)["BIODATA_WNI"] == 800
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arsip #1", ODD]


def test_the_command_line_takes_odd_paths_as_data(source, tmp_path):
    odd = tmp_path / ODD
    odd.mkdir()
    database = odd / "siak.db"
    database.write_bytes(source.read_bytes())
    done = piak_cli("backup", "--sqlite", str(database), "--dest", str(odd / "b #"), "--no-encrypt")
    assert done.returncode == 0, done.stderr
    folder = Path(done.stdout.strip())
    verified = piak_cli("verify-backup", str(folder))
    assert verified.returncode == 0, verified.stderr


# -- what a set holds must be what the source held ---------------------------------------------


def resign(set_dir: Path, change) -> None:
    """Edit the manifest and give it a valid checksum again, as an adversary can."""
    data = json.loads((set_dir / "manifest.json").read_text())
    data.pop("manifest_sha256")
    change(data)
    data["manifest_sha256"] = backupset._digest(data)
    (set_dir / "manifest.json").write_text(json.dumps(data))


def redescribe(set_dir: Path) -> None:
    """After swapping a dump file: its new size and SHA-256 into a re-signed manifest."""
    entry = backupset.describe_files(set_dir, ["database.sqlite3"])[0]
    resign(set_dir, lambda d: d.update(files=[entry.as_dict()]))


def test_a_set_whose_dump_lost_rows_does_not_verify(set_dir):
    with sqlite3.connect(set_dir / "database.sqlite3") as conn:
        conn.execute("DELETE FROM BIODATA_WNI WHERE rowid <= 10")
    redescribe(set_dir)
    problems = "; ".join(backupset.verify_set(set_dir).problems)
    assert "tabel BIODATA_WNI: 790 baris di set, 800 tercatat dari sumber" in problems


def test_an_empty_dump_in_place_of_the_database_does_not_verify(set_dir):
    (set_dir / "database.sqlite3").unlink()
    sqlite3.connect(set_dir / "database.sqlite3").close()
    resign(set_dir, lambda d: d.update(row_counts={}))
    redescribe(set_dir)
    check = backupset.verify_set(set_dir)
    assert not check.ok
    assert "tanpa baris data padahal sumbernya tidak tercatat kosong" in check.problems[0]
    assert piak_cli("verify-backup", str(set_dir)).returncode == 1


def test_an_empty_source_is_backed_up_as_explicitly_empty(tmp_path):
    empty = tmp_path / "kosong.db"
    with sqlite3.connect(empty) as conn:
        conn.execute("CREATE TABLE BIODATA_WNI (NIK TEXT)")
    folder = sqlite_backup.backup(empty, tmp_path / "b", SET, database="kosong")
    manifest = backupset.load_manifest(folder)
    assert manifest.extra == {"source_empty": True}
    assert manifest.row_counts == {"BIODATA_WNI": 0}
    assert backupset.verify_set(folder).ok


def test_a_missing_source_is_refused_and_no_database_is_created(tmp_path):
    missing = tmp_path / "a#b" / "siak.db"
    with pytest.raises(PiakError, match="tidak ditemukan"):
        sqlite_backup.backup(missing, tmp_path / "b", SET, database="siak")
    assert not missing.exists() and not (tmp_path / "a").exists()


# -- manifests are checked, not trusted ---------------------------------------------------------

ATTACKS = {
    "parent": "../kabur.txt",
    "absolute": "/etc/passwd",
    "subfolder": "sub/x.dmp",
    "hidden": ".database.sqlite3",
    "backslash": "..\\kabur.txt",
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_manifest_entries_outside_the_set_are_refused_everywhere(set_dir, tmp_path, attack):
    name = ATTACKS[attack]
    entry = {"name": name, "size": 5, "sha256": "0" * 64}
    resign(set_dir, lambda d: d["files"].append(entry))
    problems = "; ".join(backupset.verify_set(set_dir).problems)
    assert f"nama berkas {name!r} tidak sah" in problems
    dest = tmp_path / "flashdisk"
    with pytest.raises(PiakError, match="tidak sah"):
        offsite.copy_set(set_dir, offsite.LocalTarget(dest))
    with pytest.raises(PiakError, match="tidak sah"):
        sqlite_backup.restore(set_dir, tmp_path / "pulih.db")
    assert not (tmp_path / "kabur.txt").exists() and not (tmp_path / "pulih.db").exists()
    done = piak_cli("copy-backup", str(set_dir), str(dest))
    assert done.returncode != 0 and "tidak sah" in done.stderr


def test_a_manifest_naming_another_set_is_refused(set_dir, tmp_path):
    resign(set_dir, lambda d: d.update(set="../../kabur_20261124T2300"))
    assert "nama set di manifest.json tidak sah" in backupset.verify_set(set_dir).problems[0]
    done = piak_cli("copy-backup", str(set_dir), str(tmp_path / "disk"))
    assert done.returncode != 0
    assert not list(tmp_path.rglob("kabur*"))
    resign(set_dir, lambda d: d.update(set="siak_20261101T2300"))
    assert "milik set siak_20261101T2300" in backupset.verify_set(set_dir).problems[0]


def test_symlinked_files_are_refused(set_dir, tmp_path):
    outside = tmp_path / "rahasia.db"
    os.replace(set_dir / "database.sqlite3", outside)
    (set_dir / "database.sqlite3").symlink_to(outside)
    assert "symlink" in "; ".join(backupset.verify_set(set_dir).problems)


def test_a_copy_folder_that_is_a_symlink_out_of_the_disk_is_refused(set_dir, tmp_path):
    disk = tmp_path / "flashdisk"
    disk.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (disk / SET).symlink_to(elsewhere)
    with pytest.raises(PiakError, match="ke luar folder target"):
        offsite.copy_set(set_dir, offsite.LocalTarget(disk))
    assert list(elsewhere.iterdir()) == []


def test_an_offsite_copy_is_checked_against_the_source_manifest(set_dir, tmp_path):
    disk = offsite.LocalTarget(tmp_path / "flashdisk")
    offsite.copy_set(set_dir, disk)
    source = backupset.load_manifest(set_dir)
    assert offsite.verify_copy(disk, SET, source) == []

    copy = tmp_path / "flashdisk" / SET
    with sqlite3.connect(copy / "database.sqlite3") as conn:
        conn.execute("DELETE FROM BIODATA_WNI")
    redescribe(copy)  # the copy's own manifest now agrees with the changed copy
    assert offsite.verify_copy(disk, SET) == []  # what trusting the copy's manifest would say
    problems = offsite.verify_copy(disk, SET, source)
    assert any("berbeda dengan manifest sumber" in p for p in problems)
    assert any("database.sqlite3 rusak" in p for p in problems)
    digest_only = offsite.verify_copy(disk, SET, expected_digest=source.digest)
    assert any("berbeda dengan manifest sumber" in p for p in digest_only)
