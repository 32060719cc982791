"""Access rights (SOP "Prosedur Pemberian Hak Akses Aplikasi SIAK dan KTPEL"): the proposal
checked against a real demo SIAK database and the access register, bad lists refused naming the
line; the accounts created or re-enabled in the embedded system of record with the role named,
an expired first password only in an owner-only file, the signed pact's reference in the
register; a block never lifted without the Kadis's decision; every member not granted in the
notice letter with the reason; a refusal ends in its letter."""

from __future__ import annotations

import json
import re
import sqlite3
import stat

import pytest
from pdf_helpers import pdf_text
from sop_helpers import RunTI, context

from piak.core import access_register
from piak.core.errors import InvalidRequest
from piak.engines import demo_db, siak_accounts
from piak.sops import access_rights
from piak.sops.access_rights import GRANT, GRANT_AND_UNBLOCK


@pytest.fixture(scope="module")
def siak_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("siak") / "siak.db"
    demo_db.generate(path, residents=300, seed=11)
    return path


@pytest.fixture(scope="module")
def siak(siak_file):
    conn = sqlite3.connect(siak_file)
    yield conn
    conn.close()


@pytest.fixture
def home(siak_file, tmp_path, monkeypatch):
    database = tmp_path / "siak.db"
    database.write_bytes(siak_file.read_bytes())
    monkeypatch.setenv("PIAK_HOME", str(tmp_path))
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIAK_DB", json.dumps({"conn_type": "sqlite", "host": str(database)})
    )
    return tmp_path


def residents(conn, count: int, offset: int = 0) -> list[tuple[str, str]]:
    return conn.execute(
        "SELECT NIK, NAMA_LGKP FROM BIODATA_WNI WHERE FLAG_STATUS = '0' "
        "ORDER BY NIK LIMIT ? OFFSET ?",
        (count, offset),
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
        ("9901011234560001;Budi;Operator;operator_siak;pc 01;x", "baris 1: harus NIK"),
        ("9901011234560001;Budi;Operator;operator_siak;-rf", "baris 1: nama komputer tidak sah"),
    ],
)
def test_a_bad_list_is_refused_naming_the_line(text, message):
    with pytest.raises(InvalidRequest, match=message) as err:
        access_rights.parse_members(text)
    assert "9901011234560001" not in str(err.value) and "1234'" not in str(err.value)


def test_members_are_checked_against_siak(siak):
    (nik, name), (other, _) = residents(siak, 2)
    members = access_rights.parse_members(
        f"{nik};{name.lower()};Operator Kecamatan;operator_siak;pc-kec-03\n"
        f"{other};Nama Lain;Operator;operator_ktpel\n"
        "9901019999999999;Tidak Ada;Operator;supervisor"
    )
    assert members[0].machine == "pc-kec-03" and members[1].machine is None
    results = access_rights.check_against_siak(members, siak)
    assert [r["eligible"] for r in results] == [True, False, False]
    recorded = siak.execute("SELECT NAMA_LGKP FROM BIODATA_WNI WHERE NIK = ?", (other,)).fetchone()
    assert results[1]["problem"] == "nama tidak sama dengan data SIAK"
    assert recorded[0] not in json.dumps(results[1]["problem"])
    assert results[2]["problem"] == "NIK tidak terdaftar di SIAK"


def test_usernames_are_upper_case_and_never_taken_twice():
    member = {"nik": "9901014101900471", "name": "Siti Aminah"}
    assert access_rights.username_for(member) == "SITI0471"
    assert access_rights.username_for(member, {"SITI0471", "SITI0471_2"}) == "SITI0471_3"


def proposal(siak, *, offset: int = 0) -> tuple[dict, list[tuple[str, str]]]:
    people = residents(siak, 3, offset)
    lines = [
        f"{people[0][0]};{people[0][1]};Operator Kecamatan;operator_siak;pc-kec-03",
        f"{people[1][0]};{people[1][1]};Operator KTP-el;operator_ktpel",
        f"{people[2][0]};{people[2][1]};Supervisor;supervisor",
        "9901019999999999;Bukan Penduduk;Operator;operator_ktpel",
    ]
    return {
        "asal": "Kecamatan Contoh Barat",
        "nomor_surat": "800/15/KEC/2026",
        "anggota": "\n".join(lines),
    }, people


def through_decisions(ctx: dict, kadis: str = GRANT, not_signed: str = "-") -> None:
    ti = ctx["ti"]
    ti.answer("confirm_check", "Teruskan ke Kabid", "kasi")
    ti.answer("propose_to_kadis", "Usulkan ke Kepala Dinas", "kabid")
    ti.answer("direct_granting", kadis, "kadis")
    ti.answer("instruct_kasi", "Perintahkan Kasi menerbitkan hak akses", "kabid")
    ti.answer("confirm_signed_pacts", "OK", "kasi", belum_tanda_tangan=not_signed)


def issue(ctx: dict) -> dict:
    access_rights.prepare_pacts(ctx, decision_task="direct_granting", order_task="instruct_kasi")
    return access_rights.issue_access(
        ctx, decision_task="direct_granting", pacts_task="confirm_signed_pacts"
    )


def test_access_is_granted_in_siak_and_every_member_not_granted_is_told(home, siak):
    conf, people = proposal(siak)
    ctx = context(conf, ti=RunTI())
    checked = access_rights.check_members(ctx)
    assert (
        checked["note"]
        == "3 dari 4 memenuhi syarat; tidak memenuhi: baris 4 (NIK tidak terdaftar di SIAK)"
    )
    through_decisions(ctx, not_signed="3")
    issued = issue(ctx)
    assert issued["actor"] == "kasi"
    db = sqlite3.connect(home / "siak.db")
    register = access_register.load_register()
    for (nik, _), access, role in ((people[0], "operator_siak", "SIAK_OPERATOR"),
                                   (people[1], "operator_ktpel", "KTPEL_OPERATOR")):  # fmt: skip
        entry = register[nik]
        assert (entry["hak_akses"], entry["status"], entry["peran_basis_data"]) == (
            access,
            "aktif",
            role,
        )
        assert re.fullmatch(r"PI-\d{8}-\d{6}-[0-9a-f]{6}-0[12]", entry["nomor_pakta"])
        row = db.execute(
            "SELECT ACCOUNT_STATUS, GRANTED_ROLE, PASSWORD_HASH FROM SIAK_USERS WHERE USERNAME = ?",
            (entry["user_id"],),
        ).fetchone()
        assert row[:2] == ("EXPIRED", role)  # must change the password at the first login
        secret = (
            home
            / "secrets"
            / "first_passwords"
            / checked["output_ref"].split("/")[-2]
            / f"{entry['user_id']}.txt"
        )
        password = secret.read_text().split("Kata sandi awal: ")[1].split()[0]
        assert siak_accounts.password_matches(password, row[2])
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert password not in json.dumps([checked, issued]) and password not in json.dumps(
            register
        )
    assert register[people[0][0]]["mesin"] == ["pc-kec-03"]
    assert people[2][0] not in register  # pact not signed: no account
    letter = pdf_text(access_rights.proposal_dir(ctx) / "surat_pemberitahuan.pdf")
    assert "pakta integritas belum ditandatangani" in letter
    assert "NIK tidak terdaftar di SIAK" in letter
    assert (
        "tidak diberikan: baris 3: pakta integritas belum ditandatangani, baris 4: NIK tidak"
        in issued["note"]
    )
    # a retry changes nothing: the same accounts, the same first passwords
    before = db.execute("SELECT * FROM SIAK_USERS ORDER BY USERNAME").fetchall()
    assert issue(ctx)["note"] == issued["note"]
    assert db.execute(
        "SELECT USERNAME, ACCOUNT_STATUS, GRANTED_ROLE FROM SIAK_USERS ORDER BY USERNAME"
    ).fetchall() == [r[:3] for r in before]


def test_a_blocked_member_is_granted_only_on_the_kadis_decision(home, siak):
    conf, people = proposal(siak, offset=10)
    ctx = context(conf, ti=RunTI())
    access_rights.check_members(ctx)
    through_decisions(ctx)
    issue(ctx)
    nik = people[0][0]
    account = access_register.load_register()[nik]["user_id"]
    with siak_accounts.open_store() as store:
        siak_accounts.block(store, account)  # out-of-policy usage blocked this account
    access_register.update_register(
        lambda r: r[nik].update(status="diblokir", diblokir_karena="KASUS-X")
    )

    again = context({**conf, "nomor_surat": "800/16/KEC/2026"}, run_id="manual__again", ti=RunTI())
    checked = access_rights.check_members(again)
    assert (
        "diblokir (hanya dengan keputusan buka blokir): baris 1 (diblokir (KASUS-X))"
        in checked["note"]
    )
    assert checked["members"][0]["blocked"] == "diblokir (KASUS-X)"
    through_decisions(again, kadis=GRANT)
    refused = issue(again)
    assert (
        "baris 1: diblokir (KASUS-X): perlu keputusan buka blokir Kepala Dinas" in refused["note"]
    )
    with sqlite3.connect(home / "siak.db") as db:
        locked = db.execute("SELECT ACCOUNT_STATUS FROM SIAK_USERS WHERE USERNAME = ?", (account,))
        assert locked.fetchone()[0] == "EXPIRED & LOCKED"  # still locked
    assert access_register.load_register()[nik]["status"] == "diblokir"

    lifted = context(
        {**conf, "nomor_surat": "800/17/KEC/2026"}, run_id="manual__lifted", ti=RunTI()
    )
    access_rights.check_members(lifted)
    through_decisions(lifted, kadis=GRANT_AND_UNBLOCK)
    issue(lifted)
    entry = access_register.load_register()[nik]
    assert entry["status"] == "aktif" and entry["user_id"] == account
    assert [h["peristiwa"] for h in entry["riwayat"]][-2:] == [
        "blokir dibuka atas keputusan Kepala Dinas",
        "akun diterbitkan (SIAK_OPERATOR)",
    ]
    with sqlite3.connect(home / "siak.db") as db:
        status = db.execute("SELECT ACCOUNT_STATUS FROM SIAK_USERS WHERE USERNAME = ?", (account,))
        assert status.fetchone()[0] == "EXPIRED"


def test_the_check_step_never_says_whose_a_nik_is(home, siak):
    (nik, name), (other, other_name) = residents(siak, 2)
    lines = f"{nik};{name};Operator;operator_siak\n{other};Nama Keliru;Operator;operator_ktpel"
    ctx = context({"asal": "Kecamatan Contoh", "nomor_surat": "800/12/KEC/2026", "anggota": lines})
    result = access_rights.check_members(ctx)
    shown = json.dumps(result)
    assert "1 dari 2 memenuhi syarat" in result["note"] and "baris 2" in result["note"]
    for secret in (nik, other, name, other_name, other_name.split()[0], name.split()[0]):
        assert secret not in shown, secret


def test_a_refusal_ends_in_its_letter_and_issues_nothing(home, siak):
    conf, _ = proposal(siak)
    ti = RunTI()
    ctx = context(conf, ti=ti)
    access_rights.check_members(ctx)
    ti.answer("confirm_check", "Teruskan ke Kabid", "kasi")
    ti.answer("propose_to_kadis", "Tolak usulan", "kabid", catatan="SK tim belum ada")
    closed = access_rights.record_refusal(ctx, decision_tasks=["confirm_check", "propose_to_kadis"])
    assert (closed["outcome"], closed["actor"]) == ("rejected", "kabid")
    assert "SK tim belum ada" in closed["note"]
    assert "SK tim belum ada" in pdf_text(access_rights.proposal_dir(ctx) / "surat_penolakan.pdf")
    assert access_register.load_register() == {}
    returned = RunTI()
    ctx = context(conf, run_id="manual__returned", ti=returned)
    access_rights.check_members(ctx)
    returned.answer("confirm_check", "Kembalikan ke pengusul", "kasi", catatan="lampirkan SK")
    closed = access_rights.record_refusal(ctx, decision_tasks=["confirm_check"])
    assert (closed["outcome"], closed["actor"]) == ("returned", "kasi")
