"""When a sign-off is due, reminded, escalated and given up (``config/signoffs.yaml``).

Every sign-off has a due time: its step's standard time (Mutu Baku) unless configured. From the
due time on, those who may answer are reminded every ``remind_every``; after ``escalate_after``
the next role up (``escalate_to``, default by :data:`NEXT_ROLE_UP`) may answer too and is told
so; after ``give_up_after`` the step fails and the run says so. All durations count from when
the request opened. The waiting task wakes up only at these moments (its response timeout is
the next one), so nothing polls.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from piak.core import registry, settings
from piak.core.config import Duration, Strict, load_model
from piak.core.roles import ROLES

#: Whom a step escalates to when it waits too long: the holder's superior in the Bidang PIAK.
NEXT_ROLE_UP: dict[str, str] = {
    "administrator": "kasi",
    "jfu": "kasi",
    "petugas": "kasi",
    "kasi": "kabid",
    "kabid": "kadis",
    "sekretaris": "kadis",
}
#: Never more reminders than this for one request (a runaway configuration stays bounded).
MAX_REMINDERS = 60
Role = Literal[ROLES]  # type: ignore[valid-type]


class StepDeadlines(Strict):
    due: Duration | None = None
    remind_every: Duration | None = None
    escalate_after: Duration | None = None
    escalate_to: Role | None = None
    give_up_after: Duration | None = None

    @model_validator(mode="after")
    def _ordered(self) -> StepDeadlines:
        if self.escalate_to and not self.escalate_after:
            raise ValueError("escalate_to perlu escalate_after")
        if self.give_up_after and self.escalate_after and self.give_up_after <= self.escalate_after:
            raise ValueError("give_up_after harus lebih lama dari escalate_after")
        return self


class Defaults(Strict):
    remind_every: Duration | None = timedelta(days=1)


class SignoffsFile(Strict):
    """``config/signoffs.yaml``: defaults, then per SOP code and step number."""

    defaults: Defaults = Defaults()
    steps: dict[str, dict[Annotated[int, Field(ge=1)], StepDeadlines]] = Field(default_factory=dict)


@dataclass(frozen=True)
class Deadlines:
    """A sign-off's deadlines, resolved: durations from when the request opened."""

    due: timedelta | None
    remind_every: timedelta | None
    escalate_after: timedelta | None
    escalate_to: str | None
    give_up_after: timedelta | None

    def timers(self, opened_at: datetime) -> list[tuple[datetime, str]]:
        """``[(when, kind)]`` in order; kind is ``remind``, ``escalate`` or ``give_up``."""
        end = opened_at + self.give_up_after if self.give_up_after else None
        found: list[tuple[datetime, str]] = []
        if self.due is not None:
            at, step = opened_at + self.due, self.remind_every
            while (end is None or at < end) and len(found) < MAX_REMINDERS:
                found.append((at, "remind"))
                if step is None:
                    break
                at += step
        if self.escalate_after and self.escalate_to:
            found.append((opened_at + self.escalate_after, "escalate"))
        if end is not None:
            found.append((end, "give_up"))
        return sorted(found, key=lambda timer: (timer[0], timer[1] != "escalate"))

    def next_timer(self, opened_at: datetime, now: datetime) -> tuple[datetime, str] | None:
        """The first timer after ``now`` (None: wait until someone answers)."""
        return next(((at, kind) for at, kind in self.timers(opened_at) if at > now), None)


def signoffs_file() -> Path:
    """``PIAK_SIGNOFFS_FILE`` (default ``config/signoffs.yaml``)."""
    return settings.config_file("PIAK_SIGNOFFS_FILE", "signoffs.yaml")


def load(path: Path | None = None) -> SignoffsFile:
    path = path or signoffs_file()
    if not path.exists():
        return SignoffsFile()
    return _load(path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load(path: Path, mtime: int) -> SignoffsFile:
    return load_model(path, SignoffsFile, "tanda tangan")


def for_step(sop_code: str, step_number: int, path: Path | None = None) -> Deadlines:
    """The deadlines of the sign-off of ``sop_code`` step ``step_number``."""
    config = load(path)
    step = registry.get_sop(sop_code).step(step_number)
    own = config.steps.get(sop_code, {}).get(step_number, StepDeadlines())
    standard = timedelta(minutes=step.standard_time.max_minutes) if step.standard_time else None
    escalate_to = own.escalate_to or (NEXT_ROLE_UP.get(step.role) if own.escalate_after else None)
    return Deadlines(
        due=own.due or standard,
        remind_every=own.remind_every or config.defaults.remind_every,
        escalate_after=own.escalate_after if escalate_to else None,
        escalate_to=escalate_to,
        give_up_after=own.give_up_after,
    )
