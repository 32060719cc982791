"""Out-of-policy usage: monitoring reads the demo database's sessions and access log (the
embedded system of record) and checks them against the policy and the access register; each
account with new evidence is one case, once; the block is confirmed in the database; the case is
archived whatever was decided. No resident's data reaches the evidence."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime, timedelta

import pytest
from sop_helpers import WIB, RunTI, context

from piak.core import access_register
from piak.core.errors import InvalidRequest, PiakError
from piak.engines import demo_db
from piak.sops import usage_policy


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    base = tmp_path_factory.mktemp("demo")
    demo_db.generate(base / "siak.db", residents=800, seed=3, register=base / "register.json")
    return base


@pytest.fixture
def home(demo, tmp_path, monkeypatch):
    (tmp_path / "siak.db").write_bytes((demo / "siak.db").read_bytes())
    monkeypatch.setenv("PIAK_STORAGE", str(tmp_path / "storage"))
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIAK_DB",
        json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "siak.db")}),
    )
    access_register.register_file().parent.mkdir(parents=True)
    access_register.register_file().write_text((demo / "register.json").read_text())
    return tmp_path


def monitor(start: str, end: str, run: str = "manual__x") -> dict:
    ctx = context({"dari": start, "sampai": end}, run_id=run)
    result = usage_policy.monitor_usage(ctx)
    return {**result, "runs": ctx["ti"].xcom_pull("task", "case_runs")}


def account_of(home, program: str) -> str:
    with sqlite3.connect(home / "siak.db") as db:
        return db.execute(
            "SELECT DBUSERNAME FROM SIAK_ACCESS_LOG WHERE CLIENT_PROGRAM_NAME = ? LIMIT 1",
            (program,),
        ).fetchone()[0]


def test_a_normal_working_hour_opens_no_case(home):
    found = monitor("2026-06-29 09:00", "2026-06-29 10:00")
    assert found["stop"] is True and found["runs"] == []
    period = r"\(29-06-2026 09:00 - 29-06-2026 10:00 WIB\)"
    expected = rf"\d+ sesi dan \d+ aktivitas diperiksa {period}: tidak ada pelanggaran baru$"
    assert re.match(expected, found["note"])
    assert not (home / "storage" / "out_of_policy" / "kasus").exists()


def test_toad_from_a_laptop_at_night_is_one_case_with_its_evidence(home):
    toad = account_of(home, "Toad.exe")
    found = monitor("2026-06-27 21:00", "2026-06-27 22:00")
    case_id = f"KASUS-20260627-2200-{toad}"
    assert found["cases"] == [case_id]
    assert found["runs"] == [{"trigger_run_id": f"kasus__{case_id}", "conf": {"case_id": case_id}}]
    evidence = json.loads((usage_policy.case_dir(case_id) / "bukti.json").read_text())
    broken = evidence["ringkasan"]["violations"]
    assert any(v.startswith("program Toad.exe tidak diizinkan") for v in broken)
    assert any(f"bukan komputer yang terdaftar untuk akun {toad}" in v for v in broken)
    assert any("di luar jam kerja (Sabtu 27-06-2026 21:" in v for v in broken)
    assert evidence["jumlah_bukti"] == 42  # logon, 40 queries, logoff
    assert {b["object_name"] for b in evidence["bukti"] if b["action"] == "SELECT"} == {
        "BIODATA_WNI"
    }


def test_a_bulk_export_and_an_unregistered_account(home):
    bulk = account_of(home, "SQL Developer")
    found = monitor("2026-06-24 10:00", "2026-06-24 11:00")
    (case_id,) = found["cases"]
    shown = json.loads((usage_policy.case_dir(case_id) / "bukti.json").read_text())["ringkasan"]
    assert shown["account"] == bulk
    # 900 queries with SQL Developer besides the day's ordinary work
    assert any(
        re.fullmatch(r"9\d\d aktivitas dalam 1 jam \(batas 300\)", v) for v in shown["violations"]
    )
    assert any(v.startswith("program SQL Developer tidak diizinkan") for v in shown["violations"])
    former = monitor("2026-06-29 10:00", "2026-06-29 11:00", run="manual__y")
    (case_id,) = former["cases"]
    shown = json.loads((usage_policy.case_dir(case_id) / "bukti.json").read_text())["ringkasan"]
    assert shown["holder"] == "tidak terdaftar di daftar hak akses"
    assert shown["violations"][0].startswith(f"akun {shown['account']} tidak terdaftar")


def test_evidence_already_in_a_case_opens_no_other(home):
    first = monitor("2026-06-30 19:00", "2026-06-30 20:00")
    toad = account_of(home, "Toad.exe")
    assert first["cases"] == [f"KASUS-20260630-2000-{toad}"]
    retry = monitor("2026-06-30 19:00", "2026-06-30 20:00")  # the same run again: same case
    assert retry["cases"] == first["cases"]
    # an hour later the session is still connected (already in the case) and TOAD still
    # queries: that evidence joins the open case, no second case
    later = monitor("2026-06-30 20:00", "2026-06-30 21:00", run="scheduled__z")
    case = f"KASUS-20260630-2000-{toad}"
    assert later["stop"] is True
    assert f"{toad} (bukti baru ditambahkan ke {case}, masih terbuka)" in later["note"]
    (added,) = usage_policy.case_dir(case).glob("bukti_tambahan_*.json")
    assert {b["jenis"] for b in json.loads(added.read_text())["bukti"]} == {"aktivitas"}
    again = monitor("2026-06-30 20:00", "2026-06-30 21:00", run="manual__w")  # another run
    assert f"{toad} (sudah dalam {case})" in again["note"]
    other = monitor("2026-06-30 19:00", "2026-06-30 20:00", run="manual__v")
    assert other["stop"] is True and f"{toad} (sudah dalam {case})" in other["note"]


def test_no_resident_data_in_the_evidence(home):
    monitor("2026-06-24 10:00", "2026-06-24 11:00")
    monitor("2026-06-27 21:00", "2026-06-27 22:00", run="manual__b")
    with sqlite3.connect(home / "siak.db") as db:
        niks = {r[0] for r in db.execute("SELECT NIK FROM BIODATA_WNI")}
        names = {r[0] for r in db.execute("SELECT NAMA_LGKP FROM BIODATA_WNI")}
    written = "".join(p.read_text() for p in (home / "storage" / "out_of_policy").rglob("*.json"))
    assert not set(re.findall(r"\d{16}", written)) & niks
    assert not [n for n in names if n in written]


def test_blocking_is_confirmed_in_the_database_and_the_case_archived(home):
    toad = account_of(home, "Toad.exe")
    (case_id,) = monitor("2026-06-30 19:00", "2026-06-30 20:00")["cases"]
    ti = RunTI()
    ctx = context({"case_id": case_id}, ti=ti)
    shown = usage_policy.present_case(ctx)
    assert shown["account"] == toad and shown["sessions"][0].endswith("(Toad.exe)")
    for task_id, option, user in (
        ("report_to_kasi", "Teruskan ke Kabid", "kasi"),
        ("report_to_kabid", "Teruskan ke Kepala Dinas", "kabid"),
        ("report_to_kadis", "Hentikan layanan: blokir akun dan putus sesi", "kadis"),
    ):
        ti.answer(task_id, option, user)
    stopped = usage_policy.stop_service(ctx, decision_task="report_to_kadis")
    assert stopped["actor"] == "sistem (keputusan kadis)"
    with sqlite3.connect(home / "siak.db") as db:
        status = db.execute("SELECT ACCOUNT_STATUS FROM SIAK_USERS WHERE USERNAME = ?", (toad,))
        alive = db.execute(
            "SELECT count(*) FROM SIAK_SESSIONS WHERE USERNAME = ? AND STATUS <> 'KILLED'", (toad,)
        )
        assert status.fetchone()[0] == "LOCKED" and alive.fetchone()[0] == 0
    assert f"akun {toad} dikunci; terkonfirmasi di SIAK: status LOCKED" in stopped["note"]
    _, entry = access_register.entry_for_account(access_register.load_register(), toad)
    assert (entry["status"], entry["diblokir_karena"]) == ("diblokir", case_id)
    archived = usage_policy.record_case(
        ctx, decision_tasks=["report_to_kasi", "report_to_kabid", "report_to_kadis"]
    )
    text = (usage_policy.case_dir(case_id) / "arsip.md").read_text()
    assert "layanan dihentikan, akun terkunci terkonfirmasi" in archived["note"]
    assert (
        "report_to_kadis oleh kadis: Hentikan layanan" in text
        and "terkunci (status LOCKED)" in text
    )
    again = usage_policy.stop_service(ctx, decision_task="report_to_kadis")  # a retry
    assert "sudah terkunci sebelumnya" in again["note"]


def test_a_case_closed_by_the_kasi_is_archived_without_a_block(home):
    (case_id,) = monitor("2026-06-27 21:00", "2026-06-27 22:00")["cases"]
    ti = RunTI()
    ti.answer("report_to_kasi", "Bukan pelanggaran: tutup kasus", "kasi", catatan="tugas lembur")
    ctx = context({"case_id": case_id}, ti=ti)
    archived = usage_policy.record_case(ctx, decision_tasks=["report_to_kasi", "report_to_kabid"])
    assert archived["note"].endswith(
        "ditutup tanpa pemblokiran (report_to_kasi, kasi: tugas lembur)"
    )
    assert not (usage_policy.case_dir(case_id) / "tindakan.json").exists()


def test_the_window_is_the_hour_before_the_run_or_the_period_asked_for(home):
    policy = usage_policy.load_policy()
    when = datetime(2026, 11, 25, 10, 0, tzinfo=WIB)
    ctx = context({}, when=when)
    assert usage_policy.window(ctx, policy) == (when - timedelta(hours=1), when)
    ctx = context({"dari": "2026-11-24 08:00", "sampai": "2026-11-24T12:00:00+07:00"})
    assert usage_policy.window(ctx, policy)[1] == datetime(2026, 11, 24, 12, tzinfo=WIB)
    for params, field in (
        ({"dari": "kemarin"}, "dari"),
        ({"dari": "2026-11-24 12:00", "sampai": "2026-11-24 08:00"}, "dari"),
        ({"dari": "2026-11-01 08:00", "sampai": "2026-11-24 08:00"}, "dari"),
    ):
        with pytest.raises(InvalidRequest, match=f"^{field}: "):
            usage_policy.window(context(params), policy)
    with pytest.raises(InvalidRequest, match="case_id"):
        usage_policy.case_dir("../../etc")


def test_the_policy_file_is_checked(tmp_path):
    path = tmp_path / "usage_policy.yaml"
    path.write_text("allowed_programs: ['(']\nallowed_machines: []\n")
    with pytest.raises(PiakError, match=r"allowed_programs\[0\]: pola tidak sah"):
        usage_policy.load_policy(path)
    path.write_text("allowed_programs: []\nallowed_machines: []\noffice_hours: {days: [ahad]}\n")
    with pytest.raises(PiakError, match="hari tidak dikenal ahad"):
        usage_policy.load_policy(path)
    assert usage_policy.load_policy().schedule == "0 * * * *"
