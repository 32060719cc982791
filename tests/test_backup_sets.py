"""Backup sets on the embedded engine: SQLite backup, manifest checks, verified copies,
retention policy and the administrators' command line."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from backup_helpers import piak_cli

from piak.core.errors import PiakError
from piak.engines import backup_config, backupset, demo_db, offsite, sqlite_backup
from piak.sops import backup

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("src") / "siak.db"
    demo_db.generate(path, residents=1500, seed=5)
    return path


@pytest.fixture
def set_dir(source, tmp_path) -> Path:
    return sqlite_backup.backup(source, tmp_path / "backups", "siak_20261124T2300", database="siak")


def test_backup_makes_a_complete_set_with_row_counts(source, set_dir):
    manifest = backupset.load_manifest(set_dir)
    assert sorted(p.name for p in set_dir.iterdir()) == ["database.sqlite3", "manifest.json"]
    conn = sqlite3.connect(source)
    assert manifest.row_counts["BIODATA_WNI"] == 1500
    assert (
        manifest.row_counts["DATA_KELUARGA"]
        == conn.execute("SELECT count(*) FROM DATA_KELUARGA").fetchone()[0]
    )
    assert manifest.files[0].size == (set_dir / "database.sqlite3").stat().st_size
    assert backupset.verify_set(set_dir).ok
    assert not list(set_dir.parent.glob(".*partial"))


def test_backup_is_consistent_while_the_source_is_written(source, tmp_path):
    live = tmp_path / "live.db"
    live.write_bytes(source.read_bytes())
    writer = sqlite3.connect(live)
    writer.execute("CREATE TABLE LOG_AKTIVITAS (ID INTEGER PRIMARY KEY, ISI TEXT)")
    writer.executemany("INSERT INTO LOG_AKTIVITAS (ISI) VALUES (?)", [("x",)] * 100)
    writer.commit()
    writer.execute("BEGIN")
    writer.execute("INSERT INTO LOG_AKTIVITAS (ISI) VALUES ('belum di-commit')")
    folder = sqlite_backup.backup(live, tmp_path / "b", "live_20261124T2300", database="live")
    writer.rollback()
    assert backupset.load_manifest(folder).row_counts["LOG_AKTIVITAS"] == 100


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda d: _flip_byte(d / "database.sqlite3"), "SHA-256 berbeda"),
        (lambda d: _truncate(d / "database.sqlite3"), "ukuran"),
        (lambda d: (d / "database.sqlite3").unlink(), "hilang"),
        (lambda d: (d / "catatan.txt").write_text("x"), "berkas tambahan catatan.txt"),
        (lambda d: _edit_manifest(d), "checksum manifest.json tidak cocok"),
        (lambda d: (d / "manifest.json").write_text("{bukan json"), "tidak terbaca"),
        (lambda d: (d / "manifest.json").unlink(), "bukan set cadangan"),
    ],
)
def test_damaged_sets_are_reported_exactly(set_dir, damage, expected):
    damage(set_dir)
    check = backupset.verify_set(set_dir)
    assert not check.ok
    assert expected in "; ".join(check.problems)
    with pytest.raises(PiakError, match="rusak"):
        check.raise_for_problems()


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size - 100)


def _edit_manifest(set_dir: Path) -> None:
    path = set_dir / "manifest.json"
    data = json.loads(path.read_text())
    data["row_counts"]["BIODATA_WNI"] = 1
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    "name", ["../etc", "siak_2026*", "/srv/x_20261124T2300", "SIAK_20261124T2300", ""]
)
def test_set_names_are_never_paths_or_wildcards(name):
    with pytest.raises(PiakError, match="nama set cadangan tidak sah"):
        backupset.validate_set_name(name)


def test_an_existing_set_is_never_overwritten(source, set_dir):
    with pytest.raises(PiakError, match="sudah ada"):
        sqlite_backup.backup(source, set_dir.parent, set_dir.name, database="siak")
    assert backupset.verify_set(set_dir).ok


def test_copy_is_verified_and_a_rerun_resumes(set_dir, tmp_path):
    target = offsite.LocalTarget(tmp_path / "flashdisk")
    first = offsite.copy_set(set_dir, target)
    assert first.copied == ["database.sqlite3"]
    assert offsite.verify_copy(target, set_dir.name) == []
    again = offsite.copy_set(set_dir, target)
    assert (again.copied, again.skipped) == ([], ["database.sqlite3"])


def test_a_damaged_copy_is_replaced_on_rerun_and_reported_before(set_dir, tmp_path):
    target = offsite.LocalTarget(tmp_path / "flashdisk")
    offsite.copy_set(set_dir, target)
    _flip_byte(tmp_path / "flashdisk" / set_dir.name / "database.sqlite3")
    assert "rusak" in offsite.verify_copy(target, set_dir.name)[0]
    report = offsite.copy_set(set_dir, target)
    assert report.copied == ["database.sqlite3"]
    assert offsite.verify_copy(target, set_dir.name) == []


def test_a_copy_that_reads_back_wrong_is_deleted_and_fails(set_dir, tmp_path):
    class FlakyDisk(offsite.LocalTarget):
        """A disk that corrupts what it stores (a real failure mode of cheap flash disks)."""

        def open_write(self, path):
            handle = super().open_write(path)
            original = handle.write
            handle.write = lambda data: original(bytes(data[:-1]) + bytes([data[-1] ^ 1]))
            return handle

    target = FlakyDisk(tmp_path / "flaky")
    with pytest.raises(PiakError, match="salinan rusak dihapus"):
        offsite.copy_set(set_dir, target)
    copied = tmp_path / "flaky" / set_dir.name
    assert sorted(p.name for p in copied.iterdir()) == []


def test_a_copy_onto_a_full_disk_leaves_no_partial_file(set_dir, tmp_path):
    class FullDisk(offsite.LocalTarget):
        def open_write(self, path):
            handle = super().open_write(path)

            def write(data):
                raise OSError(28, "No space left on device")

            handle.write = write
            return handle

    with pytest.raises(OSError, match="No space left"):
        offsite.copy_set(set_dir, FullDisk(tmp_path / "full"))
    assert list((tmp_path / "full" / set_dir.name).iterdir()) == []


def test_retention_keeps_daily_weekly_monthly():
    names = [f"siak_2026{m:02d}{d:02d}T2300" for m in (9, 10, 11) for d in range(1, 29)]
    keep = backup.keep_by_policy(names, backup_config.Retention(daily=3, weekly=2, monthly=2))
    assert {"siak_20261128T2300", "siak_20261127T2300", "siak_20261126T2300"} <= keep
    assert "siak_20261022T2300" not in keep  # older than 2 weeks, not a month's newest
    assert "siak_20261028T2300" in keep  # newest of October
    assert "siak_20260928T2300" not in keep  # only 2 months kept
    # 3 daily (28th also newest of its week and month), newest of the week before, October's
    assert keep == {
        "siak_20261128T2300",
        "siak_20261127T2300",
        "siak_20261126T2300",
        "siak_20261122T2300",
        "siak_20261028T2300",
    }


def test_cli_backup_verify_and_copy(source, tmp_path):
    made = piak_cli(
        "backup", "--sqlite", str(source), "--dest", str(tmp_path / "server"), "--no-encrypt"
    )
    assert made.returncode == 0, made.stderr
    folder = Path(made.stdout.strip())
    assert folder.parent == tmp_path / "server" and folder.name.startswith("manual_")

    ok = piak_cli("verify-backup", str(folder))
    assert ok.returncode == 0 and ok.stdout.startswith("UTUH: set " + folder.name)

    copied = piak_cli("copy-backup", str(folder), str(tmp_path / "flashdisk"))
    assert copied.returncode == 0, copied.stderr
    assert piak_cli("verify-backup", str(tmp_path / "flashdisk" / folder.name)).returncode == 0

    _flip_byte(tmp_path / "flashdisk" / folder.name / "database.sqlite3")
    bad = piak_cli("verify-backup", str(tmp_path / "flashdisk" / folder.name))
    assert bad.returncode == 1
    assert "RUSAK: berkas database.sqlite3: SHA-256 berbeda" in bad.stderr


def test_cli_refuses_what_is_not_a_set(tmp_path):
    assert piak_cli("verify-backup", str(tmp_path / "nothing")).returncode == 1
    (tmp_path / "folder").mkdir()
    result = piak_cli("verify-backup", str(tmp_path / "folder"))
    assert result.returncode == 1 and "bukan set cadangan" in result.stderr
    missing = piak_cli("backup", "--sqlite", str(tmp_path / "none.db"), "--dest", str(tmp_path))
    assert missing.returncode == 2 and "tidak ditemukan" in missing.stderr


def test_a_set_in_the_earlier_format_verifies_copies_and_restores(tmp_path):
    """Sets written before the sealed-folder format (``piak-backup-set/1``) stay usable."""
    legacy = ROOT / "tests" / "data" / "legacy_sets" / "siak_20260901T2300"
    manifest = backupset.load_manifest(legacy)
    assert manifest.format == backupset.LEGACY_FORMAT
    assert backupset.verify_set(legacy).problems == []

    offsite.copy_set(legacy, offsite.LocalTarget(tmp_path / "flashdisk"))
    copy = tmp_path / "flashdisk" / legacy.name
    assert backupset.verify_set(copy).problems == []
    assert (copy / "manifest.json").read_bytes() == (legacy / "manifest.json").read_bytes()

    target = tmp_path / "restored.db"
    counts = sqlite_backup.restore(copy, target)
    assert counts == {"agenda_uji": 5, "setup_kec": 12} == manifest.row_counts
    with sqlite3.connect(target) as conn:
        names = [r[0] for r in conn.execute("SELECT nama_kec FROM setup_kec ORDER BY no_kec")]
    assert names[0] == "KECAMATAN CONTOH 01" and len(names) == 12

    tampered = tmp_path / "tampered" / legacy.name
    tampered.parent.mkdir()
    shutil.copytree(legacy, tampered)
    data = json.loads((tampered / "manifest.json").read_text())
    data["row_counts"]["setup_kec"] = 11
    (tampered / "manifest.json").write_text(json.dumps(data))
    assert "checksum" in " ".join(backupset.verify_set(tampered).problems).lower()
