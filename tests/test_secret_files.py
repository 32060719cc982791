"""Demo passwords, the demo's pseudonym secret and the office's generated passwords are written
owner-only from the first byte, whatever the umask, never through a stale readable file."""

from __future__ import annotations

import json
import os
import stat

import pytest

from piak import demo
from piak.core import files


@pytest.fixture
def open_umask():
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_secret_is_owner_only_whatever_the_umask(tmp_path, open_umask):
    path = tmp_path / "secret.json"
    path.write_text("old, readable")
    path.chmod(0o644)
    files.write_secret(path, "rahasia")  # replaced, not rewritten in place
    assert _mode(path) == 0o600 and path.read_text() == "rahasia"
    assert [p.name for p in tmp_path.iterdir()] == ["secret.json"], "no temporary file left"


def test_demo_passwords_and_secret_are_owner_only_even_over_stale_files(tmp_path, open_umask):
    home = tmp_path / "airflow_home"
    home.mkdir()
    # what the old code could leave behind: world-readable temporary files
    for stale in ("simple_auth_manager_passwords.json.tmp", "piak_pseudonym_secret.tmp"):
        (home / stale).write_text("stale")
        (home / stale).chmod(0o666)
    passwords = demo.ensure_passwords(home)
    stored = home / "simple_auth_manager_passwords.json.generated"
    assert _mode(stored) == 0o600 and json.loads(stored.read_text()) == passwords
    assert set(passwords) >= {"admin", "kasi", "kabid"}
    assert demo.ensure_passwords(home) == passwords, "a second start keeps the passwords"
    secret = demo.pseudonym_secret(home)
    assert len(secret) >= 32 and _mode(home / "piak_pseudonym_secret.generated") == 0o600


def test_the_office_passwords_file_is_owner_only(tmp_path, open_umask):
    from piak.web import auth

    path = tmp_path / "secrets" / "office-passwords.json"
    auth.write_passwords(path, {"budi.santoso": "x" * 16})
    assert _mode(path) == 0o600
    assert auth.read_passwords(path) == {"budi.santoso": "x" * 16}
