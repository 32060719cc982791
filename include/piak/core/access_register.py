"""The access register: who holds which SIAK account, with which role, machines, integrity pact
and status, and its history. Written by the access-rights SOP (grants) and the out-of-policy
usage SOP (blocks), so it lives here and not in either."""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Callable, Generator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from piak.core import settings
from piak.core.files import write_text_atomic

#: Statuses of an entry whose account may not be used.
BLOCKED = ("diblokir", "dicabut")


def register_file() -> Path:
    return settings.storage() / "access_rights" / "register.json"


def load_register() -> dict[str, Any]:
    """NIK -> the member's entry (account, role, machines, pact, status, history)."""
    path = register_file()
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


@contextlib.contextmanager
def _register_lock() -> Generator[None, None, None]:
    path = register_file().with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def update_register(change: Callable[[dict[str, Any]], Any]) -> Any:
    """Read, change and write the register under a lock (both SOPs write it); atomic."""
    with _register_lock():
        register = load_register()
        result = change(register)
        write_text_atomic(
            register_file(), json.dumps(register, indent=2, ensure_ascii=False, sort_keys=True)
        )
    return result


def entry_for_account(register: dict[str, Any], username: str) -> tuple[str, dict] | None:
    """``(nik, entry)`` of the member holding account ``username``, or None."""
    wanted = username.upper()
    for nik, entry in register.items():
        if str(entry.get("user_id") or "").upper() == wanted:
            return nik, entry
    return None


def history(event: str, by: str | None, ref: str) -> dict[str, Any]:
    return {"waktu": datetime.now(UTC).isoformat(), "peristiwa": event, "oleh": by, "rujukan": ref}
