"""The role-to-users mapping: who holds which office role.

Kept as configuration (``config/roles.yaml`` or ``PIAK_ROLES_FILE``) and read from that file
only, so DAG files can use it at parse time without touching the metadata database.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TypedDict

import yaml

from piak import settings
from piak.errors import RoleConfigError

#: Office roles, as named in the SOP registry.
ROLES: tuple[str, ...] = (
    "administrator",
    "jfu",
    "kasi",
    "kabid",
    "sekretaris",
    "kadis",
    "petugas",
)

#: How the roles are called in Bahasa Indonesia (sign-off texts, agenda).
ROLE_TITLES: dict[str, str] = {
    "administrator": "Administrator",
    "jfu": "JFU",
    "kasi": "Kepala Seksi",
    "kabid": "Kepala Bidang PIAK",
    "sekretaris": "Sekretaris Dinas",
    "kadis": "Kepala Dinas",
    "petugas": "Petugas",
}


class User(TypedDict):
    """An Airflow user as the human-in-the-loop operators expect it."""

    id: str
    name: str


def load_roles(path: Path | None = None) -> dict[str, list[User]]:
    """Return every office role with its users (possibly none), validated."""
    path = Path(path) if path else settings.roles_file()
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise RoleConfigError(f"{path}: berkas peran tidak ditemukan") from None
    return _load(path, mtime)


@functools.lru_cache(maxsize=8)
def _load(path: Path, mtime: int) -> dict[str, list[User]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RoleConfigError(f"{path}: bukan YAML yang sah: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("roles"), dict):
        raise RoleConfigError(f"{path}: kunci 'roles' (peran -> daftar pengguna) tidak ada")
    roles: dict[str, list[User]] = {role: [] for role in ROLES}
    for role, users in data["roles"].items():
        if role not in ROLES:
            raise RoleConfigError(f"{path}: roles.{role}: peran tidak dikenal ({', '.join(ROLES)})")
        roles[role] = [_user(path, role, i, u) for i, u in enumerate(users or [])]
    return roles


def _user(path: Path, role: str, index: int, raw: object) -> User:
    where = f"{path}: roles.{role}[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"].strip():
        raise RoleConfigError(f"{where}.id: setiap pengguna perlu 'id' (login Airflow)")
    name = raw.get("name", raw["id"])
    if not isinstance(name, str):
        raise RoleConfigError(f"{where}.name: harus teks")
    return User(id=raw["id"].strip(), name=name)


def users_for(role: str, path: Path | None = None) -> list[User]:
    """The users allowed to sign off for ``role``; a clear error when there are none."""
    if role not in ROLES:
        raise RoleConfigError(f"peran tidak dikenal: {role!r} ({', '.join(ROLES)})")
    users = load_roles(path)[role]
    if not users:
        where = path or settings.roles_file()
        raise RoleConfigError(
            f"peran '{role}' ({ROLE_TITLES[role]}) belum punya pengguna di {where}: "
            "tambahkan minimal satu pengguna agar langkahnya bisa ditandatangani"
        )
    return users
