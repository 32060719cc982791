"""The office roles, and who holds which (the users of ``config/access.yaml``, see
:mod:`piak.core.access`).

Read from that file only, so DAG files can use it at parse time without touching the metadata
database.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

from piak.core.errors import RoleConfigError

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
    """Every office role with its users (possibly none), from ``config/access.yaml``."""
    from piak.core import access

    config = access.load(path)
    return {
        role: [User(id=login, name=user.name) for login, user in config.holders(role)]
        for role in ROLES
    }


def users_for(role: str, path: Path | None = None) -> list[User]:
    """The users allowed to sign off for ``role``; a clear error when there are none."""
    from piak.core import access

    if role not in ROLES:
        raise RoleConfigError(f"peran tidak dikenal: {role!r} ({', '.join(ROLES)})")
    users = load_roles(path)[role]
    if not users:
        where = path or access.access_file()
        raise RoleConfigError(
            f"peran '{role}' ({ROLE_TITLES[role]}) belum punya pengguna di {where}: "
            "tambahkan minimal satu pengguna dengan peran ini agar langkahnya bisa ditandatangani"
        )
    return users
