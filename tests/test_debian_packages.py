"""scripts/ensure-debian-packages.sh on a machine where another apt/dpkg holds the lock (as
unattended upgrades do right after boot): it waits, says so, and gives up only after its bound."""

from __future__ import annotations

import fcntl
import os
import subprocess
import threading
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ensure-debian-packages.sh"
LOCK = Path("/var/lib/dpkg/lock-frontend")
NO_SUCH_PACKAGE = "piak-no-such-package-for-tests"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not LOCK.exists(), reason="needs root on a Debian machine"
)


def _hold_lock(release: threading.Event) -> threading.Thread:
    """Take the dpkg frontend lock the way apt does (fcntl) until ``release`` is set."""
    taken = threading.Event()

    def hold() -> None:
        with LOCK.open("r+") as handle:
            fcntl.lockf(handle, fcntl.LOCK_EX)
            taken.set()
            release.wait(120)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert taken.wait(30), "could not take the dpkg lock for the test"
    return thread


def test_installed_packages_need_no_lock():
    release = threading.Event()
    holder = _hold_lock(release)
    try:
        done = subprocess.run([str(SCRIPT), "bash"], capture_output=True, text=True, timeout=30)
    finally:
        release.set()
        holder.join()
    assert done.returncode == 0, done.stderr
    assert "Waiting" not in done.stderr


def test_a_held_lock_is_waited_for_then_refused_with_a_message():
    release = threading.Event()
    holder = _hold_lock(release)
    try:
        done = subprocess.run(
            [str(SCRIPT), NO_SUCH_PACKAGE],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PIAK_APT_LOCK_WAIT": "3"},
        )
    finally:
        release.set()
        holder.join()
    assert done.returncode == 1
    assert f"Waiting for another apt/dpkg to release {LOCK}" in done.stderr
    assert f"Another apt/dpkg still holds {LOCK} after 3 s; giving up." in done.stderr


@pytest.mark.slow
def test_apt_runs_once_the_lock_is_released():
    """The lock goes away after a moment: apt itself then runs (and here refuses the unknown
    package - the point is that it got past the lock instead of failing on it)."""
    release = threading.Event()
    holder = _hold_lock(release)
    timer = threading.Timer(3, release.set)
    timer.start()
    try:
        done = subprocess.run(
            [str(SCRIPT), NO_SUCH_PACKAGE], capture_output=True, text=True, timeout=600
        )
    finally:
        timer.cancel()
        release.set()
        holder.join()
    assert "Waiting for another apt/dpkg" in done.stderr
    assert done.returncode != 0
    assert "Unable to locate package" in done.stderr, done.stderr
    assert "Could not get lock" not in done.stderr
