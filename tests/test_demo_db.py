"""The demo SIAK database: schema, valid NIK / NO_KK, coherent families and codes, same seed
same data, and safe writes."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from piak.core.errors import PiakError
from piak.engines import demo_db

ROOT = Path(__file__).resolve().parents[1]
RESIDENTS = 3000

COLUMNS = {
    "BIODATA_WNI": [
        "NIK",
        "NO_KK",
        "NAMA_LGKP",
        "JENIS_KLMIN",
        "TMPT_LHR",
        "TGL_LHR",
        "GOL_DRH",
        "AGAMA",
        "STAT_KWN",
        "STAT_HBKEL",
        "PDDK_AKH",
        "JENIS_PKRJN",
        "PNYDNG_CCT",
        "NIK_IBU",
        "NAMA_LGKP_IBU",
        "NIK_AYAH",
        "NAMA_LGKP_AYAH",
        "NO_AKTA_LHR",
        "TGL_KWN",
        "NO_AKTA_CRAI",
        "NO_PROP",
        "NO_KAB",
        "NO_KEC",
        "NO_KEL",
        "FLAG_STATUS",
        "TGL_ENTRI",
    ],
    "DATA_KELUARGA": [
        "NO_KK",
        "NIK_KK",
        "NAMA_KEP",
        "ALAMAT",
        "NO_RT",
        "NO_RW",
        "DUSUN",
        "TGL_INSERTION",
    ],
    "SETUP_PROP": ["NO_PROP", "NAMA_PROP"],
    "SETUP_KAB": ["NO_PROP", "NO_KAB", "NAMA_KAB"],
    "SETUP_KEC": ["NO_PROP", "NO_KAB", "NO_KEC", "NAMA_KEC"],
    "SETUP_KEL": ["NO_PROP", "NO_KAB", "NO_KEC", "NO_KEL", "NAMA_KEL"],
    **{t: ["NO", "DESCRIP"] for t in demo_db.CODE_TABLES},
}


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> sqlite3.Connection:
    path = tmp_path_factory.mktemp("demo") / "siak.db"
    demo_db.generate(path, residents=RESIDENTS, seed=7)
    conn = sqlite3.connect(path)
    yield conn
    conn.close()


def rows(conn, sql, *args):
    return conn.execute(sql, args).fetchall()


def test_every_siak_table_and_column_exists(db):
    for table, columns in COLUMNS.items():
        present = [r[1] for r in rows(db, f"PRAGMA table_info({table})")]
        assert set(columns) <= set(present), table


def test_resident_and_family_counts(db):
    assert rows(db, "SELECT count(*) FROM BIODATA_WNI")[0][0] == RESIDENTS
    families = rows(db, "SELECT count(*) FROM DATA_KELUARGA")[0][0]
    assert RESIDENTS / 5 < families < RESIDENTS / 2


def test_nik_encodes_region_birth_date_and_sex(db):
    niks = rows(db, "SELECT NIK, NO_PROP, NO_KAB, NO_KEC, TGL_LHR, JENIS_KLMIN FROM BIODATA_WNI")
    assert len({r[0] for r in niks}) == len(niks)
    for nik, prop, kab, kec, born, sex in niks:
        assert len(nik) == 16 and nik.isdigit(), nik
        assert nik[:6] == f"{prop:02d}{kab:02d}{kec:02d}"
        birth = date.fromisoformat(born)
        day = int(nik[6:8])
        assert day == birth.day + (40 if sex == 2 else 0), (nik, born, sex)
        assert nik[8:12] == f"{birth.month:02d}{birth.year % 100:02d}"
        assert int(nik[12:]) >= 1


def test_no_kk_valid_and_every_resident_in_a_family(db):
    for (no_kk,) in rows(db, "SELECT NO_KK FROM DATA_KELUARGA"):
        assert len(no_kk) == 16 and no_kk.isdigit()
    orphans = rows(
        db,
        "SELECT count(*) FROM BIODATA_WNI b LEFT JOIN DATA_KELUARGA k ON k.NO_KK = b.NO_KK "
        "WHERE k.NO_KK IS NULL",
    )
    assert orphans[0][0] == 0


def test_every_family_has_exactly_one_head_who_is_nik_kk(db):
    heads = rows(
        db,
        "SELECT k.NO_KK, k.NIK_KK, count(b.NIK), max(b.NIK) FROM DATA_KELUARGA k "
        "JOIN BIODATA_WNI b ON b.NO_KK = k.NO_KK AND b.STAT_HBKEL = 1 GROUP BY k.NO_KK",
    )
    assert len(heads) == rows(db, "SELECT count(*) FROM DATA_KELUARGA")[0][0]
    assert all(count == 1 and nik_kk == nik for _, nik_kk, count, nik in heads)


@pytest.mark.parametrize(
    ("column", "table"),
    [
        ("AGAMA", "AGAMA_MASTER"),
        ("PDDK_AKH", "PDDKN_MASTER"),
        ("JENIS_PKRJN", "PKRJN_MASTER"),
        ("STAT_KWN", "KWN_MASTER"),
        ("GOL_DRH", "GOLDRH_MASTER"),
        ("PNYDNG_CCT", "CCT_MASTER"),
        ("STAT_HBKEL", "SHDK"),
    ],
)
def test_codes_exist_in_their_code_tables(db, column, table):
    unknown = rows(
        db,
        f"SELECT count(*) FROM BIODATA_WNI WHERE {column} IS NOT NULL "
        f"AND {column} NOT IN (SELECT NO FROM {table})",
    )
    assert unknown[0][0] == 0


def test_code_values_are_the_siak_ones(db):
    assert dict(rows(db, "SELECT NO, DESCRIP FROM AGAMA_MASTER"))[1] == "Islam"
    assert dict(rows(db, "SELECT NO, DESCRIP FROM KWN_MASTER")) == {
        1: "Belum Kawin",
        2: "Kawin",
        3: "Cerai Hidup",
        4: "Cerai Mati",
    }
    assert len(rows(db, "SELECT NO FROM PKRJN_MASTER")) == 89
    assert dict(rows(db, "SELECT NO, DESCRIP FROM GOLDRH_MASTER"))[13] == "Tidak Tahu"


def test_realistic_shares(db):
    def share(where):
        return rows(db, f"SELECT avg(CASE WHEN {where} THEN 1.0 ELSE 0 END) FROM BIODATA_WNI")[0][0]

    assert 0.45 < share("JENIS_KLMIN = 1") < 0.55
    assert 0.8 < share("AGAMA = 1") < 0.93
    assert share("AGAMA <> 1") > 0.05
    assert 0.2 < share("TGL_LHR > '2009-06-30'") < 0.45  # under 17
    assert share("GOL_DRH = 13") > 0.5


def test_children_under_17_are_unmarried_and_children_point_at_parents(db):
    married_kids = rows(
        db, "SELECT count(*) FROM BIODATA_WNI WHERE TGL_LHR > '2009-06-30' AND STAT_KWN <> 1"
    )
    assert married_kids[0][0] == 0
    bad_links = rows(
        db,
        "SELECT count(*) FROM BIODATA_WNI c JOIN BIODATA_WNI m ON m.NIK = c.NIK_IBU "
        "WHERE m.JENIS_KLMIN <> 2 OR m.NO_KK <> c.NO_KK OR m.TGL_LHR >= c.TGL_LHR",
    )
    assert bad_links[0][0] == 0
    linked = rows(
        db, "SELECT count(*) FROM BIODATA_WNI WHERE STAT_HBKEL = 4 AND NIK_AYAH IS NOT NULL"
    )
    assert linked[0][0] > 0


def _content_digest(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        digest = hashlib.sha256()
        for table in ("BIODATA_WNI", "DATA_KELUARGA", "SETUP_KEL"):
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1"):
                digest.update(repr(row).encode())
        return digest.hexdigest()
    finally:
        conn.close()


def test_same_seed_same_data_other_seed_other_data(tmp_path):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        demo_db.generate(tmp_path / f"{name}.db", residents=500, seed=seed)
    a, b, c = (_content_digest(tmp_path / f"{n}.db") for n in "abc")
    assert a == b
    assert a != c


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "piak", "demo-db", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "include")),
        timeout=120,
    )


def test_cli_writes_the_database_and_prints_a_summary(tmp_path):
    out = tmp_path / "cli.db"
    result = _cli("--residents", "1500", "--out", str(out), "--seed", "2")
    assert result.returncode == 0, result.stderr
    assert "1.500 penduduk" in result.stdout and str(out) in result.stdout
    assert sqlite3.connect(out).execute("SELECT count(*) FROM BIODATA_WNI").fetchone()[0] == 1500


@pytest.mark.parametrize("residents", ["0", "-5"])
def test_bad_input_is_refused_and_nothing_is_written(tmp_path, residents):
    out = tmp_path / "bad.db"
    result = _cli("--residents", residents, "--out", str(out))
    assert result.returncode == 2
    assert "--residents" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_is_refused(tmp_path):
    with pytest.raises(PiakError, match="folder tujuan tidak ada"):
        demo_db.generate(tmp_path / "nope" / "x.db", residents=10)


def test_existing_file_is_replaced_only_by_a_complete_database(tmp_path, monkeypatch):
    out = tmp_path / "siak.db"
    demo_db.generate(out, residents=200, seed=1)
    before = out.read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(demo_db, "_family_rows", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        demo_db.generate(out, residents=300, seed=2)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["siak.db"]


def test_the_staff_accounts_sessions_and_access_log(tmp_path):
    import json
    import re

    register = tmp_path / "register.json"
    demo_db.generate(
        tmp_path / "s.db", residents=1500, seed=2, activity_until=date(2026, 11, 30),
        register=register,
    )  # fmt: skip
    conn = sqlite3.connect(tmp_path / "s.db")
    staff = json.loads(register.read_text())
    accounts = dict(conn.execute("SELECT USERNAME, ACCOUNT_STATUS FROM SIAK_USERS"))
    residents = dict(conn.execute("SELECT NIK, NAMA_LGKP FROM BIODATA_WNI"))
    for nik, entry in staff.items():
        assert residents[nik] == entry["nama"]  # staff are residents of the kabupaten
        expected = "LOCKED" if entry["status"] == "diblokir" else "OPEN"
        assert accounts[entry["user_id"]] == expected and entry["mesin"]
    registered = {e["user_id"] for e in staff.values()}
    service = {"SIAK_APP", "PIAK_BACKUP", "PIAK_GUARD"}
    assert len(set(accounts) - registered - service) == 1  # the operator who left
    first, last = conn.execute(
        "SELECT min(EVENT_TIMESTAMP), max(EVENT_TIMESTAMP) FROM SIAK_ACCESS_LOG"
    ).fetchone()
    assert first.startswith("2026-11-16") and last.startswith("2026-11-30")
    programs = {
        r[0] for r in conn.execute("SELECT DISTINCT CLIENT_PROGRAM_NAME FROM SIAK_ACCESS_LOG")
    }
    assert {"siak.exe", "ktpel.exe", "Toad.exe", "SQL Developer"} <= programs
    dumped = "".join(
        repr(row)
        for table in ("SIAK_USERS", "SIAK_SESSIONS", "SIAK_ACCESS_LOG")
        for row in conn.execute(f"SELECT * FROM {table}")
    )
    assert not re.findall(r"\d{16}", dumped)  # an action names a table, never a resident
    conn.close()
