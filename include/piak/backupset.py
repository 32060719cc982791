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

Sets are built under a temporary name (``.<set name>.partial``) and renamed into place only when
the manifest is written, so a crash never leaves something that looks like a backup.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
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
#: A file inside a set: one plain name (dump files, logs), never a path, hidden or partial name.
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.%+-]{0,199}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ManifestError(PiakError):
    """A manifest that is missing, unreadable or does not match its own checksum."""


@dataclass(frozen=True)
class FileEntry:
    """One file of a set: its size and SHA-256 as stored; for an encrypted file (``*.age``)
    also the size and SHA-256 of its plaintext."""

    name: str
    size: int
    sha256: str
    plain_size: int | None = None
    plain_sha256: str | None = None

    @property
    def encrypted(self) -> bool:
        return self.plain_sha256 is not None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None}


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
        body = self.body()
        return json.dumps({**body, "manifest_sha256": _digest(body)}, indent=2, ensure_ascii=False)


def _digest(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def validate_file_name(name: Any, where: str = "manifest") -> str:
    """A file entry of a manifest: a plain name inside its set (see the module docstring)."""
    if not isinstance(name, str) or not FILE_NAME.match(name) or ".." in name:
        raise ManifestError(
            f"{where}: nama berkas {name!r} tidak sah (harus nama berkas biasa di dalam set: "
            "tanpa '/', '..', path absolut atau nama tersembunyi)"
        )
    return name


_PLAIN = {"plain_size", "plain_sha256"}


def _file_entry(raw: Any, where: str) -> FileEntry:
    keys = set(raw) if isinstance(raw, dict) else set()
    if keys not in ({"name", "size", "sha256"}, {"name", "size", "sha256", *_PLAIN}):
        raise ManifestError(f"{where}: entri berkas harus berisi name, size dan sha256")
    name = validate_file_name(raw["name"], where)
    sizes = [raw["size"], *([raw["plain_size"]] if "plain_size" in raw else [])]
    digests = [raw["sha256"], *([raw["plain_sha256"]] if "plain_sha256" in raw else [])]
    for size in sizes:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ManifestError(f"{where}: ukuran berkas {name} tidak sah: {size!r}")
    for digest in digests:
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise ManifestError(f"{where}: SHA-256 berkas {name} tidak sah")
    if keys >= _PLAIN and not name.endswith(".age"):
        raise ManifestError(f"{where}: berkas terenkripsi {name} harus bernama *.age")
    return FileEntry(name, sizes[0], digests[0], *sizes[1:], *digests[1:])


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
    """Read and check a set's manifest (its own checksum included); it must be the manifest of
    the set named like its folder."""
    path = set_dir / MANIFEST
    if path.is_symlink():
        raise ManifestError(f"{set_dir.name}: {MANIFEST} adalah symlink: bukan set cadangan")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"{set_dir.name}: tidak ada {MANIFEST}: bukan set cadangan") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{set_dir.name}: {MANIFEST} tidak terbaca: {exc}") from None
    return parse_manifest(text, set_dir.name, expected_set=set_dir.name)


def parse_manifest(text: str, where: str, *, expected_set: str | None = None) -> Manifest:
    """Check a manifest's text (format, its own checksum, every entry) wherever it was read
    from; ``expected_set`` is the set it must belong to (its folder's name)."""
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
        manifest = Manifest(
            set_name=data["set"],
            database=data["database"],
            engine=data["engine"],
            tool=data["tool"],
            started_at=data["started_at"],
            finished_at=data["finished_at"],
            files=[_file_entry(f, where) for f in data["files"]],
            schemas=list(data.get("schemas") or []),
            row_counts={str(k): _count(v) for k, v in (data.get("row_counts") or {}).items()},
            extra=dict(data.get("extra") or {}),
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
    names = [f.name for f in manifest.files]
    if MANIFEST in names or len(set(names)) != len(names):
        raise ManifestError(f"{where}: daftar berkas {MANIFEST} berisi nama ganda")
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
    problems = []
    listed = {f.name for f in manifest.files}
    present = {p.name for p in set_dir.iterdir()} - {MANIFEST}
    problems += [f"berkas tambahan {name}" for name in sorted(present - listed)]
    for entry in manifest.files:
        path = set_dir / entry.name
        if path.is_symlink():
            problems.append(f"berkas {entry.name} adalah symlink (ditolak)")
            continue
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
        from piak import sqlite_backup

        problems += sqlite_backup.content_problems(set_dir, manifest, identities)
    elif manifest.engine == "oracle-datapump":
        from piak import oracle_export

        problems += oracle_export.content_problems(set_dir, manifest)
    else:
        problems.append(f"engine {manifest.engine!r} tidak dikenal")
    return problems


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
