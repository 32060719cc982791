"""The role-to-users mapping (configuration file)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from piak import roles
from piak.errors import RoleConfigError

ROOT = Path(__file__).resolve().parents[1]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_project_roles_file_names_every_office_role():
    mapping = roles.load_roles()
    assert set(mapping) == set(roles.ROLES)
    for role in roles.ROLES:
        assert roles.users_for(role), role


def test_users_for_returns_the_configured_users(tmp_path):
    path = write(
        tmp_path / "roles.yaml",
        "roles:\n  kasi:\n    - {id: budi, name: Budi Santoso}\n    - {id: ani}\n",
    )
    assert roles.users_for("kasi", path) == [
        {"id": "budi", "name": "Budi Santoso"},
        {"id": "ani", "name": "ani"},
    ]


def test_a_role_without_users_is_a_clear_error_naming_the_role(tmp_path):
    path = write(tmp_path / "roles.yaml", "roles:\n  kasi:\n    - {id: budi}\n  kadis: []\n")
    with pytest.raises(RoleConfigError, match=r"peran 'kadis' \(Kepala Dinas\) belum punya"):
        roles.users_for("kadis", path)
    with pytest.raises(RoleConfigError, match="'sekretaris'"):
        roles.users_for("sekretaris", path)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("roles:\n  kepala: [{id: x}]\n", "roles.kepala: peran tidak dikenal"),
        ("roles:\n  kasi: [{name: tanpa id}]\n", "roles.kasi[0].id"),
        ("users: {}\n", "kunci 'roles'"),
        ("roles: [\n", "bukan YAML yang sah"),
    ],
)
def test_malformed_role_file_names_the_file_and_field(tmp_path, text, fragment):
    path = write(tmp_path / "roles.yaml", text)
    with pytest.raises(RoleConfigError) as error:
        roles.load_roles(path)
    assert str(path) in str(error.value)
    assert fragment in str(error.value)


def test_role_file_changes_are_picked_up(tmp_path):
    path = write(tmp_path / "roles.yaml", "roles:\n  kasi: [{id: a}]\n")
    assert roles.users_for("kasi", path)[0]["id"] == "a"
    write(path, "roles:\n  kasi: [{id: bb}]\n")
    os.utime(path, ns=(1, path.stat().st_mtime_ns + 1_000_000))
    assert roles.users_for("kasi", path)[0]["id"] == "bb"


def test_roles_cli_lists_each_role_with_its_users():
    result = subprocess.run(
        [sys.executable, "-m", "piak", "roles"],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "include")),
        check=True,
    )
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert set(lines) == set(roles.ROLES)
    assert lines["kasi"].strip() == "kasi"
