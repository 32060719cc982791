"""Shared by the backup and recovery step tests: a PIAK home with the embedded engine (a demo
SIAK database, a backup configuration, a plugged-in flash disk) and a night's backup steps."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from piak import demo
from piak.engines import demo_db
from piak.sops import backup

WIB = ZoneInfo("Asia/Jakarta")
ROOT = Path(__file__).resolve().parents[1]


def piak_cli(*args: str) -> subprocess.CompletedProcess:
    """``python -m piak ARGS`` as an administrator runs it (a fresh process, this checkout)."""
    return subprocess.run(
        [sys.executable, "-m", "piak", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "include")},
        timeout=300,
    )


def unscheduled_backup_config() -> str:
    """The project's ``config/backup.yaml`` with the nightly backup, the weekly drill and the
    hourly freshness check unscheduled: a test triggers the runs it wants."""
    config = (ROOT / "config" / "backup.yaml").read_text()
    schedules = ('"0 23 * * *"', '"0 2 * * 0"', '"15 * * * *"')
    unscheduled = config
    for schedule in schedules:
        unscheduled = unscheduled.replace(schedule, "null")
    assert unscheduled.count("null") >= config.count("null") + len(schedules), "schedules missing"
    return unscheduled


def unscheduled_usage_policy() -> str:
    """The project's ``config/usage_policy.yaml`` without its hourly monitoring: a scheduled
    run would open cases for the demo database's planted misuse (waiting sign-offs); the tests
    trigger the monitoring they want."""
    config = (ROOT / "config" / "usage_policy.yaml").read_text()
    unscheduled = config.replace('schedule: "0 * * * *"', "schedule: null")
    assert unscheduled != config, "the usage policy's schedule is missing"
    return unscheduled


def embedded_home(
    home: Path, monkeypatch: pytest.MonkeyPatch, *, residents: int, seed: int, daily: int
) -> Path:
    """``home`` as PIAK_HOME with ``siak.db``, ``backup.yaml`` and ``media/flashdisk``."""
    monkeypatch.setenv("PIAK_HOME", str(home))
    config = home / "backup.yaml"
    config.write_text(
        "label: siak\nschedule: null\nengine: sqlite\nsqlite: {database: siak.db}\n"
        "backup_dir: backups\n"
        "targets:\n  - {name: flashdisk, type: path, path: media/flashdisk/piak}\n"
        f"retention: {{daily: {daily}, weekly: 0, monthly: 0}}\n"
        "recovery: {scratch_sqlite: scratch/siak_scratch.db, evidence_dir: recovery}\n"
    )
    monkeypatch.setenv("PIAK_BACKUP_FILE", str(config))
    for name, value in demo.backup_key_connections(home / "keys").items():
        monkeypatch.setenv(name, value)
    demo_db.generate(home / "siak.db", residents=residents, seed=seed)
    (home / "media" / "flashdisk").mkdir(parents=True)
    return home


def night(day: int) -> dict:
    """The task context of the nightly run of 2026-11-<day> 23:00 WIB (and of the hand-over run
    it starts, whose form names that night's set)."""
    return {
        "logical_date": datetime(2026, 11, day, 23, 0, tzinfo=WIB),
        "params": {"set_name": f"siak_202611{day:02d}T2300"},
    }


def back_up(day: int) -> None:
    """The night's steps up to the verified offsite copy (no retention)."""
    ctx = night(day)
    for step in (backup.prepare, backup.export, backup.place, backup.copy_offsite):
        step(ctx)
