"""A lost flash disk is not a data breach: every file of a nightly set, on the server and on the
offsite copy, is encrypted (age); verify-backup checks a copy without any key, a restore opens it
with the key and gives back the same rows; wrong, missing or damaged keys and files are clear
errors and nothing is half-restored. The key ceremony's files and recovery sheet."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from backup_helpers import WIB, back_up, embedded_home, piak_cli

from piak.core.errors import PiakError
from piak.engines import backupset, encryption, keys, sqlite_backup
from piak.sops import recovery

ROOT = Path(__file__).resolve().parents[1]
SET = "siak_20261120T2300"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    embedded_home(tmp_path, monkeypatch, residents=300, seed=4, daily=5)
    back_up(20)
    return tmp_path


def drill_keys() -> list:
    """The restore drill's private key, from its Connection (set by embedded_home)."""
    return encryption.identities_of_connection("piak_backup_identity")


def residents(db: Path, limit: int = 50) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT NIK, NAMA_LGKP FROM BIODATA_WNI LIMIT {limit}").fetchall()


def every_file(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.rglob("*") if p.is_file()]


def test_no_file_of_a_set_or_its_copy_holds_a_readable_nik_or_name(home):
    server, copy = home / "backups" / SET, home / "media" / "flashdisk" / "piak" / SET
    files = every_file(server, copy)
    assert {p.name for p in files} == {"database.sqlite3.age", "manifest.json"}
    for path in files:
        data = path.read_bytes()
        for nik, name in residents(home / "siak.db"):
            assert nik.encode() not in data, f"{path} holds a NIK"
            assert name.encode() not in data, f"{path} holds a name"
    assert not list((home / "backups").glob(".piak-plain-*")), "no plaintext left behind"


def test_a_copy_verifies_without_a_key_and_restores_with_it_to_the_same_rows(home):
    copy = home / "media" / "flashdisk" / "piak" / SET
    check = backupset.verify_set(copy)  # no key given: files only
    assert check.ok and check.unchecked
    keyed = backupset.verify_set(copy, identities=drill_keys())
    assert keyed.ok and not keyed.unchecked
    out = home / "pulih.db"
    sqlite_backup.restore(copy, out, identities=drill_keys())
    assert residents(out, 10_000) == residents(home / "siak.db", 10_000)


def test_one_changed_byte_of_an_encrypted_file_is_found_by_verify_backup(home):
    copy = home / "media" / "flashdisk" / "piak" / SET / "database.sqlite3.age"
    data = bytearray(copy.read_bytes())
    data[len(data) // 3] ^= 0x01
    copy.write_bytes(bytes(data))
    done = piak_cli("verify-backup", str(copy.parent))
    assert done.returncode == 1
    assert "RUSAK: berkas database.sqlite3.age: SHA-256 berbeda" in done.stderr


def _resign_with(folder: Path, name: str, data: bytes) -> None:
    """An adversary who rewrites the ciphertext and the manifest's outer checksums."""
    import json

    (folder / name).write_bytes(data)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.pop("manifest_sha256")
    entry = backupset.describe_files(folder, [name])[0]
    manifest["files"][0].update(size=entry.size, sha256=entry.sha256)
    manifest["manifest_sha256"] = backupset._digest(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("damage", ["changed", "truncated"])
def test_a_damaged_ciphertext_restores_nothing(home, damage):
    folder = home / "backups" / SET
    sealed = folder / "database.sqlite3.age"
    data = bytearray(sealed.read_bytes())
    if damage == "changed":
        data[len(data) // 2] ^= 0xFF
    else:
        del data[-5000:]
    _resign_with(folder, sealed.name, bytes(data))  # outer checksums agree: AEAD must catch it
    target = home / "pulih.db"
    with pytest.raises(PiakError, match="rusak atau terpotong"):
        sqlite_backup.restore(folder, target, identities=drill_keys())
    assert not target.exists()
    assert not [p for p in home.rglob(".*") if p.name.startswith((".pulih.db", ".piak-plain-"))]


def test_a_wrong_or_missing_key_is_a_clear_refusal(home):
    folder = home / "backups" / SET
    stranger = encryption.identity(encryption.generate()[0])
    with pytest.raises(PiakError, match="tidak cocok dengan kunci set ini"):
        sqlite_backup.restore(folder, home / "a.db", identities=[stranger])
    with pytest.raises(PiakError, match="tidak ada kunci privat"):
        sqlite_backup.restore(folder, home / "b.db", identities=[])
    assert not (home / "a.db").exists() and not (home / "b.db").exists()


def test_the_office_key_alone_opens_a_set_and_the_catalogue_knows_its_keys(home, monkeypatch):
    office = (home / "keys" / "piak_backup_office.key").read_text()
    folder = home / "backups" / SET
    manifest = backupset.load_manifest(folder)
    assert encryption.public_of(office) in manifest.recipients
    out = home / "kabid.db"
    sqlite_backup.restore(folder, out, identities=[encryption.identity(office)])
    assert residents(out) == residents(home / "siak.db")


def test_a_recovery_without_the_drill_key_says_which_key_is_needed(home, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_PIAK_BACKUP_IDENTITY")
    ctx = {"logical_date": datetime(2026, 11, 21, 9, 30, tzinfo=WIB), "params": {"set_name": SET}}
    for step in ("prepare", "verify"):
        getattr(recovery, step)(ctx)
    with pytest.raises(PiakError, match="tidak ada kunci privat"):
        recovery.dry_run(ctx)


def test_the_key_ceremony_writes_owner_only_files_and_a_sheet_that_restores(home, tmp_path):
    made = keys.create(tmp_path / "upacara", "kantor2026")
    assert oct(made.private_file.stat().st_mode & 0o777) == "0o600"
    assert oct(made.sheet.stat().st_mode & 0o777) == "0o600"
    sheet = made.sheet.read_bytes()
    private = [line for line in made.private_file.read_text().splitlines() if line[:3] == "AGE"]
    assert private[0].encode() in sheet and keys.check_code(private[0]).encode() in sheet
    with pytest.raises(PiakError, match="sudah ada"):
        keys.create(tmp_path / "upacara", "kantor2026")  # never overwrites a key
    folder = sqlite_backup.backup(
        home / "siak.db", tmp_path / "b", "manual_20261201T1000", database="siak",
        recipients=[made.public],
    )  # fmt: skip
    typed = tmp_path / "diketik.key"
    typed.write_text(private[0] + "\n")
    checked = piak_cli("keys", "check", str(typed))
    assert checked.returncode == 0 and made.public in checked.stdout
    done = piak_cli(
        "restore", str(folder), "--to", str(tmp_path / "r.db"), "--identity", str(typed)
    )
    assert done.returncode == 0, done.stderr
    assert residents(tmp_path / "r.db") == residents(home / "siak.db")


def test_a_set_made_for_a_key_the_configuration_forgot_is_reported(home, monkeypatch):
    import json

    old = backupset.load_manifest(home / "backups" / SET).recipients
    new = encryption.generate()[1]

    def connection(extra: dict) -> None:
        value = json.dumps({"conn_type": "generic", "extra": extra})
        monkeypatch.setenv("AIRFLOW_CONN_PIAK_BACKUP_RECIPIENTS", value)

    connection({"recipients": [new]})  # rotated, the old keys forgotten
    listed = piak_cli("backups", "--json")
    row = next(r for r in json.loads(listed.stdout)["sets"] if r["set"] == SET)
    assert row["encrypted"] is True and row["keys_known"] is False
    assert (
        f"PERINGATAN: {SET} dienkripsi untuk kunci yang tidak dikenal" in piak_cli("backups").stdout
    )
    connection({"recipients": [new], "retired": old})  # rotated properly
    row = next(
        r for r in json.loads(piak_cli("backups", "--json").stdout)["sets"] if r["set"] == SET
    )
    assert row["keys_known"] is True
