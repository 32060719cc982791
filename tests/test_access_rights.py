"""Access rights (SOP "Prosedur Pemberian Hak Akses Aplikasi SIAK dan KTPEL"): the proposal
checked against a real demo SIAK database, bad lists refused naming the line, the register and
the integrity pacts issued once however often the step runs."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from piak import access_rights, demo_db
from piak.errors import InvalidRequest


@pytest.fixture(scope="module")
def siak(tmp_path_factory):
    path = tmp_path_factory.mktemp("siak") / "siak.db"
    demo_db.generate(path, residents=300, seed=11)
    conn = sqlite3.connect(path)
    yield conn
    conn.close()


def residents(conn, count: int) -> list[tuple[str, str]]:
    return conn.execute(
        "SELECT NIK, NAMA_LGKP FROM BIODATA_WNI WHERE FLAG_STATUS = '0' ORDER BY NIK LIMIT ?",
        (count,),
    ).fetchall()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "daftar kosong"),
        ("1234;Budi;Operator;operator_siak", "baris 1: NIK harus 16 angka"),
        ("9901011234560001;Budi;Operator", "baris 1: harus NIK;Nama;Jabatan;Hak akses"),
        ("9901011234560001;Budi;Operator;admin", "hak akses 'admin' bukan salah satu"),
        (
            "9901011234560001;Budi;Operator;operator_siak\n9901011234560001;Budi;Op;supervisor",
            r"NIK ganda \(baris 1 dan 2\)",
        ),
        ("9901011234560001;=cmd|x;Operator;operator_siak", "baris 1: nama atau jabatan"),
    ],
)
def test_a_bad_list_is_refused_naming_the_line(text, message):
    with pytest.raises(InvalidRequest, match=message) as err:
        access_rights.parse_members(text)
    assert "9901011234560001" not in str(err.value) and "1234'" not in str(err.value)


def test_members_are_checked_against_siak(siak):
    (nik, name), (other, _) = residents(siak, 2)
    members = access_rights.parse_members(
        f"{nik};{name.lower()};Operator Kecamatan;operator_siak\n"
        f"{other};Nama Lain;Operator;operator_ktpel\n"
        "9901019999999999;Tidak Ada;Operator;supervisor"
    )
    results = access_rights.check_against_siak(members, siak)
    assert [r["eligible"] for r in results] == [True, False, False]
    # a NIK is checked without saying whose it is
    recorded = siak.execute("SELECT NAMA_LGKP FROM BIODATA_WNI WHERE NIK = ?", (other,)).fetchone()
    assert results[1]["problem"] == "nama tidak sama dengan data SIAK"
    assert recorded[0] not in json.dumps(results[1]["problem"])
    assert results[2]["problem"] == "NIK tidak terdaftar di SIAK"


def test_issuing_twice_gives_one_register_entry_and_one_pact_per_member(
    siak, tmp_path, monkeypatch
):
    monkeypatch.setenv("PIAK_STORAGE", str(tmp_path))
    (nik, name), (other, other_name) = residents(siak, 2)
    context = {
        "run_id": "manual__2026-11-25T02:00:00+00:00",
        "logical_date": datetime(2026, 11, 25, 9, 0, tzinfo=ZoneInfo("Asia/Jakarta")),
    }
    checked = {
        "nomor": access_rights.proposal_number(context),
        "asal": "Kecamatan Contoh Barat",
        "nomor_surat": "800/12/KEC/2026",
        "anggota": access_rights.check_against_siak(
            access_rights.parse_members(
                f"{nik};{name};Operator;operator_siak\n{other};{other_name};Kasi;supervisor"
            ),
            siak,
        ),
    }
    folder = access_rights.proposal_dir(context)
    folder.mkdir(parents=True)
    (folder / "hasil_pemeriksaan.json").write_text(json.dumps(checked))
    access_rights.issue_access(context)
    access_rights.issue_access(context)
    register = json.loads(access_rights.register_file().read_text())
    assert set(register) == {nik, other}
    assert register[nik]["user_id"] == access_rights.user_id_for(checked["anggota"][0])
    pacts = sorted(folder.glob("pakta_integritas_*.pdf"))
    assert len(pacts) == 2 and all(p.read_bytes().startswith(b"%PDF") for p in pacts)


def test_the_check_step_never_says_whose_a_nik_is(siak, tmp_path, monkeypatch):
    (path,) = [row[2] for row in siak.execute("PRAGMA database_list") if row[1] == "main"]
    monkeypatch.setenv("AIRFLOW_CONN_SIAK_DB", json.dumps({"conn_type": "sqlite", "host": path}))
    monkeypatch.setenv("PIAK_STORAGE", str(tmp_path))
    (nik, name), (other, other_name) = residents(siak, 2)
    context = {
        "run_id": "manual__2026-11-25T02:00:00+00:00",
        "logical_date": datetime(2026, 11, 25, 9, 0, tzinfo=ZoneInfo("Asia/Jakarta")),
        "params": {"asal": "Kecamatan Contoh Barat", "nomor_surat": "800/12/KEC/2026",
                   "anggota": f"{nik};{name};Operator;operator_siak\n"
                              f"{other};Nama Keliru;Operator;operator_ktpel"},
    }  # fmt: skip
    result = access_rights.check_members(context)
    shown = json.dumps({k: v for k, v in result.items()})
    assert "1 dari 2 memenuhi syarat" in result["note"] and "baris 2" in result["note"]
    for secret in (nik, other, name, other_name, other_name.split()[0]):
        assert secret not in shown, secret
    context["params"]["anggota"] = f"{other};Nama Keliru;Operator;operator_ktpel"
    with pytest.raises(InvalidRequest) as err:
        access_rights.check_members(context)
    assert "baris 1: nama tidak sama" in str(err.value)
    assert other not in str(err.value) and other_name not in str(err.value)
