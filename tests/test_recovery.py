"""Recovery and the restore drill on the embedded default, step by step as the DAGs run them:
scratch and production restores, refused requests, damaged sets with an intact offsite copy,
an import killed mid-way, the weekly drill and the catalogue listing."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from backup_helpers import back_up, embedded_home, piak_cli

from piak.core.errors import InvalidRequest, PiakError
from piak.engines import backupset, catalogue, encryption, sqlite_backup
from piak.sops import recovery

WIB = ZoneInfo("Asia/Jakarta")
ROOT = Path(__file__).resolve().parents[1]
SET = "siak_20261120T2300"
SEALED = sqlite_backup.SEALED_NAME  # the nightly sets are encrypted
RECOVERY_STEPS = ("prepare", "verify", "dry_run", "safety_export", "import_set", "validate")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    embedded_home(tmp_path, monkeypatch, residents=500, seed=8, daily=5)
    backup_night(20)
    return tmp_path


backup_night = back_up


def context(**params) -> dict:
    return {"logical_date": datetime(2026, 11, 21, 9, 30, tzinfo=WIB), "params": params}


def recover(**params) -> dict:
    ctx = context(**params)
    result = {}
    for step in RECOVERY_STEPS:
        result[step] = getattr(recovery, step)(ctx)
    result["summary"] = recovery.summarize(ctx)
    return result


def count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest_counts(home: Path) -> dict[str, int]:
    return backupset.load_manifest(home / "backups" / SET).row_counts


def test_recovery_into_scratch_restores_every_table_and_leaves_production_alone(home):
    production = digest(home / "siak.db")
    result = recover(set_name=SET)
    scratch = home / "scratch" / "siak_scratch.db"
    for table, rows in manifest_counts(home).items():
        assert count(scratch, table) == rows
    assert digest(home / "siak.db") == production
    assert "tidak diperlukan" in result["safety_export"]["note"]
    assert "sama dengan manifest" in result["validate"]["note"]
    evidence = home / "recovery" / "database_recovery" / "20261121T093000"
    report = json.loads((evidence / "validation.json").read_text())
    assert all(row["ok"] for row in report["tables"]) and len(report["tables"]) >= 10
    assert json.loads((evidence / "source.json").read_text())["where"] == "server"


def test_recovery_into_production_needs_the_typed_name_and_makes_a_safety_set_first(home):
    with sqlite3.connect(home / "siak.db") as conn:
        conn.execute("DELETE FROM BIODATA_WNI WHERE rowid % 2 = 0")
    damaged_rows = count(home / "siak.db", "BIODATA_WNI")
    recover(set_name=SET, target="production", confirmation="siak.db")
    assert count(home / "siak.db", "BIODATA_WNI") == manifest_counts(home)["BIODATA_WNI"]
    safety = home / "backups" / "siak_pra_pulih_20261121T0930"
    assert backupset.verify_set(safety).ok
    assert backupset.load_manifest(safety).row_counts["BIODATA_WNI"] == damaged_rows


def test_restoring_some_tables_keeps_the_others_as_they_are(home):
    with sqlite3.connect(home / "siak.db") as conn:
        conn.execute("DELETE FROM BIODATA_WNI")
        conn.execute("DELETE FROM DATA_KELUARGA WHERE rowid <= 3")
    families = count(home / "siak.db", "DATA_KELUARGA")
    recover(set_name=SET, target="production", confirmation="siak.db", tables=["biodata_wni"])
    assert count(home / "siak.db", "BIODATA_WNI") == manifest_counts(home)["BIODATA_WNI"]
    assert count(home / "siak.db", "DATA_KELUARGA") == families
    with sqlite3.connect(home / "siak.db") as conn:
        indexes = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type='index' AND tbl_name='BIODATA_WNI'"
        ).fetchone()[0]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    keys = encryption.identities_of_connection("piak_backup_identity")
    with (
        sqlite_backup.plain_dump(home / "backups" / SET, keys) as dump,
        sqlite3.connect(dump) as conn,
    ):
        assert (
            indexes
            == conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type='index' AND tbl_name='BIODATA_WNI'"
            ).fetchone()[0]
        )


BAD_REQUESTS = [
    ({"set_name": "../siak_20261120T2300"}, "set_name: nama set cadangan tidak sah"),
    ({"set_name": "/etc/passwd"}, "set_name: nama set cadangan tidak sah"),
    ({"set_name": "siak_2026*"}, "set_name: nama set cadangan tidak sah"),
    ({"set_name": ""}, "set_name: nama set cadangan wajib diisi"),
    ({"set_name": "siak_20250101T2300"}, "tidak ada di katalog"),
    ({"set_name": SET, "target": "prod"}, "target: 'scratch' atau 'production'"),
    ({"set_name": SET, "target": "production"}, "confirmation: pemulihan ke produksi"),
    ({"set_name": SET, "target": "production", "confirmation": "SIAK.DB"}, "tertulis 'SIAK.DB'"),
    ({"set_name": SET, "tables": ["PENDUDUK_LUAR"]}, "tables: tabel PENDUDUK_LUAR tidak ada"),
    ({"set_name": SET, "tables": ["X; DROP TABLE BIODATA_WNI"]}, "bukan nama tabel yang sah"),
    ({"set_name": SET, "tables": "BIODATA_WNI"}, "tables: harus daftar"),
]


@pytest.mark.parametrize(("params", "message"), BAD_REQUESTS, ids=[m for _, m in BAD_REQUESTS])
def test_a_bad_request_is_refused_before_anything_changes(home, params, message):
    production = digest(home / "siak.db")
    with pytest.raises(InvalidRequest, match=message.replace("*", r"\*").replace("(", r"\(")):
        recovery.prepare(context(**params))
    assert digest(home / "siak.db") == production
    assert not (home / "scratch").exists()
    assert not (home / "recovery").exists()


DAMAGE = {
    "changed byte": lambda d: _flip(d / SEALED, 5000),
    "truncated file": lambda d: (d / SEALED).write_bytes((d / SEALED).read_bytes()[:-4096]),
    "missing file": lambda d: (d / SEALED).unlink(),
    "edited manifest": lambda d: (d / "manifest.json").write_text(
        (d / "manifest.json").read_text().replace('"BIODATA_WNI": 500', '"BIODATA_WNI": 499')
    ),
}


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_set_is_refused_and_the_intact_offsite_copy_restores(home, damage):
    DAMAGE[damage](home / "backups" / SET)
    result = recover(set_name=SET)
    assert "flashdisk" in result["verify"]["note"] and "server:" in result["verify"]["note"]
    scratch = home / "scratch" / "siak_scratch.db"
    assert count(scratch, "BIODATA_WNI") == 500

    DAMAGE[damage](home / "media" / "flashdisk" / "piak" / SET)
    ctx = {**context(set_name=SET), "logical_date": datetime(2026, 11, 21, 10, 0, tzinfo=WIB)}
    before = digest(scratch)
    with pytest.raises(PiakError, match=f"set {SET}.* server: .*flashdisk"):
        recovery.prepare(ctx)  # an edited manifest everywhere: refused right here
        recovery.verify(ctx)
    assert digest(scratch) == before


def _import_killed_at(point: str, tables: list[str]) -> None:
    """Restore into production and die by SIGKILL at ``point``: in the middle of the page copy
    (small steps, killed after the first) or after the first of two replaced tables."""
    from piak.engines import sqlite_backup

    calls = []
    real = getattr(sqlite_backup, point)

    def die(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1 or point == "restored_pages":
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)

    sqlite_backup.STEP_PAGES = 4
    setattr(sqlite_backup, point, die)
    params = {"set_name": SET, "target": "production", "confirmation": "siak.db", "tables": tables}
    ctx = context(**params)
    recovery.prepare(ctx)
    recovery.import_set(ctx)
    os._exit(0)


def content(db: Path) -> str:
    """What the database holds, read through SQLite (a killed write is rolled back first)."""
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()


@pytest.mark.parametrize(
    ("point", "tables"),
    [("restored_pages", []), ("_replace_table", ["BIODATA_WNI", "DATA_KELUARGA"])],
)
def test_an_import_killed_mid_way_leaves_the_target_unchanged_and_a_rerun_completes(
    home, point, tables
):
    with sqlite3.connect(home / "siak.db") as conn:
        conn.execute("DELETE FROM BIODATA_WNI")
        conn.execute("DELETE FROM DATA_KELUARGA")
    app = sqlite3.connect(home / "siak.db")  # an application keeps the database open
    before = content(home / "siak.db")
    ctx = context(set_name=SET, target="production", confirmation="siak.db", tables=tables)
    for step in RECOVERY_STEPS[:4]:
        getattr(recovery, step)(ctx)
    child = multiprocessing.get_context("fork").Process(
        target=_import_killed_at, args=(point, tables)
    )
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL
    assert content(home / "siak.db") == before
    assert app.execute("SELECT count(*) FROM BIODATA_WNI").fetchone()[0] == 0

    recovery.import_set(ctx)
    recovery.validate(ctx)
    assert count(home / "siak.db", "BIODATA_WNI") == 500
    assert app.execute("SELECT count(*) FROM BIODATA_WNI").fetchone()[0] == 500
    assert not list(home.glob(".siak.db.*"))
    app.close()


def test_validation_fails_when_the_restored_rows_differ(home):
    ctx = context(set_name=SET)
    for step in RECOVERY_STEPS[:5]:
        getattr(recovery, step)(ctx)
    with sqlite3.connect(home / "scratch" / "siak_scratch.db") as conn:
        conn.execute("DELETE FROM BIODATA_WNI WHERE rowid = 1")
    with pytest.raises(PiakError, match="BIODATA_WNI: 499 bukan 500"):
        recovery.validate(ctx)


def test_the_drill_restores_the_newest_verified_set_and_marks_it_restore_tested(home):
    backup_night(21)
    backup_night(22)
    (home / "backups" / catalogue.FOLDER / "siak_20261122T2300.json").write_text(
        json.dumps({"set": "siak_20261122T2300", "verified_targets": {}})
    )  # the newest set's offsite copy is not verified: the drill takes the one before
    ctx = {"logical_date": datetime(2026, 11, 22, 2, 0, tzinfo=WIB), "params": {}}
    result = recovery.prepare_drill(ctx)
    assert result["output_ref"] == "siak_20261121T2300"
    for step in ("verify", "dry_run", "import_set", "validate", "mark_restore_tested"):
        getattr(recovery, step)(ctx)
    entry = catalogue.read(home / "backups", "siak_20261121T2300")
    assert entry["restore_tested_at"]

    listing = subprocess.run(
        [sys.executable, "-m", "piak", "backups", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "include")},
        check=True,
    )
    listed = json.loads(listing.stdout)
    rows = {row["set"]: row for row in listed["sets"]}
    assert listed["freshness"]["set"] == "siak_20261121T2300"
    assert listed["freshness"]["stale"] is False  # exported minutes ago (by this test)
    assert rows["siak_20261121T2300"]["restore_tested_at"] == entry["restore_tested_at"]
    assert rows["siak_20261121T2300"]["copies"] == ["server", "flashdisk"]
    assert rows["siak_20261120T2300"]["restore_tested_at"] is None
    assert not rows["siak_20261122T2300"]["verified"]
    table = subprocess.run(
        [sys.executable, "-m", "piak", "backups"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "include")},
        check=True,
    ).stdout
    assert "siak_20261121T2300" in table and "Uji pulih" in table
    assert "Terbaru: siak_20261121T2300" in table


def test_the_restore_command_verifies_first_and_restores_by_hand(home):
    out = home / "by_hand.db"
    done = piak_cli(
        "restore", str(home / "backups" / SET), "--to", str(out), "--tables", "SETUP_KEC"
    )
    assert done.returncode == 0, done.stderr
    assert count(out, "SETUP_KEC") == manifest_counts(home)["SETUP_KEC"]
    _flip(home / "backups" / SET / SEALED, 9000)
    before = digest(out)
    refused = piak_cli("restore", str(home / "backups" / SET), "--to", str(out))
    assert refused.returncode == 2
    assert "SHA-256 berbeda" in refused.stderr
    assert digest(out) == before
