"""Office configuration of data provision, validated with pydantic (``extra="forbid"``):

- ``config/provision.yaml`` (``PIAK_PROVISION_FILE``): SIAK connection, folders, the office's
  small-count floor, the Connection of the pseudonym secret, letterhead;
- ``config/pks.yaml`` (``PIAK_PKS_FILE``): the registry of cooperation agreements (PKS) - who
  may receive individual data, which columns, from when to when, and whether identity may be
  opened (and under which clause).

A mistake is refused with the file, the key and what was expected, e.g.
``config/pks.yaml: agreements[0].valid_to: harus tanggal TTTT-BB-HH, bukan '2026-13-01'``
(:func:`piak.core.config.load_model`).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from piak.core import settings
from piak.core.config import load_model, validate
from piak.core.errors import PiakError
from piak.core.files import write_text_atomic

CONN_ID = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$"
PKS_NUMBER = r"^[A-Za-z0-9][A-Za-z0-9./\- ]{2,59}$"
_STRICT = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def provision_file() -> Path:
    return settings.config_file("PIAK_PROVISION_FILE", "provision.yaml")


def pks_file() -> Path:
    return settings.config_file("PIAK_PKS_FILE", "pks.yaml")


# --- provision.yaml ----------------------------------------------------------------------------


class Office(BaseModel):
    """The letterhead and the signatory of the notification letter."""

    model_config = _STRICT

    government: str = Field(min_length=1)
    name: str = Field(min_length=1)
    address: str = Field(min_length=1)
    city: str = Field(min_length=1)
    head_title: str = Field(min_length=1)
    head_name: str = Field(min_length=1)
    head_id: str = Field(min_length=1)


class ProvisionSettings(BaseModel):
    """``config/provision.yaml``. Relative folders are under ``PIAK_HOME``."""

    model_config = _STRICT

    conn_id: str = Field(pattern=CONN_ID)
    requests_dir: str = Field(min_length=1)
    archive_dir: str = Field(min_length=1)
    #: The office's small-count threshold: a request may raise it, never lower it.
    suppression_floor: int = Field(default=5, ge=2, le=100)
    #: Airflow Connection whose password keys the per-release pseudonyms (never in a release).
    pseudonym_conn_id: str = Field(default="piak_pseudonym", pattern=CONN_ID)
    office: Office

    @field_validator("requests_dir", "archive_dir")
    @classmethod
    def _not_dot(cls, value: str) -> str:
        if value in (".", "./"):
            raise ValueError("harus folder, bukan '.'")
        return value

    def folder(self, key: str) -> Path:
        value = Path(getattr(self, key))
        return value if value.is_absolute() else settings.home() / value


def load_settings(path: Path | None = None) -> ProvisionSettings:
    """``config/provision.yaml`` (or ``PIAK_PROVISION_FILE``), validated."""
    path = Path(path) if path else provision_file()
    return load_model(path, ProvisionSettings, "penyajian data")


# --- pks.yaml ----------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """How names are compared: case and repeated spaces do not matter."""
    return " ".join(text.split()).casefold()


class Agreement(BaseModel):
    """One cooperation agreement (Perjanjian Kerja Sama) of the office."""

    model_config = _STRICT

    number: str = Field(pattern=PKS_NUMBER)
    institution: str = Field(min_length=3, max_length=150)
    signed: date
    valid_from: date
    valid_to: date
    #: The individual-data columns it allows (names of ``include/piak/data/provision.yaml``).
    columns: tuple[str, ...] = Field(min_length=1)
    #: Whether identifiers (NIK, Nomor KK, NIK orang tua) may be released without pseudonym.
    open_identity: bool = False
    #: The clause of the agreement that opens identity (required when ``open_identity``).
    identity_clause: str | None = Field(default=None, min_length=3, max_length=200)
    #: The institution's age public key: its release packs are encrypted to it. Without one a
    #: pack is a password-protected (AES-256) 7z file, the password delivered separately.
    recipient: str | None = Field(default=None, pattern=r"^age1[02-9ac-hj-np-z]{58}$")
    note: str | None = Field(default=None, max_length=500)

    @field_validator("columns")
    @classmethod
    def _whitelisted(cls, columns: tuple[str, ...]) -> tuple[str, ...]:
        from piak.engines.provision.catalog import load

        allowed = load().columns
        unknown = [c for c in columns if c not in allowed]
        if unknown:
            raise ValueError(
                f"kolom {', '.join(unknown)} tidak ada di daftar kolom yang boleh diberikan "
                "(include/piak/data/provision.yaml)"
            )
        if len(set(columns)) != len(columns):
            raise ValueError("ada kolom ganda")
        return columns

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.valid_from > self.valid_to:
            raise ValueError("valid_from harus sebelum atau sama dengan valid_to")
        if self.signed > self.valid_to:
            raise ValueError("signed (tanggal PKS) harus sebelum valid_to")
        if self.open_identity and not self.identity_clause:
            raise ValueError("open_identity: true memerlukan identity_clause (pasal pembuka)")
        if self.identity_clause and not self.open_identity:
            raise ValueError("identity_clause hanya untuk open_identity: true")
        return self

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_to

    def period(self) -> str:
        return f"{self.valid_from.isoformat()} s.d. {self.valid_to.isoformat()}"

    def as_record(self) -> dict[str, Any]:
        """JSON-able, as the manifest and the sign-offs show it."""
        return self.model_dump(mode="json")


class PksRegistry(BaseModel):
    """``config/pks.yaml``: every agreement, numbers unique."""

    model_config = _STRICT

    agreements: tuple[Agreement, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> Self:
        seen: set[str] = set()
        for agreement in self.agreements:
            key = normalise(agreement.number)
            if key in seen:
                raise ValueError(f"nomor PKS {agreement.number!r} tercantum dua kali")
            seen.add(key)
        return self

    def find(self, number: str) -> Agreement | None:
        key = normalise(number)
        return next((a for a in self.agreements if normalise(a.number) == key), None)


def load_pks(path: Path | None = None) -> PksRegistry:
    """``config/pks.yaml`` (or ``PIAK_PKS_FILE``), validated; a missing file is an empty
    registry (no individual data can be released then)."""
    path = Path(path) if path else pks_file()
    if not path.exists():
        return PksRegistry()
    return load_model(path, PksRegistry, "PKS")


_HEADER = """\
# Registry of the office's cooperation agreements (Perjanjian Kerja Sama, PKS) for individual
# population data. An individual request must quote a PKS listed here that belongs to the
# requesting institution, is valid on the request date and allows every requested column.
# Identifiers (NIK, Nomor KK, NIK orang tua) are released without pseudonym only when
# open_identity is true, under the clause named in identity_clause.
# Edit by hand or with `python -m piak pks add ...`; `python -m piak pks list` shows it.
"""


def add_agreement(agreement: Agreement | dict[str, Any], path: Path | None = None) -> Agreement:
    """Add one agreement to the registry file (written atomically); refuse a duplicate number."""
    path = Path(path) if path else pks_file()
    registry = load_pks(path)
    if isinstance(agreement, dict):
        agreement = validate(Agreement, agreement, path)
    if registry.find(agreement.number):
        raise PiakError(f"{path}: nomor PKS {agreement.number!r} sudah terdaftar")
    updated = PksRegistry(agreements=(*registry.agreements, agreement))
    body = {
        "agreements": [a.model_dump(mode="json", exclude_none=True) for a in updated.agreements]
    }
    text = _HEADER + yaml.safe_dump(body, allow_unicode=True, sort_keys=False, width=100)
    write_text_atomic(path, text)
    return agreement
