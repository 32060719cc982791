"""The backup catalogue: what is known about each set beyond its manifest.

One small JSON file per set in ``<backup_dir>/.catalogue/``: when it was verified on the server
and on each offsite target, its manifest's checksum (what an offsite copy is checked against when
the server's set is gone), when it was restore-tested. The nightly backup, the hand-over, the
recovery and the restore drill all read and write it here; ``piak backups`` lists it, with the
age of the newest fully verified set (the freshness check alerts when it is too old).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from piak.core.files import write_text_atomic
from piak.engines import backupset
from piak.engines.backup_config import BackupConfig

FOLDER = ".catalogue"


def path(backup_dir: Path, set_name: str) -> Path:
    return backup_dir / FOLDER / f"{set_name}.json"


def read(backup_dir: Path, set_name: str) -> dict[str, Any]:
    found = path(backup_dir, set_name)
    if not found.exists():
        return {"set": set_name, "verified_targets": {}, "restore_tested_at": None}
    return json.loads(found.read_text(encoding="utf-8"))


def update(backup_dir: Path, set_name: str, **changes: Any) -> dict[str, Any]:
    entry = read(backup_dir, set_name)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(entry.get(key), dict):
            entry[key].update(value)
        else:
            entry[key] = value
    write_text_atomic(path(backup_dir, set_name), json.dumps(entry, indent=2))
    return entry


def forget(backup_dir: Path, set_name: str) -> None:
    path(backup_dir, set_name).unlink(missing_ok=True)


def set_time(name: str) -> str:
    return name.rsplit("_", 1)[1]


def names(config: BackupConfig) -> list[str]:
    """Every catalogued set, oldest first."""
    folder = config.backup_dir / FOLDER
    if not folder.is_dir():
        return []
    found = [p.stem for p in folder.glob("*.json") if backupset.SET_NAME.match(p.stem)]
    return sorted(found, key=set_time)


def fully_verified(config: BackupConfig, entry: dict[str, Any]) -> bool:
    """Verified on the server and on every configured offsite target."""
    targets = {t.name for t in config.targets}
    return bool(entry.get("server_verified_at")) and targets <= set(entry["verified_targets"])


def newest_verified_set(config: BackupConfig) -> str | None:
    """The newest set verified everywhere and still on the server."""
    found = [
        name
        for name in names(config)
        if fully_verified(config, read(config.backup_dir, name))
        and (config.backup_dir / name).is_dir()
    ]
    return max(found, key=set_time, default=None)


def freshness(config: BackupConfig, now: datetime | None = None) -> dict[str, Any]:
    """The newest fully verified set, when it was exported, its age and whether that is older
    than ``freshness.max_age`` (``stale``)."""
    now = now or datetime.now(UTC)
    name = newest_verified_set(config)
    limit = config.freshness.max_age
    if name is None:
        return {"set": None, "exported_at": None, "age_hours": None, "stale": True,
                "max_age_hours": limit / timedelta(hours=1)}  # fmt: skip
    exported = read(config.backup_dir, name).get("exported_at")
    when = datetime.fromisoformat(exported) if exported else None
    age = now - when if when else None
    return {
        "set": name,
        "exported_at": exported,
        "age_hours": round(age / timedelta(hours=1), 1) if age is not None else None,
        "stale": age is None or age > limit,
        "max_age_hours": limit / timedelta(hours=1),
    }


def rows(config: BackupConfig, known_keys: list[str] | None = None) -> list[dict[str, Any]]:
    """The catalogue as rows: set, size, export time, where copies lie, restore-tested, and
    (with ``known_keys``) whether the keys an encrypted set was made for are still known."""
    found = []
    for name in names(config):
        entry = read(config.backup_dir, name)
        used = entry.get("recipients") or []
        places = (["server"] if (config.backup_dir / name).is_dir() else []) + sorted(
            entry.get("verified_targets") or {}
        )
        found.append(
            {
                "set": name,
                "size": entry.get("size"),
                "exported_at": entry.get("exported_at"),
                "copies": places,
                "verified": fully_verified(config, entry),
                "restore_tested_at": entry.get("restore_tested_at"),
                "handed_over_at": entry.get("handed_over_at"),
                "safety": bool(entry.get("safety_for")),
                "encrypted": bool(used),
                "keys_known": None
                if not used or known_keys is None
                else bool(set(used) & set(known_keys)),
            }
        )
    return found
