"""Out-of-policy usage end to end: monitoring reads the demo database (the embedded system of
record) for a period the administrator names; four accounts working with TOAD from a laptop at
night become four cases, each in its own run of ``out_of_policy_case``, and each takes another
way out - blocked on the Kadis's order (locked, sessions ended, confirmed in the database), or
closed by the Kasi, the Kabid or the Kadis - every way archived. A period of ordinary work opens
no case and leaves one agenda line; the same evidence never opens a second case."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

# its runs write SIAK accounts, which a recovery test restoring the database would undo
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("usual_siak")]

DAG, CASE_DAG = "out_of_policy_usage", "out_of_policy_case"
WIB = ZoneInfo("Asia/Jakarta")
NIGHT = datetime(2026, 3, 2, 20, 5, tzinfo=WIB)  # a Monday evening, before the demo's log
ACCOUNTS = {"block": "UJIBLOK0001", "kasi": "UJIKASI0001", "kabid": "UJIKABID001",
            "kadis": "UJIKADIS001"}  # fmt: skip


def utc(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S")


def work(db, account: str, machine: str, program: str, start: datetime, queries: int) -> None:
    rows = [(utc(start), account, "uji", machine, program, "LOGON", None)]
    rows += [
        (utc(start + timedelta(minutes=2 + n)), account, "uji", machine, program, "SELECT",
         "BIODATA_WNI")
        for n in range(queries)
    ]  # fmt: skip
    db.executemany(
        "INSERT INTO SIAK_ACCESS_LOG (EVENT_TIMESTAMP, DBUSERNAME, OS_USERNAME, USERHOST, "
        "CLIENT_PROGRAM_NAME, ACTION_NAME, OBJECT_NAME) VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


@pytest.fixture(scope="module")
def siak(airflow):
    """The test's own activity in the e2e demo database: ordinary work of a registered
    operator on Monday morning, four accounts with TOAD from a laptop that evening."""
    register = json.loads(
        (airflow.piak_home / "storage" / "access_rights" / "register.json").read_text()
    )
    staff = next(e for e in register.values() if e["status"] == "aktif" and e["mesin"])
    program = "ktpel.exe" if staff["hak_akses"] == "operator_ktpel" else "siak.exe"
    with sqlite3.connect(airflow.piak_home / "siak_demo.db") as db:
        work(db, staff["user_id"], staff["mesin"][0], program, NIGHT.replace(hour=9), 2)
        for number, account in enumerate(ACCOUNTS.values()):
            db.execute(
                "INSERT INTO SIAK_USERS (USERNAME, ACCOUNT_STATUS, GRANTED_ROLE, CREATED) "
                "VALUES (?, 'OPEN', 'SIAK_OPERATOR', '2025-01-01 00:00:00')",
                (account,),
            )
            work(db, account, "LAPTOP-UJI", "Toad.exe", NIGHT, 5)
            db.execute(
                "INSERT INTO SIAK_SESSIONS VALUES (?, ?, ?, 'uji', 'LAPTOP-UJI', 'Toad.exe', "
                "'TOAD', ?, 'ACTIVE')",
                (9000 + number, 100 + number, account, utc(NIGHT)),
            )
        db.execute(
            "INSERT INTO SIAK_SESSIONS VALUES (9100, 7, ?, 'uji', 'pc-kec-03', 'siak.exe', "
            "'SIAK', ?, 'INACTIVE')",
            (ACCOUNTS["block"], utc(NIGHT + timedelta(minutes=10))),
        )
    return airflow.piak_home / "siak_demo.db"


def monitor(airflow, start: str, end: str) -> tuple[str, dict]:
    run_id = airflow.trigger(DAG, {"dari": start, "sampai": end}, user="administrator")
    assert airflow.wait_run(DAG, run_id) == "success"
    return run_id, {e.task_id: e for e in airflow.agenda(run_id)}


def test_ordinary_work_opens_no_case(airflow, siak):
    run_id, entries = monitor(airflow, "2026-03-02 09:00", "2026-03-02 10:00")
    assert list(entries) == ["monitor_usage"]
    note = entries["monitor_usage"].note
    assert re.search(r"\d+ sesi dan 3 aktivitas diperiksa .*: tidak ada pelanggaran baru$", note)
    assert entries["monitor_usage"].actor == "administrator"
    assert airflow.task_state(DAG, run_id, "list_cases") == "skipped"


def test_every_case_takes_its_own_way_and_ends_in_the_archive(airflow, siak):
    _run_id, entries = monitor(airflow, "2026-03-02 20:00", "2026-03-02 21:00")
    assert "4 kasus dibuka" in entries["monitor_usage"].note
    runs = {way: f"kasus__KASUS-20260302-2100-{a}" for way, a in ACCOUNTS.items()}
    forward = [
        ("report_to_kasi", "kasi", ["Teruskan ke Kabid"], {}),
        ("report_to_kabid", "kabid", ["Teruskan ke Kepala Dinas"], {}),
    ]
    airflow.drive(
        {
            (CASE_DAG, runs["block"]): [
                *forward,
                ("report_to_kadis", "kadis", ["Hentikan layanan: blokir akun dan putus sesi"], {}),
            ],
            (CASE_DAG, runs["kasi"]): [
                (
                    "report_to_kasi",
                    "kasi",
                    ["Bukan pelanggaran: tutup kasus"],
                    {"catatan": "uji beban terjadwal"},
                ),
            ],
            (CASE_DAG, runs["kabid"]): [
                forward[0],
                (
                    "report_to_kabid",
                    "kabid",
                    ["Tutup kasus: cukup teguran"],
                    {"catatan": "teguran lisan"},
                ),
            ],
            (CASE_DAG, runs["kadis"]): [
                *forward,
                (
                    "report_to_kadis",
                    "kadis",
                    ["Tidak dihentikan: tutup kasus"],
                    {"catatan": "sudah dijelaskan"},
                ),
            ],
        }
    )
    for run in runs.values():
        assert airflow.wait_run(CASE_DAG, run) == "success"
    cases = {way: {e.task_id: e for e in airflow.agenda(run)} for way, run in runs.items()}

    blocked = cases["block"]
    assert blocked["stop_service"].actor == "sistem (keputusan kadis)"
    assert "terkonfirmasi di SIAK: status LOCKED, sesi diputus: 9000,100, 9100,7" in (
        blocked["stop_service"].note
    )
    assert "layanan dihentikan, akun terkunci terkonfirmasi" in blocked["record_case"].note
    assert [blocked[t].actor for t in ("report_to_kasi", "report_to_kabid", "report_to_kadis")] == [
        "kasi", "kabid", "kadis"
    ]  # fmt: skip
    with sqlite3.connect(siak) as db:
        status = dict(db.execute("SELECT USERNAME, ACCOUNT_STATUS FROM SIAK_USERS"))
        alive = db.execute(
            "SELECT count(*) FROM SIAK_SESSIONS WHERE USERNAME = ? AND STATUS <> 'KILLED'",
            (ACCOUNTS["block"],),
        ).fetchone()[0]
    assert status[ACCOUNTS["block"]] == "LOCKED" and alive == 0
    for way, step, note in (
        ("kasi", "report_to_kasi", "uji beban terjadwal"),
        ("kabid", "report_to_kabid", "teguran lisan"),
        ("kadis", "report_to_kadis", "sudah dijelaskan"),
    ):
        closed = cases[way]
        assert closed[step].outcome == "rejected" and closed[step].note == note
        assert f"ditutup tanpa pemblokiran ({step}, {way}: {note})" in closed["record_case"].note
        assert "stop_service" not in closed and status[ACCOUNTS[way]] == "OPEN"
        assert airflow.task_state(CASE_DAG, runs[way], "stop_service") == "skipped"

    # no resident in what the signers saw or the agenda holds
    with sqlite3.connect(siak) as db:
        niks = {r[0] for r in db.execute("SELECT NIK FROM BIODATA_WNI")}
        names = {r[0] for r in db.execute("SELECT NAMA_LGKP FROM BIODATA_WNI")}
    bodies = airflow.api("kasi", "GET", f"/dags/{CASE_DAG}/dagRuns/{runs['block']}/hitlDetails")
    shown = bodies.text + json.dumps([e.note for c in cases.values() for e in c.values()])
    assert "UJIBLOK0001" in shown and "Toad.exe" in shown
    assert not set(re.findall(r"\d{16}", shown)) & niks
    assert not [n for n in names if n in shown]

    # the same evidence again opens nothing
    _, again = monitor(airflow, "2026-03-02 20:00", "2026-03-02 21:00")
    assert "tidak ada pelanggaran baru" in again["monitor_usage"].note
    assert (
        "UJIKASI0001 (sudah dalam KASUS-20260302-2100-UJIKASI0001)" in again["monitor_usage"].note
    )
