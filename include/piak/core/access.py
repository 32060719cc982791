"""Who may do what: ``config/access.yaml`` (``PIAK_ACCESS_FILE``), declared once.

The file names the office users and their roles, per DAG the roles that may trigger it and those
that may see its runs, logs and outputs, the exceptions to separation of duties and the
delegations (Plt./Plh.). Everything that decides who may do what reads it from here:

* the first task of every DAG (:func:`trigger_refusal`, ``piak.workflow.dagkit``) - every
deployment,
* the sign-offs' answerers (``piak.core.approvers.assign``, ``piak.workflow.signoff``),
* production's FAB roles and DAG permissions (:func:`fab_access_control`, :func:`fab_roles`,
  :meth:`AccessConfig.fab_user_roles`; ``piak.web.auth.sync_access``),
* the UI's Trigger button (``piak.web.trigger_button``) and the request pages
  (``piak.web.provision_pages``),
* the README's "Siapa boleh apa" (:func:`rights_table`, ``python -m piak access``).

No Airflow import here.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, PrivateAttr, StringConstraints, model_validator

from piak.core import settings
from piak.core.config import ConfigError, Strict, read_yaml, validate
from piak.core.roles import ROLE_TITLES, ROLES

#: The Airflow admin account (FAB role Admin): may start every DAG, never answers a sign-off.
ADMIN = "admin"
#: The two rules of separation of duties an exception may lift.
RULES = {
    "own_run": "menandatangani run yang dipicunya sendiri",
    "successive": "memberi dua tanda tangan berurutan dalam satu run",
}
#: The FAB role of a deputy (Plt./Plh.) of an office role: sees that role's DAGs, triggers none.
DEPUTY_PREFIX = "pengganti-"
WIB = ZoneInfo(settings.TIMEZONE)

Login = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")]
DagId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,249}$")]
Role = Literal[ROLES]  # type: ignore[valid-type]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]
EMAIL_PATTERN = r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,}$"
Email = Annotated[str, StringConstraints(strip_whitespace=True, pattern=EMAIL_PATTERN)]


class OfficeUser(Strict):
    """One person: the name sign-offs and the agenda show, the office roles they hold, and
    the address their reminders go to (optional: without it, only the office's channels)."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    roles: Annotated[list[Role], Field(min_length=1)]
    email: Email | None = None


class DagRights(Strict):
    """Per DAG: who may trigger it, who may see it, which DAGs may start its runs."""

    trigger: list[Role] = Field(default_factory=list)
    view: list[Role] = Field(default_factory=list)
    started_by: list[DagId] = Field(default_factory=list)

    @property
    def seeing(self) -> list[Role]:
        """Roles that see the DAG (triggering implies seeing), in the file's order."""
        return list(dict.fromkeys([*self.trigger, *self.view]))


class Period(Strict):
    """A date range in WIB, both days included."""

    start: date = Field(alias="from")
    end: date = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end < self.start:
            raise ValueError(f"to ({self.end}) sebelum from ({self.start})")
        return self

    @property
    def begins(self) -> datetime:
        """00:00 WIB of the first day, in UTC."""
        return datetime.combine(self.start, time(), WIB).astimezone(UTC)

    @property
    def ends(self) -> datetime:
        """00:00 WIB of the day after the last day, in UTC (exclusive)."""
        return datetime.combine(self.end + timedelta(days=1), time(), WIB).astimezone(UTC)

    def text(self) -> str:
        return f"{self.start:%d-%m-%Y} s.d. {self.end:%d-%m-%Y}"


class Exemption(Period):
    """An explicit exception to separation of duties for one user (and some DAGs)."""

    user: Login
    allow: Annotated[list[Literal["own_run", "successive"]], Field(min_length=1)]
    dags: list[DagId] = Field(default_factory=list)
    reason: Text


class Delegation(Period):
    """A deputy answering in place of an absent approver (Plt./Plh.) for a date range."""

    absent: Login
    deputy: Login
    title: Literal["Plt.", "Plh."]
    roles: list[Role] = Field(default_factory=list)
    reason: Text | None = None


class AccessConfig(Strict):
    """``config/access.yaml``: see the file's comments."""

    users: dict[Login, OfficeUser]
    dags: dict[DagId, DagRights]
    exceptions: list[Exemption] = Field(default_factory=list)
    delegations: list[Delegation] = Field(default_factory=list)
    _source: str = PrivateAttr(default="config/access.yaml")

    @property
    def source(self) -> str:
        """The file it was read from (named in messages)."""
        return self._source

    # -- users and roles -------------------------------------------------------------------

    def holders(self, role: str) -> list[tuple[str, OfficeUser]]:
        """``(login, user)`` of every holder of ``role``, in the file's order."""
        return [(login, user) for login, user in self.users.items() if role in user.roles]

    def addresses(self, roles: Iterable[str], at: datetime | None = None) -> list[str]:
        """The e-mail addresses of the holders of ``roles`` and of their deputies at ``at``."""
        at = at or datetime.now(UTC)
        wanted = set(roles)
        logins = [
            login
            for login, user in self.users.items()
            if wanted & (set(user.roles) | self.deputy_roles(login, at))
        ]
        return self.emails_of(logins)[0]

    def emails_of(self, logins: Iterable[str]) -> tuple[list[str], list[str]]:
        """The addresses of ``logins`` (in order, once each), and the logins without one."""
        found, missing = [], []
        for login in dict.fromkeys(logins):
            user = self.users.get(login)
            if user and user.email:
                found.append(user.email)
            else:
                missing.append(login)
        return list(dict.fromkeys(found)), missing

    def name(self, login: str) -> str:
        user = self.users.get(login)
        return user.name if user else ("Administrator Airflow" if login == ADMIN else login)

    def rights(self, dag_id: str) -> DagRights:
        """The rights of ``dag_id``; a DAG the file does not name is an error naming the key."""
        if dag_id not in self.dags:
            raise ConfigError(
                f"{self.source}: dags.{dag_id}: DAG ini belum diatur (siapa boleh memicu dan "
                "melihatnya); tambahkan trigger dan view"
            )
        return self.dags[dag_id]

    def may_trigger(self, login: str | None, dag_id: str) -> bool:
        if not login:
            return False
        if login == ADMIN:
            return True
        user = self.users.get(login)
        return bool(user) and bool(set(user.roles) & set(self.rights(dag_id).trigger))

    def may_view(self, login: str | None, dag_id: str, at: datetime | None = None) -> bool:
        """Holders of a role that sees the DAG, the admin, and deputies while they stand in."""
        if not login:
            return False
        if login == ADMIN:
            return True
        seeing = set(self.rights(dag_id).seeing)
        user = self.users.get(login)
        own = set(user.roles) if user else set()
        return bool((own | self.deputy_roles(login, at or datetime.now(UTC))) & seeing)

    # -- delegations and exceptions --------------------------------------------------------

    def delegated_roles(self, delegation: Delegation) -> list[str]:
        """The roles a delegation covers: those named, else all of the absent person's."""
        held = self.users[delegation.absent].roles
        return [r for r in held if not delegation.roles or r in delegation.roles]

    def deputy_roles(self, login: str, at: datetime) -> set[str]:
        """The roles ``login`` stands in for at ``at``."""
        return {
            role
            for d in self.delegations
            if d.deputy == login and d.begins <= at < d.ends
            for role in self.delegated_roles(d)
        }

    def delegations_for(self, absent: str, role: str, after: datetime) -> list[Delegation]:
        """Delegations of ``absent``'s ``role`` that have not ended by ``after``."""
        return [
            d
            for d in self.delegations
            if d.absent == absent and role in self.delegated_roles(d) and d.ends > after
        ]

    def exemptions_for(
        self, login: str, rule: str, dag_id: str, after: datetime
    ) -> list[Exemption]:
        """Exceptions lifting ``rule`` for ``login`` in ``dag_id`` not ended by ``after``."""
        return [
            x
            for x in self.exceptions
            if x.user == login
            and rule in x.allow
            and (not x.dags or dag_id in x.dags)
            and x.ends > after
        ]

    # -- production: FAB ------------------------------------------------------------------

    def fab_user_roles(self, login: str, today: date) -> list[str]:
        """The FAB roles of an office user: one per office role, and the deputy role of every
        role they stand in for in a delegation that has not ended."""
        deputy = {
            DEPUTY_PREFIX + role
            for d in self.delegations
            if d.deputy == login and d.end >= today
            for role in self.delegated_roles(d)
        }
        return sorted(set(self.users[login].roles) | deputy)

    def fab_access_control(self, dag_id: str) -> dict[str, dict[str, set[str]]]:
        """The DAG's ``access_control``: its triggering roles may create runs, every role that
        sees it (and that role's deputies) may read it. Nobody but Admin may edit or delete it."""
        rights = self.rights(dag_id)
        control: dict[str, dict[str, set[str]]] = {}
        for role in rights.seeing:
            control[role] = {"DAGs": {"can_read"}}
            if role in rights.trigger:
                control[role]["DAG Runs"] = {"can_create"}
            control[DEPUTY_PREFIX + role] = {"DAGs": {"can_read"}}
        return control


def access_file() -> Path:
    """``PIAK_ACCESS_FILE`` (default ``config/access.yaml``)."""
    return settings.config_file("PIAK_ACCESS_FILE", "access.yaml")


def load(path: Path | None = None) -> AccessConfig:
    """The access configuration, checked (re-read when the file changes)."""
    path = Path(path) if path else access_file()
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise ConfigError(f"{path}: berkas hak akses tidak ditemukan") from None
    return _load(path, mtime)


@functools.lru_cache(maxsize=8)
def _load(path: Path, mtime: int) -> AccessConfig:
    return parse(read_yaml(path, "hak akses"), path)


def parse(data: Any, where: Path | str) -> AccessConfig:
    """``data`` checked against the model and for references between its parts."""
    config = validate(AccessConfig, data, where)
    config._source = str(where)
    problems = _reference_problems(config)
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))
    return config


def _reference_problems(config: AccessConfig) -> list[str]:
    problems = []
    if ADMIN in config.users:
        problems.append(f"users.{ADMIN}: akun admin Airflow, bukan pengguna kantor")
    for dag_id, rights in config.dags.items():
        problems += [
            f"dags.{dag_id}.started_by: DAG {other!r} tidak ada di dags"
            for other in rights.started_by
            if other not in config.dags
        ]
    for i, x in enumerate(config.exceptions):
        if x.user not in config.users:
            problems.append(f"exceptions[{i}].user: {x.user!r} tidak ada di users")
        problems += [
            f"exceptions[{i}].dags: DAG {d!r} tidak ada di dags"
            for d in x.dags
            if d not in config.dags
        ]
    for i, d in enumerate(config.delegations):
        for key in ("absent", "deputy"):
            if getattr(d, key) not in config.users:
                problems.append(f"delegations[{i}].{key}: {getattr(d, key)!r} tidak ada di users")
        if d.absent == d.deputy:
            problems.append(f"delegations[{i}]: absent dan deputy orang yang sama")
        if d.absent in config.users:
            held = config.users[d.absent].roles
            problems += [
                f"delegations[{i}].roles: {d.absent} tidak memegang peran {role}"
                for role in d.roles
                if role not in held
            ]
    return problems


def fab_roles() -> list[str]:
    """Every FAB role of the office: one per office role and one per deputy of it."""
    return [*ROLES, *(DEPUTY_PREFIX + role for role in ROLES)]


# -- the first task of every DAG ------------------------------------------------------------


def titles(roles: list[str]) -> str:
    return ", ".join(ROLE_TITLES[r] for r in roles) or "tidak ada"


def trigger_refusal(
    config: AccessConfig, dag_id: str, run_type: str, user: str | None
) -> str | None:
    """Why this run may not go on (Bahasa Indonesia), or None when it may.

    Scheduled runs are the scheduler's and pass. A run started by another DAG passes when this
    DAG may be started by one (``started_by``) and whoever started the first run - the user
    Airflow carries over, or nobody for a scheduled one - may trigger such a DAG. A run started
    by hand (UI, REST API, CLI, backfill) passes when its user may trigger the DAG.
    """
    rights = config.rights(dag_id)
    where = f"dags.{dag_id}"
    stop = "Tidak ada langkah yang dijalankan."
    if run_type == "scheduled":
        return None
    if run_type == "operator_triggered":
        if not rights.started_by:
            return (
                f"Run ini dibuat oleh DAG lain, padahal DAG {dag_id} tidak boleh dimulai DAG lain "
                f"({where}.started_by di {config.source}). {stop}"
            )
        if user is None or any(config.may_trigger(user, d) for d in rights.started_by):
            return None
        return (
            f"Run ini berasal dari run {', '.join(rights.started_by)} yang dipicu '{user}' "
            f"({config.name(user)}), yang tidak berhak memicunya. {stop}"
        )
    if run_type in ("manual", "backfill"):
        if not user:
            return f"Run ini tidak mencatat siapa yang memicunya: tidak dapat diperiksa. {stop}"
        if config.may_trigger(user, dag_id):
            return None
        return (
            f"Ditolak: '{user}' ({config.name(user)}) tidak berhak memicu DAG {dag_id}. Yang "
            f"berhak memicu: {titles(rights.trigger)} ({where}.trigger di {config.source}). {stop}"
        )
    return f"Jenis run '{run_type}' tidak diizinkan untuk DAG {dag_id}. {stop}"


# -- "Siapa boleh apa" ----------------------------------------------------------------------

TABLE_START = "<!-- siapa-boleh-apa: start (python -m piak access; jangan diubah tangan) -->"
TABLE_END = "<!-- siapa-boleh-apa: end -->"


def rights_table(config: AccessConfig) -> str:
    """The README's "Siapa boleh apa", between its markers: DAGs, users, exceptions,
    delegations."""
    lines = [
        TABLE_START,
        "| DAG | Boleh memicu | Juga dimulai oleh | Boleh melihat run, log dan keluaran |",
        "|---|---|---|---|",
    ]
    for dag_id, rights in config.dags.items():
        started = ", ".join(f"`{d}`" for d in rights.started_by) or "-"
        lines.append(
            f"| `{dag_id}` | {titles(rights.trigger)} | {started} | {titles(rights.seeing)} |"
        )
    lines += ["", "| Login | Nama | Peran |", "|---|---|---|"]
    lines += [
        f"| `{login}` | {user.name} | {titles(user.roles)} |"
        for login, user in config.users.items()
    ]
    lines.append(
        f"| `{ADMIN}` | Administrator Airflow | (akun teknis: boleh memicu semua DAG, tidak "
        "pernah menandatangani) |"
    )
    lines += _section(
        "Pengecualian pemisahan tugas:",
        (
            f"`{x.user}`: boleh {', '.join(RULES[r] for r in x.allow)}"
            f"{' di ' + ', '.join(x.dags) if x.dags else ''}, {x.text()} ({x.reason})"
            for x in config.exceptions
        ),
    )
    lines += _section(
        "Pengganti (Plt./Plh.):",
        (
            f"`{d.deputy}` {d.title} {titles(config.delegated_roles(d))} a.n. `{d.absent}`, "
            f"{d.text()}{f' ({d.reason})' if d.reason else ''}"
            for d in config.delegations
        ),
    )
    lines.append(TABLE_END)
    return "\n".join(lines)


def _section(title: str, items: Iterable[str]) -> list[str]:
    """A titled bullet list of the README table, "tidak ada" when it is empty."""
    return ["", title, *([f"- {item}" for item in items] or ["- tidak ada"])]


# -- the embedded default --------------------------------------------------------------------


def embedded_office_may(method: str, access_entity: str | None) -> bool:
    """What an office user may do to a DAG under the embedded default's simple auth manager,
    which knows only "user" and "admin": read, start runs (the first task then checks who) and
    answer sign-offs (the office's rule decides whose). No pausing, deleting, clearing or
    marking runs and tasks - the Airflow admin's controls. ``access_entity`` is the value of
    Airflow's ``DagAccessEntity`` (``"RUN"``, ``"HITL_DETAIL"``...) or None for the DAG itself."""
    return method == "GET" or (method, access_entity) in {
        ("POST", "RUN"),
        ("PUT", "HITL_DETAIL"),
    }
