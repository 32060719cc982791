"""Per-step response timeouts of sign-offs, kept as configuration (``config/signoffs.yaml``)."""

from __future__ import annotations

import functools
import re
from datetime import timedelta
from pathlib import Path

import yaml

from piak import settings
from piak.errors import PiakError

_DURATION = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def signoffs_file() -> Path:
    """The sign-off settings file; ``PIAK_SIGNOFFS_FILE`` (default ``config/signoffs.yaml``)."""
    return settings.config_file("PIAK_SIGNOFFS_FILE", "signoffs.yaml")


def parse_duration(text: str) -> timedelta:
    """Parse "30m", "8h" or "2d" into a timedelta; anything else is an error naming the text."""
    match = _DURATION.match(str(text))
    if not match or int(match.group(1)) == 0:
        raise PiakError(f"durasi tidak sah: {text!r} (contoh: 30m, 8h, 2d)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def response_timeout(sop_code: str, step_number: int) -> timedelta | None:
    """How long the sign-off of ``sop_code`` step ``step_number`` waits; None = no limit."""
    path = signoffs_file()
    if not path.exists():
        return None
    return _timeouts(path, path.stat().st_mtime_ns).get((sop_code, step_number))


@functools.lru_cache(maxsize=4)
def _timeouts(path: Path, mtime: int) -> dict[tuple[str, int], timedelta]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    table = data.get("response_timeouts") or {}
    if not isinstance(table, dict):
        raise PiakError(f"{path}: response_timeouts harus berupa pemetaan SOP -> langkah -> durasi")
    result: dict[tuple[str, int], timedelta] = {}
    for sop_code, steps in table.items():
        for step, text in (steps or {}).items():
            try:
                result[str(sop_code), int(step)] = parse_duration(text)
            except (PiakError, ValueError) as exc:
                raise PiakError(f"{path}: response_timeouts.{sop_code}.{step}: {exc}") from None
    return result
