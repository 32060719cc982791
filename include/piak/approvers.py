"""Who may answer a sign-off, and from when: the rule both auth managers apply.

A sign-off's assigned users are computed when the request opens. A role holder is listed by
login (``kasi``). Someone who may answer only from a moment on - the next role up once the
request has waited past its escalation time - is listed with that moment: ``kabid~2026-12-03T
02:00:00Z`` (UTC). Airflow hands an auth manager only these ids and the user, so the moment travels
in the id; :func:`may_answer` is what ``piak.auth`` (production) and
``airflow_local_settings`` (the embedded default's simple auth manager) apply.

No Airflow import here: the rule is tested on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

SEPARATOR = "~"
_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def timed_id(login: str, not_before: datetime) -> str:
    """The assigned-user id of ``login`` allowed to answer from ``not_before`` on."""
    return f"{login}{SEPARATOR}{not_before.astimezone(UTC).strftime(_FORMAT)}"


def parse_id(assigned_id: str) -> tuple[str, datetime | None]:
    """``(login, not_before)`` of an assigned-user id (``not_before`` None: at once)."""
    login, sep, when = assigned_id.partition(SEPARATOR)
    if not sep:
        return assigned_id, None
    try:
        return login, datetime.strptime(when, _FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return login, datetime.max.replace(tzinfo=UTC)  # unreadable: never


def may_answer(assigned_ids: Iterable[str], login: str, now: datetime | None = None) -> bool:
    """True when ``login`` is assigned, at once or from a moment that has come."""
    now = now or datetime.now(UTC)
    for assigned in assigned_ids:
        who, not_before = parse_id(assigned)
        if who == login and (not_before is None or now >= not_before):
            return True
    return False
