"""Who may answer a sign-off, and from when: the rule both auth managers apply.

A sign-off's assigned users are computed when the request opens (:func:`assign`): the holders of
its role, the deputies standing in for them (``config/access.yaml`` delegations), the next role
up from its escalation time on - minus separation of duties: whoever triggered the run does not
answer its sign-offs of another role, and nobody gives two successive sign-offs of different
roles in one run, unless an exception in the configuration says so. Airflow hands an auth
manager only the assigned ids and the user, so what matters travels in the id:

* ``kasi`` - at once;
* ``kabid~2026-12-03T02:00:00Z`` - from that moment (UTC) on (an escalation);
* ``wakil~2026-11-30T17:00:00Z..2026-12-14T17:00:00Z`` - within that window (a deputy, an
  exception), the end excluded;
* ``serba!pemicu`` - refused, for the reason the code names (:data:`REASONS`).

:func:`refusal` is what ``piak.web.auth`` (production) and ``airflow_local_settings`` (the embedded
default's simple auth manager) apply: None, or why not - the HTTP 403's message.

No Airflow import here: the rule is tested on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from piak.core import access

SEPARATOR = "~"
RANGE = ".."
REFUSED = "!"
_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_WIB = ZoneInfo("Asia/Jakarta")
#: Why someone assigned as refused may not answer (the 403's message).
REASONS = {
    "pemicu": (
        "Anda memicu run ini, jadi tidak boleh menandatangani langkahnya (pemisahan tugas): "
        "langkah ini harus dijawab orang lain yang memegang perannya"
    ),
    "berurutan": (
        "Anda sudah memberi tanda tangan sebelumnya pada run ini; satu orang tidak boleh "
        "memberi dua tanda tangan berurutan (pemisahan tugas): langkah ini harus dijawab "
        "orang lain yang memegang perannya"
    ),
}
#: What the sign-off shows beside a refused person's name.
SHORT = {"pemicu": "memicu run ini", "berurutan": "menjawab tanda tangan sebelumnya"}
#: Which rule of ``config/access.yaml`` (exceptions[].allow) lifts which refusal.
RULE_OF = {"pemicu": "own_run", "berurutan": "successive"}


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_FORMAT)


def wib_text(moment: datetime) -> str:
    return f"{moment.astimezone(_WIB):%d-%m-%Y %H:%M} WIB"


def timed_id(
    login: str, not_before: datetime | None = None, not_after: datetime | None = None
) -> str:
    """The assigned-user id of ``login`` allowed from ``not_before`` (until ``not_after``)."""
    if not_before is None and not_after is None:
        return login
    start = _utc(not_before) if not_before else ""
    return f"{login}{SEPARATOR}{start}" + (f"{RANGE}{_utc(not_after)}" if not_after else "")


def refused_id(login: str, code: str) -> str:
    return f"{login}{REFUSED}{code}"


@dataclass(frozen=True)
class Assigned:
    """One assigned-user id, read: whose it is, and when (or why not) they may answer."""

    login: str
    not_before: datetime | None = None
    not_after: datetime | None = None
    refused: str | None = None

    def valid(self, now: datetime) -> bool:
        if self.refused:
            return False
        return (self.not_before is None or now >= self.not_before) and (
            self.not_after is None or now < self.not_after
        )


def _moment(text: str) -> datetime:
    return datetime.strptime(text, _FORMAT).replace(tzinfo=UTC)


def parse_id(assigned_id: str) -> Assigned:
    """Read an assigned-user id (see the module docstring); an unreadable one never answers."""
    login, sep, code = assigned_id.partition(REFUSED)
    if sep:
        return Assigned(login, refused=code or "?")
    login, sep, when = assigned_id.partition(SEPARATOR)
    if not sep:
        return Assigned(login)
    start, sep, end = when.partition(RANGE)
    try:
        return Assigned(
            login,
            not_before=_moment(start) if start else None,
            not_after=_moment(end) if sep else None,
        )
    except ValueError:
        return Assigned(login, refused="?")


def refusal(assigned_ids: Iterable[str], login: str, now: datetime | None = None) -> str | None:
    """None when ``login`` may answer now; else why not, in Bahasa Indonesia."""
    now = now or datetime.now(UTC)
    mine = [entry for entry in map(parse_id, assigned_ids) if entry.login == login]
    if any(entry.valid(now) for entry in mine):
        return None
    codes = [entry.refused for entry in mine if entry.refused]
    if codes:
        return REASONS.get(codes[0], "Anda tidak boleh menjawab langkah ini")
    later = [e.not_before for e in mine if e.not_before and now < e.not_before]
    if later:
        return f"Anda baru boleh menjawab langkah ini mulai {wib_text(min(later))}"
    ended = [e.not_after for e in mine if e.not_after and now >= e.not_after]
    if ended:
        return f"Masa Anda boleh menjawab langkah ini sudah berakhir ({wib_text(max(ended))})"
    return f"Anda ({login}) bukan penandatangan langkah ini"


def may_answer(assigned_ids: Iterable[str], login: str, now: datetime | None = None) -> bool:
    """True when ``login`` is assigned and may answer now (see :func:`refusal`)."""
    return refusal(assigned_ids, login, now) is None


# -- who is assigned ------------------------------------------------------------------------


@dataclass(frozen=True)
class Assignee:
    """One person assigned to a sign-off, and in what capacity: ``holder`` of its role,
    ``deputy`` (a.n. ``on_behalf_of``), ``escalation``, ``exception`` (separation of duties
    lifted, ``note`` says why) or ``refused`` (``refused`` names the reason code)."""

    login: str
    name: str
    capacity: Literal["holder", "deputy", "escalation", "exception", "refused"]
    not_before: datetime | None = None
    not_after: datetime | None = None
    refused: str | None = None
    on_behalf_of: str | None = None
    note: str | None = None

    @property
    def id(self) -> str:
        if self.refused:
            return refused_id(self.login, self.refused)
        return timed_id(self.login, self.not_before, self.not_after)

    def user(self) -> dict[str, str]:
        """What Airflow stores as an assigned user."""
        return {"id": self.id, "name": self.name}

    def valid(self, now: datetime) -> bool:
        return parse_id(self.id).valid(now)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("not_before", "not_after"):
            data[key] = data[key].isoformat() if data[key] else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Assignee:
        data = dict(data)
        for key in ("not_before", "not_after"):
            data[key] = datetime.fromisoformat(data[key]) if data.get(key) else None
        return cls(**data)


@dataclass(frozen=True)
class Previous:
    """The sign-off answered last in this run before the one opening."""

    login: str
    role: str
    task_id: str


def assign(
    config: access.AccessConfig,
    *,
    dag_id: str,
    role: str,
    opened_at: datetime,
    triggering_user: str | None = None,
    previous: Previous | None = None,
    escalation: tuple[str, datetime] | None = None,
) -> list[Assignee]:
    """Who may answer a sign-off of ``role`` opening at ``opened_at`` (see the module
    docstring); ``escalation``: the role the request passes to, and from when."""
    found = [Assignee(login, user.name, "holder") for login, user in config.holders(role)]
    found += _deputies(config, role, opened_at, None)
    if escalation:
        escalate_to, escalate_at = escalation
        when = wib_text(escalate_at)
        found += [
            Assignee(login, f"{user.name} (eskalasi, mulai {when})", "escalation", escalate_at)
            for login, user in config.holders(escalate_to)
        ]
        found += _deputies(config, escalate_to, opened_at, escalate_at)
    rules: dict[str, list[str]] = {}
    if triggering_user and role not in config.rights(dag_id).trigger:
        rules.setdefault(triggering_user, []).append("pemicu")
    if previous and previous.role != role:
        rules.setdefault(previous.login, []).append("berurutan")
    result: list[Assignee] = []
    for login in dict.fromkeys(a.login for a in found):
        mine = _first_capacity([a for a in found if a.login == login])
        if login in rules:
            mine = _exempted(config, mine, rules[login], dag_id, opened_at)
        result += [a for a in mine if a.refused or _open(a, opened_at)]
    return result


def _deputies(
    config: Any, role: str, opened_at: datetime, start: datetime | None
) -> list[Assignee]:
    from piak.core.roles import ROLE_TITLES

    found = []
    for absent, user in config.holders(role):
        for d in config.delegations_for(absent, role, opened_at):
            begins = max(d.begins, start) if start else d.begins
            name = (
                f"{config.name(d.deputy)} ({d.title} {ROLE_TITLES[role]}, a.n. {user.name}, "
                f"{d.text()})"
            )
            note = f"{d.title} a.n. {absent}" + (f": {d.reason}" if d.reason else "")
            found.append(
                Assignee(d.deputy, name, "deputy", begins, d.ends, on_behalf_of=absent, note=note)
            )
    return found


def _first_capacity(mine: list[Assignee]) -> list[Assignee]:
    """A holder of the role needs nothing else; otherwise every way in is kept."""
    holders = [a for a in mine if a.capacity == "holder"]
    return holders or mine


def _exempted(
    config: Any,
    mine: list[Assignee],
    codes: list[str],
    dag_id: str,
    opened_at: datetime,
) -> list[Assignee]:
    """``mine`` refused for ``codes``, unless an exception lifts every one of them (then
    within the exceptions' dates only, and noted)."""
    login = mine[0].login
    grants = []
    for code in codes:
        granted = config.exemptions_for(login, RULE_OF[code], dag_id, opened_at)
        if not granted:
            name = f"{config.name(login)} (tidak boleh menjawab: {SHORT[code]})"
            return [Assignee(login, name, "refused", refused=code)]
        grants.append(granted[0])
    begins = max(x.begins for x in grants)
    ends = min(x.ends for x in grants)
    why = "; ".join(f"{x.reason}, {x.text()}" for x in grants)
    exempted = []
    for a in mine:
        start = max(filter(None, [a.not_before, begins]))
        end = min(filter(None, [a.not_after, ends]))
        exempted.append(
            replace(
                a,
                name=f"{a.name} (pengecualian: {why})",
                capacity="exception",
                not_before=start,
                not_after=end,
                note=f"{', '.join(SHORT[c] for c in codes)} diizinkan: {why}"
                + (f"; {a.note}" if a.note else ""),
            )
        )
    return exempted


def _open(assignee: Assignee, opened_at: datetime) -> bool:
    """Whether the window can still let the person answer."""
    if assignee.not_after is None:
        return True
    start = assignee.not_before or opened_at
    return assignee.not_after > max(start, opened_at)


def answerable(assigned: Iterable[Assignee]) -> bool:
    """Someone may answer, now or later."""
    return any(not a.refused for a in assigned)


def matching(assigned: Iterable[Assignee], login: str, at: datetime) -> Assignee | None:
    """The capacity in which ``login`` answered at ``at`` (None: not found)."""
    candidates = [a for a in assigned if a.login == login and not a.refused]
    return next((a for a in candidates if a.valid(at)), candidates[0] if candidates else None)


def assignment_text(assigned: Iterable[Assignee]) -> str:
    """What the sign-off's body says about who may answer (Markdown)."""
    assigned = list(assigned)
    allowed = [f"- {a.name} (`{a.login}`)" for a in assigned if not a.refused]
    refused = [f"- {a.name} (`{a.login}`)" for a in assigned if a.refused]
    text = "\n\n**Yang dapat menjawab:**\n" + "\n".join(allowed)
    if refused:
        text += "\n\n**Tidak boleh menjawab (pemisahan tugas):**\n" + "\n".join(refused)
    return text
