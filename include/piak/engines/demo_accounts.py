"""The demo database's SIAK accounts, sessions and access log: who works in SIAK, from where,
doing what - the system of record of the embedded default (:mod:`piak.engines.siak_accounts`).

Staff are residents of the demo kabupaten (active, 22-55 years old): per kecamatan two SIAK
operators and one KTP-el operator; at the dinas three SIAK operators, one KTP-el operator and two
supervisors. Each has an account (``access_rights.username_for``: first name + the NIK's last
four digits), an entry in the access register with the computer registered for them, and works
Monday to Friday between about 07:30 and 16:00 WIB from that computer with the SIAK client,
leaving a trail of audited actions (logon, queries and changes on the population tables,
logoff). The application server's and the backup's own logins work around the clock from their
servers.

Some days carry what SOP "Penggunaan diluar Ketentuan" exists for: TOAD from a private laptop
late in the evening, a bulk export with SQL Developer (hundreds of queries in an hour), work on
a Saturday, and the still open account of an operator who left the office (no longer in the
register) logging on again. The last day ends with TOAD still connected.

Tables (times in UTC, ``YYYY-MM-DD HH:MM:SS``): ``SIAK_USERS`` (as DBA_USERS: USERNAME,
ACCOUNT_STATUS, GRANTED_ROLE...), ``SIAK_SESSIONS`` (as V$SESSION: SID, SERIAL, USERNAME, OSUSER,
MACHINE, PROGRAM, MODULE, LOGON_TIME, STATUS), ``SIAK_ACCESS_LOG`` (as UNIFIED_AUDIT_TRAIL:
ENTRY_ID, EVENT_TIMESTAMP, DBUSERNAME, OS_USERNAME, USERHOST, CLIENT_PROGRAM_NAME, ACTION_NAME,
OBJECT_NAME). No resident data is in them: an action names a table, never a row.
Same seed and same last day, same rows.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from piak.core import settings

SCHEMA = (
    "CREATE TABLE SIAK_USERS (USERNAME TEXT PRIMARY KEY, ACCOUNT_STATUS TEXT NOT NULL, "
    "GRANTED_ROLE TEXT, CREATED TEXT NOT NULL, LOCK_DATE TEXT, EXPIRY_DATE TEXT, "
    "PASSWORD_HASH TEXT)",
    "CREATE TABLE SIAK_SESSIONS (SID INTEGER NOT NULL, SERIAL INTEGER NOT NULL, "
    "USERNAME TEXT NOT NULL, OSUSER TEXT, MACHINE TEXT, PROGRAM TEXT, MODULE TEXT, "
    "LOGON_TIME TEXT NOT NULL, STATUS TEXT NOT NULL, PRIMARY KEY (SID, SERIAL))",
    "CREATE TABLE SIAK_ACCESS_LOG (ENTRY_ID INTEGER PRIMARY KEY, EVENT_TIMESTAMP TEXT NOT NULL, "
    "DBUSERNAME TEXT NOT NULL, OS_USERNAME TEXT, USERHOST TEXT, CLIENT_PROGRAM_NAME TEXT, "
    "ACTION_NAME TEXT NOT NULL, OBJECT_NAME TEXT)",
    "CREATE INDEX IX_ACCESS_LOG_TIME ON SIAK_ACCESS_LOG (EVENT_TIMESTAMP)",
)
#: The demo's database roles (config/accounts.yaml maps the access roles to these).
DB_ROLES = {
    "operator_siak": "SIAK_OPERATOR",
    "operator_ktpel": "KTPEL_OPERATOR",
    "supervisor": "SIAK_SUPERVISOR",
}
CLIENT = {"operator_siak": "siak.exe", "operator_ktpel": "ktpel.exe", "supervisor": "siak.exe"}
MODULES = {
    "operator_siak": ["SIAK Pendaftaran Penduduk", "SIAK Pencatatan Sipil"],
    "operator_ktpel": ["KTP-el Perekaman", "KTP-el Pencetakan"],
    "supervisor": ["SIAK Verifikasi"],
}
OBJECTS = ["BIODATA_WNI", "DATA_KELUARGA", "BIODATA_WNI", "SETUP_KEL"]
ACTIONS = ["SELECT"] * 7 + ["INSERT", "UPDATE", "UPDATE"]
SERVICE_ACCOUNTS = [
    ("SIAK_APP", "app-siak-01", "JDBC Thin Client", "siakapp"),
    ("PIAK_BACKUP", "db-siak-01", "expdp@db-siak-01", "oracle"),
    ("PIAK_GUARD", "airflow-worker", "python-oracledb", "airflow"),
]
DAYS = 14
_WIB = ZoneInfo(settings.TIMEZONE)
_FMT = "%Y-%m-%d %H:%M:%S"


@dataclass
class Staff:
    nik: str
    name: str
    access: str
    position: str
    unit: str
    machine: str
    username: str = ""

    @property
    def osuser(self) -> str:
        return self.name.split()[0].lower()


def _utc(day: date, at: time | timedelta) -> str:
    start = datetime.combine(day, time(0), tzinfo=_WIB)
    moment = start + (
        at if isinstance(at, timedelta) else timedelta(hours=at.hour, minutes=at.minute)
    )
    return moment.astimezone(UTC).strftime(_FMT)


def _staff(conn: sqlite3.Connection, rng: random.Random, until: date) -> list[Staff]:
    """Staff picked from the active adult residents, deterministically."""
    from piak.engines.siak_accounts import username_for

    region = conn.execute("SELECT NO_KEC, NAMA_KEC FROM SETUP_KEC ORDER BY NO_KEC").fetchall()
    youngest, oldest = until.replace(year=until.year - 22), until.replace(year=until.year - 55)
    people = conn.execute(
        "SELECT NIK, NAMA_LGKP FROM BIODATA_WNI WHERE FLAG_STATUS = '0' "
        "AND TGL_LHR BETWEEN ? AND ? ORDER BY NIK",
        (oldest.isoformat(), youngest.isoformat()),
    ).fetchall()
    posts = []
    for number, name in region:
        posts += [
            ("operator_siak", "Operator SIAK", f"Kecamatan {name}", f"pc-kec-{number:02d}"),
            ("operator_siak", "Operator SIAK", f"Kecamatan {name}", f"pc-kec-{number:02d}b"),
            ("operator_ktpel", "Operator KTP-el", f"Kecamatan {name}", f"ws-ktpel-{number:02d}"),
        ]
    posts += [("operator_siak", "Operator SIAK", "Dinas", f"pc-dinas-{n:02d}") for n in (1, 2, 3)]
    posts += [
        ("operator_ktpel", "Operator KTP-el", "Dinas", "ws-ktpel-90"),
        ("supervisor", "Supervisor SIAK", "Dinas", "pc-dinas-10"),
        ("supervisor", "Supervisor SIAK", "Dinas", "pc-dinas-11"),
    ]
    chosen = rng.sample(people, min(len(posts), len(people)))
    staff, taken = [], set()
    for (nik, name), (access, position, unit, machine) in zip(chosen, posts, strict=False):
        member = Staff(nik, name, access, position, unit, machine)
        member.username = username_for({"nik": nik, "name": name}, taken)
        taken.add(member.username)
        staff.append(member)
    return staff


class _Log:
    """Collects access-log rows and sessions."""

    def __init__(self, rng: random.Random) -> None:
        self.rng, self.rows, self.sessions = rng, [], []
        self.sid = 100

    def work(
        self,
        who: str,
        osuser: str,
        machine: str,
        program: str,
        day: date,
        start: timedelta,
        end: timedelta | None,
        actions: int,
        module: str | None = None,
        objects: list[str] | None = None,
        kinds: list[str] | None = None,
    ) -> None:
        """One session: logon at ``start``, ``actions`` audited actions, logoff at ``end``
        (None: still connected - a row of SIAK_SESSIONS)."""
        row = (who, osuser, machine, program)
        self.rows.append((_utc(day, start), *row, "LOGON", None))
        until = end or start + timedelta(minutes=40)
        span = max(int((until - start).total_seconds()) - 120, 60)
        moments = sorted(self.rng.randrange(60, span) for _ in range(actions))
        for second in moments:
            action = self.rng.choice(kinds or ACTIONS)
            target = self.rng.choice(objects or OBJECTS)
            self.rows.append((_utc(day, start + timedelta(seconds=second)), *row, action, target))
        if end is not None:
            self.rows.append((_utc(day, end), *row, "LOGOFF", None))
            return
        self.sid += self.rng.randrange(3, 40)
        status = "ACTIVE" if program != CLIENT["operator_siak"] else "INACTIVE"
        self.sessions.append(
            (self.sid, self.rng.randrange(1000, 60000), who, osuser, machine, program,
             module or program, _utc(day, start), status)
        )  # fmt: skip


def _minutes(rng: random.Random, lo: str, hi: str) -> timedelta:
    a, b = (int(x[:2]) * 60 + int(x[3:]) for x in (lo, hi))
    return timedelta(minutes=rng.randrange(a, b))


def write(conn: sqlite3.Connection, seed: int, until: date) -> dict[str, Any]:
    """Create and fill the three tables; return the access register of the staff (NIK ->
    entry, as ``piak.engines.siak_accounts`` names it)."""
    rng = random.Random(f"demo-accounts-{seed}")  # ruff: ignore[suspicious-non-cryptographic-random-usage] - demo data
    for statement in SCHEMA:  # inside the caller's transaction (executescript would commit)
        conn.execute(statement)
    staff = _staff(conn, rng, until)
    log = _Log(rng)
    days = [until - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
    created = _utc(days[0] - timedelta(days=400), time(9))
    former = staff[-3] if len(staff) > 6 else None  # moved away; account never closed
    blocked = staff[-4] if len(staff) > 6 else None  # blocked by an earlier case
    regular = [s for s in staff if s not in (former, blocked)]
    for day in days:
        if day.weekday() >= 5:
            continue
        for member in regular:
            if rng.random() < 0.08:
                continue  # on leave
            start, end = _minutes(rng, "07:25", "08:40"), _minutes(rng, "15:00", "16:30")
            last_day = day == days[-1] and rng.random() < 0.15
            log.work(
                member.username, member.osuser, member.machine, CLIENT[member.access], day,
                start, None if last_day else end, rng.randrange(12, 45),
                module=rng.choice(MODULES[member.access]),
            )  # fmt: skip
    for name, machine, program, osuser in SERVICE_ACCOUNTS[:2]:
        for day in days:
            log.rows.append(
                (_utc(day, time(5)), name, osuser, machine, program, "SELECT", "SETUP_KEL")
            )
        log.work(name, osuser, machine, program, days[-2], timedelta(hours=5), None, 0)
    if len(regular) > 4:
        _misuse(log, rng, regular, former, days)
    accounts = [
        (s.username, "OPEN", DB_ROLES[s.access], created, None, None, None) for s in regular
    ]
    if former:
        accounts.append(
            (former.username, "OPEN", DB_ROLES[former.access], created, None, None, None)
        )
    if blocked:
        locked = _utc(days[0] - timedelta(days=20), time(10))
        accounts.append(
            (blocked.username, "LOCKED", DB_ROLES[blocked.access], created, locked, None, None)
        )
    accounts += [(n, "OPEN", None, created, None, None, None) for n, *_ in SERVICE_ACCOUNTS]
    conn.executemany("INSERT INTO SIAK_USERS VALUES (?, ?, ?, ?, ?, ?, ?)", accounts)
    log.rows.sort(key=lambda r: r[0])
    conn.executemany(
        "INSERT INTO SIAK_ACCESS_LOG (EVENT_TIMESTAMP, DBUSERNAME, OS_USERNAME, USERHOST, "
        "CLIENT_PROGRAM_NAME, ACTION_NAME, OBJECT_NAME) VALUES (?, ?, ?, ?, ?, ?, ?)",
        log.rows,
    )
    conn.executemany("INSERT INTO SIAK_SESSIONS VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", log.sessions)
    register = {s.nik: _entry(s, "aktif") for s in regular}
    if blocked:
        register[blocked.nik] = _entry(blocked, "diblokir")
    return register


def _misuse(
    log: _Log, rng: random.Random, regular: list[Staff], former: Staff | None, days: list[date]
) -> None:
    """What the out-of-policy SOP is for, on fixed days of the period."""
    toad = next(s for s in regular if s.unit == "Dinas" and s.access == "operator_siak")
    bulk = next(s for s in regular if s.access == "supervisor")
    weekend = regular[0]
    laptop = f"LAPTOP-{toad.osuser.upper()}"
    log.work(
        toad.username, toad.osuser, laptop, "Toad.exe", days[-4], _minutes(rng, "21:00", "21:20"),
        timedelta(hours=21, minutes=55), 40, objects=["BIODATA_WNI"], kinds=["SELECT"],
    )  # fmt: skip
    log.work(
        bulk.username, bulk.osuser, bulk.machine, "SQL Developer", days[-7], timedelta(hours=10),
        timedelta(hours=10, minutes=58), 900, objects=["BIODATA_WNI"], kinds=["SELECT"],
    )  # fmt: skip
    saturday = next((d for d in reversed(days) if d.weekday() == 5), None)
    if saturday:
        log.work(
            weekend.username, weekend.osuser, weekend.machine, CLIENT[weekend.access], saturday,
            timedelta(hours=9), timedelta(hours=11), 20,
        )  # fmt: skip
    if former:
        log.work(
            former.username, former.osuser, "pc-kec-05", CLIENT[former.access], days[-2],
            timedelta(hours=10, minutes=5), timedelta(hours=10, minutes=50), 12,
        )  # fmt: skip
    log.work(
        toad.username, toad.osuser, laptop, "Toad.exe", days[-1], timedelta(hours=19, minutes=40),
        None, 25, module="TOAD", objects=["BIODATA_WNI"], kinds=["SELECT"],
    )  # fmt: skip


def _entry(member: Staff, status: str) -> dict[str, Any]:
    return {
        "nama": member.name,
        "jabatan": member.position,
        "unit": member.unit,
        "hak_akses": member.access,
        "user_id": member.username,
        "mesin": [member.machine],
        "usulan": "DEMO-AWAL",
        "nomor_pakta": f"PI-DEMO-{member.username}",
        "pakta_integritas": None,
        "status": status,
        **({"diblokir_karena": "KASUS-DEMO"} if status == "diblokir" else {}),
        "riwayat": [],
    }
