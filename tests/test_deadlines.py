"""Sign-off deadlines as configuration (config/signoffs.yaml) and who may answer when
(piak.core.approvers, the rule both auth managers apply)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from piak.core import approvers, config, deadlines
from piak.core.errors import PiakError

OPENED = datetime(2026, 11, 25, 16, 5, tzinfo=UTC)  # 23:05 WIB, right after the backup


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30m", timedelta(minutes=30)), ("8h", timedelta(hours=8)), (" 2d ", timedelta(days=2))],
)
def test_durations(text, expected):
    assert config.parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "0h", "2 jam", "1w", "-1d"])
def test_bad_durations_are_refused(text):
    with pytest.raises(PiakError, match="durasi tidak sah"):
        config.parse_duration(text)


def write(tmp_path, monkeypatch, text: str):
    path = tmp_path / "signoffs.yaml"
    path.write_text(text)
    os.utime(path, ns=(1, path.stat().st_mtime_ns + 1_000_000))  # a new version of the file
    monkeypatch.setenv("PIAK_SIGNOFFS_FILE", str(path))
    return path


def test_the_hand_over_is_due_reminded_escalated_then_given_up(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, "steps:\n  backup_database:\n    6: {due: 10h, remind_every: 6h,"
          " escalate_after: 1d, give_up_after: 2d}\n")  # fmt: skip
    limits = deadlines.for_step("backup_database", 6)
    assert limits.escalate_to == "kabid"  # the Kasi's superior
    timers = limits.timers(OPENED)
    assert timers[0] == (OPENED + timedelta(hours=10), "remind")
    assert (OPENED + timedelta(days=1), "escalate") in timers
    assert timers[-1] == (OPENED + timedelta(days=2), "give_up")
    reminders = [at for at, kind in timers if kind == "remind"]
    assert reminders == [OPENED + timedelta(hours=h) for h in (10, 16, 22, 28, 34, 40, 46)]
    assert limits.next_timer(OPENED, OPENED + timedelta(hours=23)) == (
        OPENED + timedelta(days=1),
        "escalate",
    )
    assert limits.next_timer(OPENED, OPENED + timedelta(days=3)) is None


def test_without_configuration_the_standard_time_is_the_due_time(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, "")
    limits = deadlines.for_step("backup_database", 7)  # Mutu Baku: 5 menit
    assert limits.due == timedelta(minutes=5)
    assert limits.escalate_to is None and limits.give_up_after is None
    assert limits.timers(OPENED)[:2] == [
        (OPENED + timedelta(minutes=5), "remind"),
        (OPENED + timedelta(minutes=5, days=1), "remind"),
    ]
    assert len(limits.timers(OPENED)) == deadlines.MAX_REMINDERS  # bounded, never endless


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "steps:\n  helpdesk:\n    5: {due: lama}\n",
            r"helpdesk\[5\]\.due: durasi tidak sah",
        ),
        ("steps:\n  helpdesk:\n    5: {escalate_to: bupati, escalate_after: 1d}\n", "escalate_to"),
        ("steps:\n  helpdesk:\n    5: {escalate_to: kabid}\n", "escalate_to perlu escalate_after"),
        ("steps:\n  helpdesk:\n    5: {escalate_after: 2d, give_up_after: 1d}\n", "lebih lama"),
        ("steps:\n  helpdesk:\n    5: {tenggat: 1d}\n", "tenggat: kunci tidak dikenal"),
        ("response_timeouts: {}\n", "response_timeouts: kunci tidak dikenal"),
    ],
)
def test_a_bad_file_names_the_key(tmp_path, monkeypatch, text, expected):
    path = write(tmp_path, monkeypatch, text)
    with pytest.raises(PiakError, match=expected) as error:
        deadlines.for_step("helpdesk", 5)
    assert str(path) in str(error.value)


def test_an_escalation_answers_only_from_its_moment():
    at = datetime(2026, 11, 26, 16, 5, tzinfo=UTC)
    assigned = ["kasi", approvers.timed_id("kabid", at)]
    assert approvers.may_answer(assigned, "kasi", at - timedelta(hours=5))
    assert not approvers.may_answer(assigned, "kabid", at - timedelta(minutes=1))
    assert approvers.may_answer(assigned, "kabid", at)
    assert not approvers.may_answer(assigned, "jfu", at + timedelta(days=9))
    assert not approvers.may_answer(["kabid~kapan-saja"], "kabid", at)  # unreadable: never
