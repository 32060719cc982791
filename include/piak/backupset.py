"""Backup sets and their manifests.

A backup set is one folder ``<backup_dir>/<set name>/`` holding the dump files and
``manifest.json``. The manifest lists every file with its size and SHA-256, what was exported
(database, schemas, tool, start and end, row counts per table) and its own checksum. A folder
without a valid manifest is never treated as a backup.

Sets are built under a temporary name (``.<set name>.partial``) and renamed into place only when
the manifest is written, so a crash never leaves something that looks like a backup.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from piak.errors import PiakError

MANIFEST = "manifest.json"
FORMAT = "piak-backup-set/1"
CHUNK = 4 * 1024 * 1024
#: ``siak_20261125T2300``: a label, then the run's logical date in WIB.
SET_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}_\d{8}T\d{4}$")


class ManifestError(PiakError):
    """A manifest that is missing, unreadable or does not match its own checksum."""


@dataclass(frozen=True)
class FileEntry:
    name: str
    size: int
    sha256: str


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

    def body(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "set": self.set_name,
            "database": self.database,
            "engine": self.engine,
            "tool": self.tool,
            "schemas": list(self.schemas),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "files": [vars(f) for f in self.files],
            "row_counts": dict(sorted(self.row_counts.items())),
            "extra": self.extra,
        }

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    def to_json(self) -> str:
        body = self.body()
        return json.dumps({**body, "manifest_sha256": _digest(body)}, indent=2, ensure_ascii=False)


def _digest(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


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


def sha256_file(path: Path) -> tuple[int, str]:
    """Size and SHA-256 of a file, read once in chunks."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def describe_files(folder: Path, names: Iterable[str]) -> list[FileEntry]:
    return [FileEntry(name, *sha256_file(folder / name)) for name in sorted(names)]


def load_manifest(set_dir: Path) -> Manifest:
    """Read and check a set's manifest (its own checksum included)."""
    try:
        text = (set_dir / MANIFEST).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"{set_dir.name}: tidak ada {MANIFEST}: bukan set cadangan") from None
    except OSError as exc:
        raise ManifestError(f"{set_dir.name}: {MANIFEST} tidak terbaca: {exc}") from None
    return parse_manifest(text, set_dir.name)


def parse_manifest(text: str, where: str) -> Manifest:
    """Check a manifest's text (format and its own checksum) wherever it was read from."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ManifestError(f"{where}: {MANIFEST} tidak terbaca: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ManifestError(f"{where}: {MANIFEST} bukan format {FORMAT}")
    claimed = data.pop("manifest_sha256", None)
    if claimed != _digest(data):
        raise ManifestError(f"{where}: checksum {MANIFEST} tidak cocok (berkas diubah)")
    try:
        return Manifest(
            set_name=data["set"],
            database=data["database"],
            engine=data["engine"],
            tool=data["tool"],
            started_at=data["started_at"],
            finished_at=data["finished_at"],
            files=[FileEntry(**f) for f in data["files"]],
            schemas=list(data.get("schemas") or []),
            row_counts={k: int(v) for k, v in (data.get("row_counts") or {}).items()},
            extra=dict(data.get("extra") or {}),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ManifestError(f"{where}: {MANIFEST} tidak lengkap: {exc}") from None


@dataclass
class Verification:
    """The outcome of checking a set's files against its manifest."""

    set_dir: Path
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> None:
        if self.problems:
            raise PiakError(f"set {self.set_dir.name} rusak: " + "; ".join(self.problems))


def verify_set(set_dir: Path) -> Verification:
    """Check every file's size and SHA-256 against the manifest; missing and extra files too."""
    try:
        manifest = load_manifest(set_dir)
    except ManifestError as exc:
        return Verification(set_dir, [str(exc)])
    problems = []
    listed = {f.name for f in manifest.files}
    present = {p.name for p in set_dir.iterdir() if p.is_file()} - {MANIFEST}
    problems += [f"berkas tambahan {name}" for name in sorted(present - listed)]
    for entry in manifest.files:
        path = set_dir / entry.name
        if not path.is_file():
            problems.append(f"berkas {entry.name} hilang")
            continue
        if path.stat().st_size != entry.size:
            problems.append(
                f"berkas {entry.name}: ukuran {path.stat().st_size} bukan {entry.size} byte"
            )
            continue
        if sha256_file(path)[1] != entry.sha256:
            problems.append(f"berkas {entry.name}: SHA-256 berbeda")
    return Verification(set_dir, problems)


def partial_dir(backup_dir: Path, set_name: str) -> Path:
    return backup_dir / f".{set_name}.partial"


def start_set(backup_dir: Path, set_name: str) -> Path:
    """A fresh temporary folder for building ``set_name`` (a leftover from a crash is removed)."""
    validate_set_name(set_name)
    work = partial_dir(backup_dir, set_name)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    return work


def finish_set(work: Path, manifest: Manifest) -> Path:
    """Write the manifest, then move the folder to its final name (atomic rename)."""
    final = work.parent / manifest.set_name
    _write_atomic(work / MANIFEST, manifest.to_json())
    if final.exists():
        raise PiakError(f"set {manifest.set_name} sudah ada di {final.parent}")
    os.replace(work, final)
    _fsync_dir(final.parent)
    return final


def list_sets(backup_dir: Path) -> Iterator[Path]:
    """Folders in ``backup_dir`` whose name is a set name (validity is checked separately)."""
    if not backup_dir.is_dir():
        return iter(())
    return iter(sorted(p for p in backup_dir.iterdir() if p.is_dir() and SET_NAME.match(p.name)))


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
