"""A backup night killed (SIGKILL, no cleanup code runs) in the middle of each step: nothing
half-made is presented as a backup, earlier sets stay intact, and a rerun completes the night.

Each case forks a child that runs the night's steps and kills itself at a real point inside a
step (the n-th call of a function that step uses); the parent then checks what is on disk and
reruns the night, as a retry or a cleared task would.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from backup_helpers import embedded_home, night

from piak.engines import backupset, catalogue, offsite
from piak.sops import backup

WIB = ZoneInfo("Asia/Jakarta")
STEPS = (
    "prepare",
    "export",
    "place",
    "copy_offsite",
    "apply_retention",
    "handover_evidence",
    "record_handover",
)

#: (step, "module:attribute" to die at, which call) - each a point in the middle of a step.
KILL_POINTS = [
    ("prepare", "piak.engines.offsite:open_target", 1),
    # database copied into the partial folder
    ("export", "piak.engines.sqlite_backup:row_counts", 1),
    ("export", "piak.engines.backupset:finish_set", 1),  # database complete, no manifest yet
    ("export", "os:replace", 2),  # manifest written, folder not yet renamed into place
    ("place", "piak.engines.catalogue:update", 1),
    # data file written, not verified
    ("copy_offsite", "piak.engines.offsite:LocalTarget.settle", 1),
    ("copy_offsite", "piak.engines.offsite:_check_same", 1),  # data verified, manifest not yet
    ("apply_retention", "shutil:rmtree", 1),  # before the old set leaves the flash disk
    ("apply_retention", "shutil:rmtree", 2),  # gone from the flash disk, not from the server
    ("handover_evidence", "piak.engines.offsite:verify_copy", 1),
    ("record_handover", "piak.engines.catalogue:update", 1),
]


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    return embedded_home(tmp_path, monkeypatch, residents=300, seed=4, daily=2)


context = night


def run_night(day: int) -> None:
    ctx = context(day)
    for step in STEPS:
        getattr(backup, step)(ctx)


def _die_at(point: str, call: int) -> None:
    """Replace ``point`` so that its ``call``-th call kills this process outright."""
    module_name, _, attr_path = point.partition(":")
    owner = sys.modules.get(module_name) or __import__(module_name)
    *parents, attr = attr_path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    original, calls = getattr(owner, attr), [0]

    def dying(*args, **kwargs):
        calls[0] += 1
        if calls[0] == call:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)

    setattr(owner, attr, dying)


def _night_killed_in(step: str, point: str, call: int, day: int) -> None:
    ctx = context(day)
    for name in STEPS:
        if name == step:
            _die_at(point, call)
        getattr(backup, name)(ctx)
    os._exit(0)  # reached only when the kill point was never hit


def sets_on_server(home: Path) -> list[str]:
    return sorted(p.name for p in backupset.list_sets(home / "backups"))


def flashdisk(home: Path) -> offsite.LocalTarget:
    return offsite.LocalTarget(home / "media" / "flashdisk" / "piak", name="flashdisk")


def assert_nothing_half_made_looks_like_a_backup(home: Path) -> None:
    for folder in backupset.list_sets(home / "backups"):
        assert backupset.verify_set(folder).ok, f"{folder.name} looks like a set but is not whole"
    disk = flashdisk(home)
    for name in disk.listdir(""):
        problems = offsite.verify_copy(disk, name)
        assert not problems or problems == [
            f"flashdisk: {name} tidak punya manifest (salinan belum selesai)"
        ], problems


@pytest.mark.parametrize(
    ("step", "point", "call"), KILL_POINTS, ids=[f"{s}-{p}-{c}" for s, p, c in KILL_POINTS]
)
def test_a_night_killed_mid_step_is_completed_by_a_rerun(home, step, point, call):
    run_night(10)
    run_night(11)
    earlier = sets_on_server(home)
    assert earlier == ["siak_20261110T2300", "siak_20261111T2300"]

    child = multiprocessing.get_context("fork").Process(
        target=_night_killed_in, args=(step, point, call, 12)
    )
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL, "the kill point was never reached"

    assert_nothing_half_made_looks_like_a_backup(home)
    # Retention may by now have deleted the oldest set, as it should; the rest are whole.
    before_retention = STEPS.index(step) < STEPS.index("apply_retention")
    for name in earlier if before_retention else earlier[1:]:
        assert backupset.verify_set(home / "backups" / name).ok
        assert offsite.verify_copy(flashdisk(home), name) == []

    run_night(12)

    # The rerun leaves the same state as an uninterrupted night: retention keeps two sets.
    kept = ["siak_20261111T2300", "siak_20261112T2300"]
    assert sets_on_server(home) == kept
    assert flashdisk(home).listdir("") == kept
    for name in kept:
        assert backupset.verify_set(home / "backups" / name).ok
        assert offsite.verify_copy(flashdisk(home), name) == []
    leftovers = [p.name for p in (home / "backups").iterdir() if p.name.endswith(".partial")]
    leftovers += [p.name for p in (home / "media").rglob("*") if p.name.endswith(".partial")]
    assert leftovers == []
    entry = catalogue.read(home / "backups", "siak_20261112T2300")
    assert set(entry["verified_targets"]) == {"flashdisk"}
