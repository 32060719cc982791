"""What may be released: the whitelist and rules of ``include/piak/data/provision.yaml``.

Identifiers that reach SQL (table and column names) come only from here, and each is checked
against a strict pattern when the file is loaded.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from piak.core.config import parse_yaml
from piak.core.errors import PiakError

DATA = Path(__file__).resolve().parents[2] / "data"
IDENTIFIER = re.compile(r"^[A-Z][A-Z0-9_]{0,29}$")
SOURCES = {"b": "BIODATA_WNI", "kel": "DATA_KELUARGA", "skec": "SETUP_KEC", "skel": "SETUP_KEL"}
TYPES = ("text", "int", "date")
KINDS = ("codes", "age_sex", "heads", "wajib_ktp")
SEXES = {1: "Laki-laki", 2: "Perempuan"}


@dataclass(frozen=True)
class ColumnSpec:
    """One whitelisted column of an individual extract."""

    name: str
    header: str
    type: str = "text"
    codes: str | None = None
    identifier: bool = False
    source: str = "b"
    #: A date released as its year only, unless this identifier is opened (the day would give
    #: the identifier back).
    exact_with: str | None = None
    #: Header of the year when the date is coarsened.
    year_header: str | None = None
    #: Counted in the k-anonymity of the release (what an outsider may know about a person).
    quasi_identifier: bool = False
    #: Names a person by itself (a name); reported, never a quasi-identifier.
    direct: bool = False


@dataclass(frozen=True)
class AggregateSpec:
    """One table of the aggregate pack (made per kecamatan and per kelurahan/desa)."""

    key: str
    kind: str
    title: str
    sheet: str
    column: str | None = None
    codes: str | None = None


@dataclass(frozen=True)
class Catalog:
    columns: dict[str, ColumnSpec]
    aggregates: tuple[AggregateSpec, ...]
    codes: dict[str, dict[int, str]]
    pseudonym_prefix: dict[str, str]
    active_flag: str
    adult_age: int
    ever_married: tuple[int, ...]
    head_of_family: int
    age_width: int
    age_top: int

    @property
    def identifiers(self) -> tuple[str, ...]:
        """Columns replaced by pseudonyms unless a PKS clause opens them."""
        return tuple(name for name, spec in self.columns.items() if spec.identifier)

    @property
    def quasi_identifiers(self) -> tuple[str, ...]:
        return tuple(name for name, spec in self.columns.items() if spec.quasi_identifier)

    def labels(self, table: str) -> dict[int, str]:
        """Code -> Indonesian label of a code table of ``codes.yaml``."""
        return self.codes[table]

    def age_groups(self) -> list[tuple[int, int | None, str]]:
        """``(lowest age, highest age or None, label)`` of every age group, youngest first."""
        groups: list[tuple[int, int | None, str]] = []
        for low in range(0, self.age_top, self.age_width):
            groups.append((low, low + self.age_width - 1, f"{low}-{low + self.age_width - 1}"))
        groups.append((self.age_top, None, f"{self.age_top}+"))
        return groups


def _identifier(value: Any, where: str) -> str:
    if not isinstance(value, str) or not IDENTIFIER.match(value):
        raise PiakError(f"provision.yaml: {where}: {value!r} bukan nama kolom/tabel yang sah")
    return value


def _column(name: str, raw: dict[str, Any], codes: dict[str, dict[int, str]]) -> ColumnSpec:
    spec = ColumnSpec(name=_identifier(name, "individual_columns"), **raw)
    if spec.type not in TYPES or spec.source not in SOURCES:
        raise PiakError(f"provision.yaml: kolom {name}: type/source tidak dikenal")
    if spec.codes is not None and spec.codes not in codes:
        raise PiakError(f"provision.yaml: kolom {name}: tabel kode {spec.codes} tidak ada")
    if spec.exact_with is not None and (spec.type != "date" or not spec.year_header):
        raise PiakError(f"provision.yaml: kolom {name}: exact_with perlu type date dan year_header")
    return spec


def _aggregate(raw: dict[str, Any], codes: dict[str, dict[int, str]]) -> AggregateSpec:
    spec = AggregateSpec(**raw)
    if spec.kind not in KINDS or not re.fullmatch(r"[a-z_]{2,30}", spec.key):
        raise PiakError(f"provision.yaml: tabel agregat {spec.key!r} tidak sah")
    if spec.kind == "codes":
        _identifier(spec.column, f"aggregates.{spec.key}.column")
        if spec.codes not in codes:
            raise PiakError(f"provision.yaml: tabel kode {spec.codes} tidak ada")
    return spec


@functools.cache
def load() -> Catalog:
    """The provision whitelist and rules, with code labels from ``codes.yaml``."""
    raw = parse_yaml((DATA / "provision.yaml").read_text(encoding="utf-8"))
    codes_raw = parse_yaml((DATA / "codes.yaml").read_text(encoding="utf-8"))
    codes = {table: {int(k): str(v) for k, v in rows.items()} for table, rows in codes_raw.items()}
    columns = {n: _column(n, spec, codes) for n, spec in raw["individual_columns"].items()}
    for name, spec in columns.items():
        if spec.exact_with and not (
            spec.exact_with in columns and columns[spec.exact_with].identifier
        ):
            raise PiakError(f"provision.yaml: kolom {name}: exact_with bukan kolom identitas")
    prefixes = {str(k): str(v) for k, v in raw["pseudonym"]["prefix"].items()}
    if set(prefixes) != {n for n, s in columns.items() if s.identifier}:
        raise PiakError("provision.yaml: pseudonym.prefix harus menyebut setiap kolom identitas")
    return Catalog(
        columns=columns,
        aggregates=tuple(_aggregate(a, codes) for a in raw["aggregates"]),
        codes=codes,
        pseudonym_prefix=prefixes,
        active_flag=str(raw["active_flag"]),
        adult_age=int(raw["wajib_ktp"]["min_age"]),
        ever_married=tuple(int(c) for c in raw["wajib_ktp"]["ever_married"]),
        head_of_family=int(raw["head_of_family"]),
        age_width=int(raw["age_groups"]["width"]),
        age_top=int(raw["age_groups"]["top"]),
    )
