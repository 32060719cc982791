"""Backup sets and their manifests.

A backup set is one folder ``<backup_dir>/<set name>/`` holding the dump files and
``manifest.json``. The manifest lists every file with its size and SHA-256, what was exported
(database, schemas, tool, start and end, row counts per table as counted in the source at backup
time) and its own checksum. A folder without a valid manifest is never treated as a backup.

A manifest is untrusted input (it may come back from a flash disk): every file it names must be a
plain file name inside its set - no ``..``, no path, no hidden or partial name - and the files
must be regular files, never symlinks. A set is sound only when its files match the manifest
*and* its contents hold the rows the manifest recorded (:func:`verify_set`); a set without any
row is accepted only when the manifest says the source was empty.

Sets are sealed folders (:mod:`piak.core.sealed`, kind ``backup-set``): built under a temporary name
(``.<set name>.partial``) and renamed into place only when the manifest is written, so a crash
never leaves something that looks like a backup. Sets written before (``piak-backup-set/1``) stay
readable and keep their format.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from piak.core import sealed
from piak.core.errors import PiakError
from piak.core.sealed import MANIFEST, FileEntry, ManifestError

__all__ = ["MANIFEST", "FileEntry", "Manifest", "ManifestError"]  # the set's vocabulary
KIND = "backup-set"
LEGACY_FORMAT = "piak-backup-set/1"
CHUNK = sealed.CHUNK
#: ``siak_20261125T2300``: a label, then the run's logical date in WIB.
SET_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}_\d{8}T\d{4}$")


@dataclass
class Manifest:
    """What a backup set holds; ``files`` are relative to the set folder."""

    set_name: str
    database: str
    engine: str
    tool: str
    started_at: str
    finished_at: str
    files: list[FileEntry]
    schemas: list[str] = field(default_factory=list)
    row_counts: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    #: The manifest's format: new sets are sealed folders; older ones keep theirs.
    format: str = sealed.FORMAT

    def body(self) -> dict[str, Any]:
        kind = {"kind": KIND} if self.format == sealed.FORMAT else {}
        return {
            "format": self.format,
            **kind,
            "set": self.set_name,
            "database": self.database,
            "engine": self.engine,
            "tool": self.tool,
            "schemas": list(self.schemas),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "files": [f.as_dict() for f in self.files],
            "row_counts": dict(sorted(self.row_counts.items())),
            "extra": self.extra,
        }

    @property
    def encrypted(self) -> bool:
        return any(f.encrypted for f in self.files)

    @property
    def recipients(self) -> list[str]:
        """The public keys an encrypted set was encrypted to."""
        return list((self.extra.get("encryption") or {}).get("recipients") or [])

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def digest(self) -> str:
        """The manifest's own SHA-256 (``manifest_sha256``): what identifies this exact set."""
        return _digest(self.body())

    def to_json(self) -> str:
        return sealed.manifest_text(self.body())


#: The checksum of a manifest body (both formats use the same canonical JSON).
_digest = sealed.checksum


def validate_set_name(name: str) -> str:
    """A set name is a label and a WIB timestamp; never a path, ``..`` or a wildcard."""
    if not isinstance(name, str) or not SET_NAME.match(name):
        raise PiakError(
            f"nama set cadangan tidak sah: {name!r} (contoh: siak_20261125T2300; "
            "huruf kecil, angka, garis bawah; bukan path)"
        )
    return name


def set_name_for(label: str, when: datetime) -> str:
    """The set name of a run: ``<label>_<YYYYMMDD>T<HHMM>`` of ``when`` (already in WIB)."""
    return validate_set_name(f"{label}_{when:%Y%m%dT%H%M}")


sha256_file = sealed.sha256_file
describe_files = sealed.describe


def load_manifest(set_dir: Path) -> Manifest:
    """Read and check a set's manifest (its own checksum included); it must be the manifest of
    the set named like its folder."""
    try:
        data = sealed.read_file(set_dir, kind=KIND, legacy={LEGACY_FORMAT: sealed.checksum})
    except ManifestError as exc:
        raise ManifestError(f"{exc}: bukan set cadangan") from None
    return _manifest(data, set_dir.name, expected_set=set_dir.name)


def parse_manifest(text: str, where: str, *, expected_set: str | None = None) -> Manifest:
    """Check a manifest's text (format, its own checksum, every entry) wherever it was read
    from; ``expected_set`` is the set it must belong to (its folder's name)."""
    data = sealed.read(text, where, kind=KIND, legacy={LEGACY_FORMAT: sealed.checksum})
    return _manifest(data, where, expected_set=expected_set)


def _manifest(data: dict[str, Any], where: str, *, expected_set: str | None) -> Manifest:
    try:
        manifest = Manifest(
            set_name=data["set"],
            database=data["database"],
            engine=data["engine"],
            tool=data["tool"],
            started_at=data["started_at"],
            finished_at=data["finished_at"],
            files=sealed.parse_entries(data["files"], where),
            schemas=list(data.get("schemas") or []),
            row_counts={str(k): _count(v) for k, v in (data.get("row_counts") or {}).items()},
            extra=dict(data.get("extra") or {}),
            format=data["format"],
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ManifestError(f"{where}: {MANIFEST} tidak lengkap: {exc}") from None
    try:
        validate_set_name(manifest.set_name)
    except PiakError:
        raise ManifestError(f"{where}: nama set di {MANIFEST} tidak sah") from None
    if expected_set is not None and manifest.set_name != expected_set:
        raise ManifestError(
            f"{where}: {MANIFEST} milik set {manifest.set_name}, bukan {expected_set}"
        )
    return manifest


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"jumlah baris tidak sah: {value!r}")
    return value


@dataclass
class Verification:
    """The outcome of checking a set's files against its manifest."""

    set_dir: Path
    problems: list[str]
    #: What could not be checked (the contents of an encrypted set without a key).
    unchecked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> None:
        if self.problems:
            raise PiakError(f"set {self.set_dir.name} rusak: " + "; ".join(self.problems))


def verify_set(
    set_dir: Path, *, contents: bool = True, identities: Sequence[Any] | None = None
) -> Verification:
    """Check every file's size and SHA-256 against the manifest (missing, extra and symlinked
    files too); then, with ``contents``, that the set holds the rows the manifest recorded. The
    contents of an encrypted set are checked only with ``identities`` (its private keys): the
    files alone are checked without any key, e.g. on a flash disk."""
    if set_dir.is_symlink():
        return Verification(set_dir, [f"{set_dir.name} adalah symlink, bukan folder set"])
    try:
        manifest = load_manifest(set_dir)
    except ManifestError as exc:
        return Verification(set_dir, [str(exc)])
    problems = sealed.file_problems(set_dir, manifest.files)
    unchecked = []
    if contents and not problems:
        if manifest.encrypted and not identities and manifest.engine == "sqlite":
            unchecked.append("isi set terenkripsi tidak diperiksa: tidak ada kunci privat")
        else:
            problems += content_problems(set_dir, manifest, identities or ())
    return Verification(set_dir, problems, unchecked)


def content_problems(
    set_dir: Path, manifest: Manifest, identities: Sequence[Any] = ()
) -> list[str]:
    """What the set's contents say against its manifest: the rows of every table as recorded
    from the source, and no set without rows unless the source was recorded as empty."""
    problems = []
    if not any(manifest.row_counts.values()) and not manifest.extra.get("source_empty"):
        problems.append(
            "set tanpa baris data padahal sumbernya tidak tercatat kosong (ekspor salah sumber?)"
        )
    if manifest.engine == "sqlite":
        from piak.engines import sqlite_backup

        problems += sqlite_backup.content_problems(set_dir, manifest, identities)
    elif manifest.engine == "oracle-datapump":
        from piak.engines import oracle_export

        problems += oracle_export.content_problems(set_dir, manifest)
    else:
        problems.append(f"engine {manifest.engine!r} tidak dikenal")
    return problems


def partial_dir(backup_dir: Path, set_name: str) -> Path:
    return backup_dir / f".{set_name}.partial"


def start_set(backup_dir: Path, set_name: str) -> Path:
    """A fresh temporary folder for building ``set_name`` (a leftover from a crash is removed)."""
    return sealed.start(backup_dir, validate_set_name(set_name))


def finish_set(work: Path, manifest: Manifest) -> Path:
    """Write the manifest, then move the folder to its final name (atomic rename)."""
    return sealed.seal(work, work.parent / manifest.set_name, manifest.to_json())


def list_sets(backup_dir: Path) -> Iterator[Path]:
    """Folders in ``backup_dir`` whose name is a set name (validity is checked separately)."""
    if not backup_dir.is_dir():
        return iter(())
    return iter(sorted(p for p in backup_dir.iterdir() if p.is_dir() and SET_NAME.match(p.name)))
