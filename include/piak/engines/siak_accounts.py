"""SIAK's accounts, their sessions and their audit trail - read and changed in the system of record.

Two SOPs act on accounts. *Hak Akses* (step 5) creates or re-enables an account with the role
the decision names and an expired first password; *Penggunaan diluar Ketentuan* reads who is
connected and what they do (step 1) and blocks an account (step 5): locks it, ends its sessions,
then reads both again - what is reported is what the second read shows, never what was asked.

Where (``config/accounts.yaml``, Connection ``conn_id``):

- **Oracle** (production), through the oracle provider's ``OracleHook``: sessions from
  ``V$SESSION``, the audit trail from ``UNIFIED_AUDIT_TRAIL`` (when ``audit_trail`` is on),
  accounts from ``DBA_USERS`` / ``DBA_ROLE_PRIVS``; ``ALTER USER "X" ACCOUNT LOCK``,
  ``ALTER SYSTEM KILL SESSION 'sid,serial#' IMMEDIATE``, ``CREATE USER`` / ``ALTER USER ...
  IDENTIFIED BY ... PASSWORD EXPIRE ACCOUNT UNLOCK``, ``GRANT`` / ``REVOKE`` of the configured
  roles. The login needs exactly the rights listed in the README ("Akun SIAK").
- **Embedded** (the demo database, SQLite): tables ``SIAK_USERS``, ``SIAK_SESSIONS`` and
  ``SIAK_ACCESS_LOG`` with the same meaning (see :mod:`piak.engines.demo_db`).

Identifiers are data. Oracle's DDL takes no bind variables, so an account or role name reaches
a statement only after :func:`account_name` / :func:`role_name` accepted it
(``[A-Z][A-Z0-9_]{1,29}``), and then double-quoted; SID and SERIAL# only as integers; a
password only from :func:`new_password` (no quote character). A statement that carries a
password is never logged, and an error from it never carries the statement.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import string
from collections.abc import Generator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, Field, model_validator

from piak.core import settings
from piak.core.config import HomePath, Strict, load_model
from piak.core.errors import PiakError
from piak.core.files import write_text_atomic

_NAME = re.compile(r"^[A-Z][A-Z0-9_]{1,29}$")
_SPECIALS = "#_-"
KILLED = "KILLED"


#: Access roles that may be issued (code -> what it means, in Bahasa Indonesia).
ACCESS_ROLES = {
    "operator_siak": "Operator SIAK (pendaftaran penduduk dan pencatatan sipil)",
    "operator_ktpel": "Operator KTP-el (perekaman dan pencetakan)",
    "supervisor": "Supervisor (verifikasi dan persetujuan)",
}


def username_for(member: dict[str, Any], taken: set[str] | frozenset[str] = frozenset()) -> str:
    """``SITI4471``: the first name (letters, at most 12) and the NIK's last four digits, upper
    case as Oracle keeps it; ``_2``, ``_3``... when another person already has that name."""
    first = re.sub(r"[^A-Z]", "", member["name"].split()[0].upper())[:12] or "PENGGUNA"
    base = f"{first}{member['nik'][-4:]}"
    name, number = base, 1
    while name in taken:
        number += 1
        name = f"{base}_{number}"
    return name


class NotConfirmed(PiakError):
    """The system of record, read again, does not show what was done (nothing is reported as
    done)."""


def account_name(value: Any) -> str:
    """An account name as Oracle stores it (upper case); anything else is refused."""
    name = str(value or "").strip().upper()
    if not _NAME.match(name):
        raise PiakError(
            f"nama akun {str(value)[:40]!r} tidak sah: huruf A-Z, angka dan _, 2-30 karakter, "
            "diawali huruf"
        )
    return name


def role_name(value: Any) -> str:
    """A database role name (upper case), refused like an account name."""
    try:
        return account_name(value)
    except PiakError:
        raise PiakError(f"nama peran basis data {str(value)[:40]!r} tidak sah") from None


def _name(value: Any) -> str:
    try:
        return account_name(value)
    except PiakError as exc:
        raise ValueError(str(exc)) from None


AccountName = Annotated[str, AfterValidator(_name)]


class AccountsConfig(Strict):
    """``config/accounts.yaml``: where the accounts live and which roles may be granted."""

    conn_id: str = Field(default="siak_db", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
    #: access role of the proposal form (``access_rights.ACCESS_ROLES``) -> database role
    roles: dict[str, AccountName]
    #: never locked, never granted (SYS, the application's own login, this login...)
    protected: tuple[AccountName, ...] = ()
    #: owner-only folder of the first passwords, one file per account (relative: PIAK_HOME)
    first_password_dir: HomePath = Path("secrets/first_passwords")
    #: Oracle: the time zone of DATE columns (V$SESSION.LOGON_TIME) - the database server's
    db_timezone: str = settings.TIMEZONE
    #: Oracle: read UNIFIED_AUDIT_TRAIL (off where unified auditing is not enabled)
    audit_trail: bool = True

    @model_validator(mode="after")
    def _known(self) -> AccountsConfig:
        missing = sorted(set(ACCESS_ROLES) - set(self.roles))
        unknown = sorted(set(self.roles) - set(ACCESS_ROLES))
        if missing or unknown:
            raise ValueError(
                f"roles: harus tepat {', '.join(ACCESS_ROLES)}"
                + (f" (kurang {', '.join(missing)})" if missing else "")
                + (f" (tidak dikenal {', '.join(unknown)})" if unknown else "")
            )
        try:
            ZoneInfo(self.db_timezone)
        except (KeyError, ValueError):
            raise ValueError(f"db_timezone: zona waktu tidak dikenal: {self.db_timezone}") from None
        return self


def config_file() -> Path:
    return settings.config_file("PIAK_ACCOUNTS_FILE", "accounts.yaml")


def load_config(path: Path | None = None) -> AccountsConfig:
    return load_model(path or config_file(), AccountsConfig, "akun SIAK")


# -- what the system of record holds ----------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """One connected session (V$SESSION)."""

    sid: int
    serial: int
    username: str
    osuser: str | None
    machine: str | None
    program: str | None
    module: str | None
    logon_time: datetime  # aware, UTC
    status: str

    @property
    def ref(self) -> str:
        return f"{self.sid},{self.serial}"

    def evidence(self) -> dict[str, Any]:
        return {**asdict(self), "logon_time": self.logon_time.isoformat()}


@dataclass(frozen=True)
class AuditEvent:
    """One audited action (UNIFIED_AUDIT_TRAIL / the demo's access log)."""

    key: str
    at: datetime  # aware, UTC
    username: str
    osuser: str | None
    machine: str | None
    program: str | None
    action: str
    object_name: str | None

    def evidence(self) -> dict[str, Any]:
        return {**asdict(self), "at": self.at.isoformat()}


@dataclass(frozen=True)
class Account:
    """An account as DBA_USERS shows it, with its granted roles."""

    username: str
    status: str
    roles: tuple[str, ...]

    @property
    def locked(self) -> bool:
        return "LOCKED" in self.status

    @property
    def password_expired(self) -> bool:
        return "EXPIRED" in self.status


class AccountStore:
    """One system of record, read and changed through a DB-API connection."""

    def __init__(self, conn: Any, config: AccountsConfig) -> None:
        self.conn, self.config = conn, config

    def sessions(self) -> list[Session]:
        raise NotImplementedError

    def audit_events(self, start: datetime, end: datetime) -> list[AuditEvent]:
        raise NotImplementedError

    def account(self, username: str) -> Account | None:
        raise NotImplementedError

    def lock(self, username: str) -> None:
        raise NotImplementedError

    def kill(self, session: Session) -> None:
        raise NotImplementedError

    def create(self, username: str, role: str, password: str) -> None:
        raise NotImplementedError

    def enable(self, username: str, role: str, password: str, revoke: list[str]) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        self.conn.commit()

    def _rows(self, sql: str, binds: Any = ()) -> list[tuple]:
        cursor = self.conn.cursor()
        try:
            cursor.execute(sql, binds)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def _run(self, sql: str, binds: Any = (), *, what: str) -> None:
        cursor = self.conn.cursor()
        try:
            cursor.execute(sql, binds) if binds else cursor.execute(sql)
        except Exception as exc:  # the statement may carry a password: never in the error
            message = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            raise PiakError(f"{what} gagal: {type(exc).__name__}: {message}") from None
        finally:
            cursor.close()


# -- the embedded default: the demo database ------------------------------------------------

_SQLITE_TIME = "%Y-%m-%d %H:%M:%S"


def sqlite_time(when: datetime) -> str:
    """How the demo database stores a moment: UTC, ``YYYY-MM-DD HH:MM:SS``."""
    return when.astimezone(UTC).strftime(_SQLITE_TIME)


def _from_sqlite(text: str) -> datetime:
    return datetime.strptime(text, _SQLITE_TIME).replace(tzinfo=UTC)


class SqliteAccountStore(AccountStore):
    """The demo database's SIAK_USERS, SIAK_SESSIONS and SIAK_ACCESS_LOG."""

    def sessions(self) -> list[Session]:
        rows = self._rows(
            "SELECT SID, SERIAL, USERNAME, OSUSER, MACHINE, PROGRAM, MODULE, LOGON_TIME, STATUS "
            "FROM SIAK_SESSIONS ORDER BY SID"
        )
        return [Session(*r[:7], _from_sqlite(r[7]), r[8]) for r in rows]

    def audit_events(self, start: datetime, end: datetime) -> list[AuditEvent]:
        rows = self._rows(
            "SELECT ENTRY_ID, EVENT_TIMESTAMP, DBUSERNAME, OS_USERNAME, USERHOST, "
            "CLIENT_PROGRAM_NAME, ACTION_NAME, OBJECT_NAME FROM SIAK_ACCESS_LOG "
            "WHERE EVENT_TIMESTAMP >= ? AND EVENT_TIMESTAMP < ? ORDER BY EVENT_TIMESTAMP, ENTRY_ID",
            (sqlite_time(start), sqlite_time(end)),
        )
        return [AuditEvent(f"log:{r[0]}", _from_sqlite(r[1]), *r[2:]) for r in rows]

    def account(self, username: str) -> Account | None:
        rows = self._rows(
            "SELECT USERNAME, ACCOUNT_STATUS, GRANTED_ROLE FROM SIAK_USERS WHERE USERNAME = ?",
            (account_name(username),),
        )
        if not rows:
            return None
        name, status, role = rows[0]
        return Account(name, status, (role,) if role else ())

    def lock(self, username: str) -> None:
        self._run(
            "UPDATE SIAK_USERS SET ACCOUNT_STATUS = CASE WHEN ACCOUNT_STATUS LIKE 'EXPIRED%' "
            "THEN 'EXPIRED & LOCKED' ELSE 'LOCKED' END, LOCK_DATE = ? WHERE USERNAME = ?",
            (sqlite_time(datetime.now(UTC)), account_name(username)),
            what="mengunci akun",
        )

    def kill(self, session: Session) -> None:
        self._run(
            "UPDATE SIAK_SESSIONS SET STATUS = 'KILLED' WHERE SID = ? AND SERIAL = ?",
            (int(session.sid), int(session.serial)),
            what="memutus sesi",
        )

    def create(self, username: str, role: str, password: str) -> None:
        self._run(
            "INSERT INTO SIAK_USERS (USERNAME, ACCOUNT_STATUS, GRANTED_ROLE, CREATED, "
            "PASSWORD_HASH) VALUES (?, 'EXPIRED', ?, ?, ?)",
            (account_name(username), role_name(role), sqlite_time(datetime.now(UTC)),
             password_hash(password)),
            what=f"membuat akun {account_name(username)}",
        )  # fmt: skip

    def enable(self, username: str, role: str, password: str, revoke: list[str]) -> None:
        self._run(
            "UPDATE SIAK_USERS SET ACCOUNT_STATUS = 'EXPIRED', GRANTED_ROLE = ?, "
            "PASSWORD_HASH = ?, LOCK_DATE = NULL WHERE USERNAME = ?",
            (role_name(role), password_hash(password), account_name(username)),
            what=f"mengaktifkan akun {account_name(username)}",
        )


def password_hash(password: str) -> str:
    """How the demo database keeps a password: scrypt with a random salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    kind, salt, digest = stored.split("$")
    if kind != "scrypt":
        return False
    again = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1)
    return secrets.compare_digest(again.hex(), digest)


# -- Oracle ---------------------------------------------------------------------------------


def quoted(name: str) -> str:
    """A checked account or role name as a quoted Oracle identifier."""
    return f'"{account_name(name)}"'


def lock_statement(username: str) -> str:
    return f"ALTER USER {quoted(username)} ACCOUNT LOCK"


def kill_statement(sid: Any, serial: Any) -> str:
    numbers = []
    for value in (sid, serial):
        if isinstance(value, bool) or not re.fullmatch(r"\d{1,10}", str(value).strip()):
            raise PiakError(f"SID,SERIAL# tidak sah: {str(sid)[:20]!r},{str(serial)[:20]!r}")
        numbers.append(int(str(value).strip()))
    return f"ALTER SYSTEM KILL SESSION '{numbers[0]},{numbers[1]}' IMMEDIATE"


def _password(password: str) -> str:
    if not password or '"' in password or "\x00" in password or len(password) > 30:
        raise PiakError("kata sandi awal tidak sah (dibuat ulang oleh sistem)")
    return f'"{password}"'


def create_user_statement(username: str, password: str) -> str:
    return (
        f"CREATE USER {quoted(username)} IDENTIFIED BY {_password(password)} "
        "PASSWORD EXPIRE ACCOUNT UNLOCK"
    )


def enable_user_statement(username: str, password: str) -> str:
    return (
        f"ALTER USER {quoted(username)} IDENTIFIED BY {_password(password)} "
        "PASSWORD EXPIRE ACCOUNT UNLOCK"
    )


def grant_role_statement(role: str, username: str) -> str:
    return f'GRANT "{role_name(role)}" TO {quoted(username)}'


def revoke_role_statement(role: str, username: str) -> str:
    return f'REVOKE "{role_name(role)}" FROM {quoted(username)}'


#: ORA-00030: "User session ID does not exist" - the session ended before it was killed.
_SESSION_GONE = "ORA-00030"


class OracleAccountStore(AccountStore):
    """SIAK's Oracle database, through the Connection's OracleHook (python-oracledb)."""

    def _aware(self, value: datetime) -> datetime:
        if value.tzinfo is None:
            value = value.replace(tzinfo=ZoneInfo(self.config.db_timezone))
        return value.astimezone(UTC)

    def sessions(self) -> list[Session]:
        rows = self._rows(
            "SELECT SID, SERIAL#, USERNAME, OSUSER, MACHINE, PROGRAM, MODULE, LOGON_TIME, STATUS "
            "FROM V$SESSION WHERE TYPE = 'USER' AND USERNAME IS NOT NULL ORDER BY SID"
        )
        return [Session(int(r[0]), int(r[1]), *r[2:7], self._aware(r[7]), r[8]) for r in rows]

    def audit_events(self, start: datetime, end: datetime) -> list[AuditEvent]:
        if not self.config.audit_trail:
            return []
        rows = self._rows(
            "SELECT SESSIONID, ENTRY_ID, STATEMENT_ID, EVENT_TIMESTAMP_UTC, DBUSERNAME, "
            "OS_USERNAME, USERHOST, CLIENT_PROGRAM_NAME, ACTION_NAME, OBJECT_NAME "
            "FROM UNIFIED_AUDIT_TRAIL WHERE EVENT_TIMESTAMP_UTC >= :start_utc "
            "AND EVENT_TIMESTAMP_UTC < :end_utc AND DBUSERNAME IS NOT NULL "
            "ORDER BY EVENT_TIMESTAMP_UTC",
            {
                "start_utc": start.astimezone(UTC).replace(tzinfo=None),
                "end_utc": end.astimezone(UTC).replace(tzinfo=None),
            },
        )
        return [
            AuditEvent(
                f"audit:{r[0]}:{r[1]}:{r[2]}", r[3].replace(tzinfo=UTC), r[4], r[5], r[6], r[7],
                str(r[8]), r[9],
            )
            for r in rows
        ]  # fmt: skip

    def account(self, username: str) -> Account | None:
        name = account_name(username)
        rows = self._rows(
            "SELECT USERNAME, ACCOUNT_STATUS FROM DBA_USERS WHERE USERNAME = :username",
            {"username": name},
        )
        if not rows:
            return None
        roles = self._rows(
            "SELECT GRANTED_ROLE FROM DBA_ROLE_PRIVS WHERE GRANTEE = :username ORDER BY 1",
            {"username": name},
        )
        return Account(rows[0][0], rows[0][1], tuple(r[0] for r in roles))

    def lock(self, username: str) -> None:
        self._run(lock_statement(username), what=f"mengunci akun {account_name(username)}")

    def kill(self, session: Session) -> None:
        try:
            self._run(kill_statement(session.sid, session.serial), what="memutus sesi")
        except PiakError as exc:
            if _SESSION_GONE not in str(exc):
                raise

    def create(self, username: str, role: str, password: str) -> None:
        name = account_name(username)
        self._run(create_user_statement(name, password), what=f"membuat akun {name}")
        self._run(grant_role_statement(role, name), what=f"memberi peran kepada {name}")

    def enable(self, username: str, role: str, password: str, revoke: list[str]) -> None:
        name = account_name(username)
        self._run(enable_user_statement(name, password), what=f"mengaktifkan akun {name}")
        for old in revoke:
            self._run(revoke_role_statement(old, name), what=f"mencabut peran dari {name}")
        self._run(grant_role_statement(role, name), what=f"memberi peran kepada {name}")

    def commit(self) -> None:  # DDL commits by itself; nothing else is changed
        return None


@contextlib.contextmanager
def open_store(config: AccountsConfig | None = None) -> Generator[AccountStore, None, None]:
    """The store of the configured Connection (sqlite: the demo database; oracle: SIAK)."""
    from airflow.sdk import BaseHook

    from piak.engines.siak_db import connect

    config = config or load_config()
    kind = BaseHook.get_connection(config.conn_id).conn_type
    stores = {"sqlite": SqliteAccountStore, "oracle": OracleAccountStore}
    if kind not in stores:
        raise PiakError(
            f"Connection {config.conn_id}: jenis {kind!r} tidak didukung (sqlite/oracle)"
        )
    conn = connect(config.conn_id)
    try:
        yield stores[kind](conn, config)
    finally:
        conn.close()


# -- what the SOPs do with them -------------------------------------------------------------


def live_sessions(store: AccountStore, username: str) -> list[Session]:
    name = account_name(username)
    return [s for s in store.sessions() if s.username.upper() == name and s.status != KILLED]


def block(store: AccountStore, username: str) -> dict[str, Any]:
    """Lock ``username`` and end its sessions, then read both again.

    Returns what the second read showed: ``{"account", "status", "killed": ["sid,serial"...],
    "already_locked"}``. Raises :class:`NotConfirmed` when the account is not locked or a
    session of it is still alive afterwards.
    """
    name = account_name(username)
    if name in store.config.protected:
        raise PiakError(f"akun {name} dilindungi (accounts.yaml: protected): tidak diblokir")
    before = store.account(name)
    if before is None:
        raise NotConfirmed(f"akun {name} tidak ada di SIAK: tidak ada yang dapat dikunci")
    if not before.locked:  # lock first: the user cannot log on again between the kills
        store.lock(name)
    killed = live_sessions(store, name)
    for session in killed:
        store.kill(session)
    store.commit()
    after = store.account(name)
    left = live_sessions(store, name)
    if after is None or not after.locked or left:
        shown = after.status if after else "tidak ada"
        raise NotConfirmed(
            f"akun {name} dibaca ulang: status {shown}, sesi masih hidup: "
            + (", ".join(s.ref for s in left) or "tidak ada")
        )
    return {
        "account": name,
        "status": after.status,
        "killed": [s.ref for s in killed],
        "already_locked": before.locked,
    }


def grant(store: AccountStore, username: str, access: str, password: str) -> dict[str, Any]:
    """Create ``username`` (or re-enable it) with the database role of ``access`` and an expired
    ``password``; other SIAK roles it holds are revoked. Read again to confirm."""
    name = account_name(username)
    if name in store.config.protected:
        raise PiakError(f"akun {name} dilindungi (accounts.yaml: protected): tidak diberikan")
    role = store.config.roles[access]
    before = store.account(name)
    if before is None:
        store.create(name, role, password)
    else:
        siak_roles = set(store.config.roles.values())
        revoke = sorted(r for r in before.roles if r in siak_roles and r != role)
        store.enable(name, role, password, revoke)
    store.commit()
    after = store.account(name)
    if after is None or after.locked or not after.password_expired or role not in after.roles:
        shown = f"{after.status}, peran {', '.join(after.roles) or '-'}" if after else "tidak ada"
        raise NotConfirmed(f"akun {name} dibaca ulang: {shown} (diharapkan EXPIRED, {role})")
    return {
        "account": name,
        "status": after.status,
        "role": role,
        "created": before is None,
    }


def new_password(length: int = 16) -> str:
    """A first password: letters, digits and ``# _ -``, at least two of each kind."""
    alphabet = string.ascii_letters + string.digits + _SPECIALS
    while True:
        candidate = secrets.choice(string.ascii_letters) + "".join(
            secrets.choice(alphabet) for _ in range(length - 1)
        )
        kinds = (string.ascii_uppercase, string.ascii_lowercase, string.digits, _SPECIALS)
        if all(sum(c in kind for c in candidate) >= 2 for kind in kinds):
            return candidate


def first_password(config: AccountsConfig, proposal: str, username: str) -> tuple[Path, str]:
    """The first password of ``username`` for ``proposal``: the one already written (a retry
    gives the same password), else a new one, written first to its owner-only file."""
    folder = Path(config.first_password_dir) / proposal
    path = folder / f"{account_name(username)}.txt"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("Kata sandi awal: "):
                return path, line.removeprefix("Kata sandi awal: ").strip()
    password = new_password()
    folder.mkdir(parents=True, exist_ok=True)
    for directory in (Path(config.first_password_dir), folder):
        directory.chmod(0o700)
    text = (
        f"Akun SIAK: {account_name(username)}\nKata sandi awal: {password}\n"
        "Kata sandi ini kedaluwarsa: wajib diganti pada login pertama.\n"
        "Serahkan dalam amplop tertutup kepada pemegang akun, lalu hapus berkas ini.\n"
    )
    write_text_atomic(path, text)  # mkstemp: mode 0600, owner only
    path.chmod(0o600)
    return path, password
