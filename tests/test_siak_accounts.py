"""SIAK accounts in the system of record: blocking and granting against the embedded demo
database (real SQLite), and the Oracle statements - generated and quoted as units, and the flow
against a recording DB-API stand-in (tests/oracle_standin/recording_dbapi.py; no Oracle
server is involved)."""

from __future__ import annotations

import logging
import sqlite3
import stat
from datetime import UTC, datetime

import pytest
from oracle_standin.recording_dbapi import RecordingOracle

from piak.core.errors import PiakError
from piak.engines import demo_db, siak_accounts
from piak.engines.siak_accounts import NotConfirmed


@pytest.fixture
def config(tmp_path):
    return siak_accounts.load_config().model_copy(
        update={"first_password_dir": tmp_path / "secrets" / "first"}
    )


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("siak") / "siak.db"
    demo_db.generate(path, residents=600, seed=5)
    return path


@pytest.fixture
def db(demo_file, tmp_path):
    copy = tmp_path / "siak.db"
    copy.write_bytes(demo_file.read_bytes())
    conn = sqlite3.connect(copy)
    yield conn
    conn.close()


def store_of(db, config) -> siak_accounts.SqliteAccountStore:
    return siak_accounts.SqliteAccountStore(db, config)


def connected(db) -> str:
    """An ordinary account with a session still connected in the demo database."""
    return db.execute(
        "SELECT s.USERNAME FROM SIAK_SESSIONS s JOIN SIAK_USERS u USING (USERNAME) "
        "WHERE u.ACCOUNT_STATUS = 'OPEN' AND u.GRANTED_ROLE IS NOT NULL ORDER BY s.SID LIMIT 1"
    ).fetchone()[0]


# -- embedded ------------------------------------------------------------------------------


def test_blocking_locks_the_account_and_ends_its_sessions(db, config):
    store = store_of(db, config)
    name = connected(db)
    sessions = [s.ref for s in siak_accounts.live_sessions(store, name)]
    done = siak_accounts.block(store, name.lower())
    assert done == {
        "account": name,
        "status": "LOCKED",
        "killed": sessions,
        "already_locked": False,
    }
    # read back from the database itself, not from what the code said
    assert db.execute(
        "SELECT ACCOUNT_STATUS, LOCK_DATE IS NOT NULL FROM SIAK_USERS WHERE USERNAME = ?", (name,)
    ).fetchone() == ("LOCKED", 1)
    assert {
        r[0] for r in db.execute("SELECT STATUS FROM SIAK_SESSIONS WHERE USERNAME = ?", (name,))
    } == {"KILLED"}
    again = siak_accounts.block(store, name)
    assert again["already_locked"] and again["killed"] == []


def test_a_block_the_database_does_not_keep_is_not_reported_as_done(db, config):
    name = connected(db)
    db.execute(
        "CREATE TRIGGER refuse_lock AFTER UPDATE OF ACCOUNT_STATUS ON SIAK_USERS "
        "BEGIN UPDATE SIAK_USERS SET ACCOUNT_STATUS = 'OPEN' WHERE USERNAME = NEW.USERNAME; END"
    )
    with pytest.raises(NotConfirmed, match=f"akun {name} dibaca ulang: status OPEN"):
        siak_accounts.block(store_of(db, config), name)


def test_protected_and_unknown_accounts_are_refused_before_anything_changes(db, config):
    store = store_of(db, config)
    with pytest.raises(PiakError, match="dilindungi"):
        siak_accounts.block(store, "SIAK_APP")
    with pytest.raises(NotConfirmed, match="tidak ada di SIAK"):
        siak_accounts.block(store, "TIDAKADA0001")
    for bad in ("op.siti", "X", 'A" ACCOUNT UNLOCK --', "1ABC", "A" * 31):
        with pytest.raises(PiakError, match="nama akun"):
            siak_accounts.block(store, bad)
    assert (
        db.execute("SELECT count(*) FROM SIAK_USERS WHERE ACCOUNT_STATUS = 'LOCKED'").fetchone()[0]
        == 1
    )


def test_granting_creates_or_reenables_with_the_named_role_and_an_expired_password(db, config):
    store = store_of(db, config)
    created = siak_accounts.grant(store, "BARU0042", "operator_ktpel", "Ab#_12cdEF-34ghij")
    assert created == {
        "account": "BARU0042",
        "status": "EXPIRED",
        "role": "KTPEL_OPERATOR",
        "created": True,
    }
    status, role, stored = db.execute(
        "SELECT ACCOUNT_STATUS, GRANTED_ROLE, PASSWORD_HASH FROM SIAK_USERS "
        "WHERE USERNAME = 'BARU0042'"
    ).fetchone()
    assert (status, role) == ("EXPIRED", "KTPEL_OPERATOR")
    assert siak_accounts.password_matches("Ab#_12cdEF-34ghij", stored)
    assert "Ab#_12cdEF-34ghij" not in stored
    siak_accounts.block(store, "BARU0042")
    again = siak_accounts.grant(store, "BARU0042", "supervisor", "Zz#_98yxWV-76utsr")
    assert (again["status"], again["role"], again["created"]) == (
        "EXPIRED",
        "SIAK_SUPERVISOR",
        False,
    )


def test_the_first_password_is_owner_only_and_the_same_on_a_retry(config):
    path, password = siak_accounts.first_password(config, "HAKAKSES-1", "siti4471")
    assert path.name == "SITI4471.txt" and password in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert siak_accounts.first_password(config, "HAKAKSES-1", "SITI4471") == (path, password)
    assert siak_accounts.first_password(config, "HAKAKSES-2", "SITI4471")[1] != password


def test_new_passwords_meet_oracle_strong_rules_and_never_carry_a_quote():
    for _ in range(200):
        password = siak_accounts.new_password()
        assert len(password) == 16 and '"' not in password and password[0].isalpha()
        assert sum(c.isupper() for c in password) >= 2 and sum(c.isdigit() for c in password) >= 2
        assert sum(c in "#_-" for c in password) >= 2


def test_sessions_and_audit_events_of_the_demo_database(db, config):
    store = store_of(db, config)
    sessions = store.sessions()
    assert all(s.logon_time.tzinfo is UTC for s in sessions)
    toad = [s for s in sessions if s.program == "Toad.exe"]
    assert toad and toad[0].machine.startswith("LAPTOP-")
    start, end = datetime(2026, 6, 29, 0, tzinfo=UTC), datetime(2026, 6, 30, 0, tzinfo=UTC)
    events = store.audit_events(start, end)
    assert events and all(start <= e.at < end for e in events)
    assert {e.action for e in events} >= {"LOGON", "SELECT", "LOGOFF"}


# -- Oracle: statements --------------------------------------------------------------------


def test_oracle_statements_quote_checked_identifiers():
    assert siak_accounts.lock_statement("siti4471") == 'ALTER USER "SITI4471" ACCOUNT LOCK'
    assert (
        siak_accounts.kill_statement(231, "877") == "ALTER SYSTEM KILL SESSION '231,877' IMMEDIATE"
    )
    assert siak_accounts.create_user_statement("BARU0001", "Ab#_12cd") == (
        'CREATE USER "BARU0001" IDENTIFIED BY "Ab#_12cd" PASSWORD EXPIRE ACCOUNT UNLOCK'
    )
    assert siak_accounts.grant_role_statement("siak_operator", "BARU0001") == (
        'GRANT "SIAK_OPERATOR" TO "BARU0001"'
    )
    assert siak_accounts.revoke_role_statement("KTPEL_OPERATOR", "BARU0001") == (
        'REVOKE "KTPEL_OPERATOR" FROM "BARU0001"'
    )


@pytest.mark.parametrize(
    "attempt",
    [
        lambda: siak_accounts.lock_statement('SITI" ACCOUNT UNLOCK; --'),
        lambda: siak_accounts.lock_statement("SYS IDENTIFIED BY x"),
        lambda: siak_accounts.kill_statement("1,2' IMMEDIATE; --", 3),
        lambda: siak_accounts.kill_statement(-1, 3),
        lambda: siak_accounts.kill_statement(True, 3),
        lambda: siak_accounts.create_user_statement("BARU0001", 'x" ACCOUNT UNLOCK --'),
        lambda: siak_accounts.grant_role_statement("DBA WITH ADMIN OPTION", "BARU0001"),
    ],
)
def test_identifiers_are_data_never_syntax(attempt):
    with pytest.raises(PiakError):
        attempt()


# -- Oracle: the flow against the recording stand-in ----------------------------------------


def oracle(**state) -> RecordingOracle:
    users = {"SITI4471": {"status": "OPEN", "roles": {"SIAK_OPERATOR"}}}
    sessions = [
        {"sid": 231, "serial": 877, "username": "SITI4471", "machine": "LAPTOP-SITI",
         "program": "Toad.exe", "logon_time": datetime(2026, 11, 25, 21, 10)},
        {"sid": 240, "serial": 12, "username": "SITI4471", "machine": "pc-kec-03",
         "program": "siak.exe", "logon_time": datetime(2026, 11, 25, 8, 0), "status": "INACTIVE"},
        {"sid": 7, "serial": 1, "username": "SIAK_APP", "logon_time": datetime(2026, 11, 20, 5)},
    ]  # fmt: skip
    return RecordingOracle(users=state.pop("users", users), sessions=sessions, **state)


def test_oracle_block_locks_then_kills_then_reads_again(config):
    db = oracle()
    done = siak_accounts.block(siak_accounts.OracleAccountStore(db, config), "siti4471")
    assert done["killed"] == ["231,877", "240,12"] and done["status"] == "LOCKED"
    changes = [sql for sql, _ in db.statements if not sql.startswith("SELECT")]
    assert changes == [
        'ALTER USER "SITI4471" ACCOUNT LOCK',
        "ALTER SYSTEM KILL SESSION '231,877' IMMEDIATE",
        "ALTER SYSTEM KILL SESSION '240,12' IMMEDIATE",
    ]
    last_reads = [sql.split(" FROM ")[1].split()[0] for sql, _ in db.statements[-3:]]
    assert last_reads == ["DBA_USERS", "DBA_ROLE_PRIVS", "V$SESSION"]  # confirmed afterwards
    assert ("SELECT USERNAME, ACCOUNT_STATUS FROM DBA_USERS WHERE USERNAME = :username",
            {"username": "SITI4471"}) in db.statements  # fmt: skip
    assert db.sessions[2].get("status", "ACTIVE") == "ACTIVE"  # another account's session untouched


def test_oracle_block_not_confirmed_when_a_session_survives(config):
    db = oracle(ignore={"kill"})
    with pytest.raises(NotConfirmed, match="sesi masih hidup: 231,877, 240,12"):
        siak_accounts.block(siak_accounts.OracleAccountStore(db, config), "SITI4471")


def test_oracle_a_session_gone_before_the_kill_is_not_an_error(config):
    db = oracle()
    store = siak_accounts.OracleAccountStore(db, config)
    gone = store.sessions()[0]
    db.sessions.pop(0)
    store.kill(gone)  # ORA-00030 from the database: the session already ended
    assert db.executed("ALTER SYSTEM") == ["ALTER SYSTEM KILL SESSION '231,877' IMMEDIATE"]


def test_oracle_grant_never_logs_the_password(config, caplog):
    caplog.set_level(logging.DEBUG)
    db = oracle()
    store = siak_accounts.OracleAccountStore(db, config)
    _, password = siak_accounts.first_password(config, "HAKAKSES-9", "BARU0001")
    done = siak_accounts.grant(store, "BARU0001", "operator_siak", password)
    assert done["created"] and db.users["BARU0001"]["password"] == password
    assert db.executed("CREATE USER") == [
        f'CREATE USER "BARU0001" IDENTIFIED BY "{password}" PASSWORD EXPIRE ACCOUNT UNLOCK'
    ]
    assert db.executed("GRANT") == ['GRANT "SIAK_OPERATOR" TO "BARU0001"']
    # re-enable with another role: the old SIAK role is revoked, the new one granted
    siak_accounts.block(store, "SITI4471")
    again = siak_accounts.grant(store, "SITI4471", "supervisor", password)
    assert again["status"] == "EXPIRED" and db.users["SITI4471"]["roles"] == {"SIAK_SUPERVISOR"}
    assert 'REVOKE "SIAK_OPERATOR" FROM "SITI4471"' in db.executed("REVOKE")
    assert password not in caplog.text


def test_an_oracle_error_never_carries_the_statement(config):
    db = oracle(users={"BARU0001": {"status": "OPEN", "roles": set()}})
    store = siak_accounts.OracleAccountStore(db, config)
    with pytest.raises(PiakError) as err:
        store.create("BARU0001", "SIAK_OPERATOR", "Secret#_12ab")
    assert "ORA-01920" in str(err.value) and "Secret" not in str(err.value)
    assert err.value.__cause__ is None and err.value.__context__ is not None  # chain suppressed


def test_oracle_reads_sessions_in_the_server_time_zone_and_the_audit_in_utc(config):
    db = oracle()
    user = {"sessionid": 5, "username": "SITI4471"}
    db.audit = [
        {**user, "entry_id": 1, "at": datetime(2026, 11, 25, 14, 10), "machine": "LAPTOP-SITI",
         "program": "Toad.exe", "action": "SELECT", "object": "BIODATA_WNI"},
        {**user, "entry_id": 2, "at": datetime(2026, 11, 25, 16, 0), "action": "LOGOFF"},
    ]  # fmt: skip
    store = siak_accounts.OracleAccountStore(db, config)
    sessions = store.sessions()
    assert sessions[0].logon_time == datetime(2026, 11, 25, 14, 10, tzinfo=UTC)  # 21:10 WIB
    events = store.audit_events(
        datetime(2026, 11, 25, 14, tzinfo=UTC), datetime(2026, 11, 25, 15, tzinfo=UTC)
    )
    assert [(e.key, e.action, e.object_name) for e in events] == [
        ("audit:5:1:1", "SELECT", "BIODATA_WNI")
    ]
    off = siak_accounts.OracleAccountStore(db, config.model_copy(update={"audit_trail": False}))
    before = len(db.statements)
    assert (
        off.audit_events(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)) == []
    )
    assert len(db.statements) == before  # unified auditing off: the view is not even read


def test_the_accounts_configuration_is_checked(tmp_path):
    path = tmp_path / "accounts.yaml"
    path.write_text("roles: {operator_siak: SIAK_OPERATOR, supervisor: 'DBA; --'}\n")
    with pytest.raises(PiakError, match=r"accounts.yaml: roles.supervisor: nama akun"):
        siak_accounts.load_config(path)
    path.write_text("roles: {operator_siak: A1, supervisor: B1}\n")
    with pytest.raises(PiakError, match="kurang operator_ktpel"):
        siak_accounts.load_config(path)
