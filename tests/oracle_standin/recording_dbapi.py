"""TEST STAND-IN for an Oracle database behind a DB-API connection - never shipped.

``RecordingOracle`` looks to ``piak.engines.siak_accounts.OracleAccountStore`` like
python-oracledb's connection: ``cursor()``, ``execute(sql, binds)``, ``fetchall()``, ``commit()``,
``close()``. It records every statement with its binds, answers the dictionary queries
(``V$SESSION``, ``UNIFIED_AUDIT_TRAIL``, ``DBA_USERS``, ``DBA_ROLE_PRIVS``) from its own small
state, and applies the account statements the store sends (``ALTER USER ... ACCOUNT LOCK``, ``ALTER
SYSTEM KILL SESSION``, ``CREATE USER``, ``ALTER USER ... IDENTIFIED BY``, ``GRANT``, ``REVOKE``) the
way Oracle documents them - only in the exact quoted form, so a statement built any other way is
refused with ``ORA-00900``. ``ignore`` lists statement kinds it accepts but does not apply (a
database that does not do what it was asked), to test that confirmation reads the state again.
No Oracle server is involved; this proves the statements and the flow, not Oracle itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class DatabaseError(Exception):
    """Raised like python-oracledb's: ``ORA-nnnnn: message``."""


_LOCK = re.compile(r'^ALTER USER "([A-Z][A-Z0-9_]*)" ACCOUNT LOCK$')
_KILL = re.compile(r"^ALTER SYSTEM KILL SESSION '(\d+),(\d+)' IMMEDIATE$")
_CREATE = re.compile(
    r'^CREATE USER "([A-Z][A-Z0-9_]*)" IDENTIFIED BY "([^"]+)" PASSWORD EXPIRE ACCOUNT UNLOCK$'
)
_ENABLE = re.compile(
    r'^ALTER USER "([A-Z][A-Z0-9_]*)" IDENTIFIED BY "([^"]+)" PASSWORD EXPIRE ACCOUNT UNLOCK$'
)
_GRANT = re.compile(r'^GRANT "([A-Z][A-Z0-9_]*)" TO "([A-Z][A-Z0-9_]*)"$')
_REVOKE = re.compile(r'^REVOKE "([A-Z][A-Z0-9_]*)" FROM "([A-Z][A-Z0-9_]*)"$')


@dataclass
class RecordingOracle:
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> status, roles
    sessions: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    ignore: set[str] = field(default_factory=set)  # "lock", "kill", "grant"...
    statements: list[tuple[str, Any]] = field(default_factory=list)
    commits: int = 0
    closed: bool = False

    def cursor(self) -> _Cursor:
        return _Cursor(self)

    def commit(self) -> None:
        self.commits += 1

    def close(self) -> None:
        self.closed = True

    def executed(self, kind: str) -> list[str]:
        """The statements that start with ``kind`` (``ALTER USER``, ``SELECT``...)."""
        return [sql for sql, _ in self.statements if sql.startswith(kind)]


class _Cursor:
    def __init__(self, db: RecordingOracle) -> None:
        self.db, self.rows = db, []

    def close(self) -> None:
        return None

    def fetchall(self) -> list[tuple]:
        return list(self.rows)

    def execute(self, sql: str, binds: Any = None) -> None:
        db = self.db
        db.statements.append((sql, binds))
        self.rows = []
        if sql.startswith("SELECT"):
            self.rows = self._select(sql, binds or {})
            return
        for pattern, kind, apply in (
            (_LOCK, "lock", self._lock),
            (_KILL, "kill", self._kill),
            (_CREATE, "create", self._create),
            (_ENABLE, "enable", self._enable),
            (_GRANT, "grant", self._grant),
            (_REVOKE, "revoke", self._revoke),
        ):
            match = pattern.match(sql)
            if match:
                if kind not in db.ignore:
                    apply(*match.groups())
                return
        raise DatabaseError("ORA-00900: invalid SQL statement")

    def _select(self, sql: str, binds: dict[str, Any]) -> list[tuple]:
        db = self.db
        if "FROM V$SESSION" in sql:
            return [
                (s["sid"], s["serial"], s["username"], s.get("osuser"), s.get("machine"),
                 s.get("program"), s.get("module"), s["logon_time"], s.get("status", "ACTIVE"))
                for s in db.sessions
                if s.get("type", "USER") == "USER"
            ]  # fmt: skip
        if "FROM UNIFIED_AUDIT_TRAIL" in sql:
            start, end = binds["start_utc"], binds["end_utc"]
            assert isinstance(start, datetime) and start.tzinfo is None, "binds naive UTC"
            return [
                (e["sessionid"], e["entry_id"], e.get("statement_id", 1), e["at"], e["username"],
                 e.get("osuser"), e.get("machine"), e.get("program"), e["action"], e.get("object"))
                for e in db.audit
                if start <= e["at"] < end
            ]  # fmt: skip
        if "FROM DBA_USERS" in sql:
            user = db.users.get(binds["username"])
            return [(binds["username"], user["status"])] if user else []
        if "FROM DBA_ROLE_PRIVS" in sql:
            user = db.users.get(binds["username"]) or {}
            return [(role,) for role in sorted(user.get("roles", ()))]
        raise DatabaseError("ORA-00942: table or view does not exist")

    def _user(self, name: str) -> dict[str, Any]:
        if name not in self.db.users:
            raise DatabaseError(f"ORA-01918: user '{name}' does not exist")
        return self.db.users[name]

    def _lock(self, name: str) -> None:
        user = self._user(name)
        user["status"] = "EXPIRED & LOCKED" if "EXPIRED" in user["status"] else "LOCKED"

    def _kill(self, sid: str, serial: str) -> None:
        for session in self.db.sessions:
            if (session["sid"], session["serial"]) == (int(sid), int(serial)):
                session["status"] = "KILLED"
                return
        raise DatabaseError("ORA-00030: User session ID does not exist.")

    def _create(self, name: str, password: str) -> None:
        if name in self.db.users:
            raise DatabaseError(f"ORA-01920: user name '{name}' conflicts with another user")
        self.db.users[name] = {"status": "EXPIRED", "roles": set(), "password": password}

    def _enable(self, name: str, password: str) -> None:
        user = self._user(name)
        user.update(status="EXPIRED", password=password)

    def _grant(self, role: str, name: str) -> None:
        self._user(name).setdefault("roles", set()).add(role)

    def _revoke(self, role: str, name: str) -> None:
        self._user(name).setdefault("roles", set()).discard(role)
