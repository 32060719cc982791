"""Sealed folders: a folder of files and the ``manifest.json`` that vouches for them.

The one implementation behind backup sets, their offsite copies and data releases: files are
written into ``.<name>.partial``, hashed (SHA-256) on the way, described in the manifest - one
format, ``piak-sealed/1``, with a ``kind`` and the manifest's own checksum - and the folder is
renamed into place only when the manifest is written, so a crash never leaves something that
looks complete. :func:`file_problems` checks a folder against its manifest (missing, extra,
symlinked, resized or changed files). Manifests are untrusted input: every entry must be a plain
file name (:func:`check_name`).

A case folder (a complaint, a proposal, a case of misuse) grows step by step while its run goes
on, so it cannot be renamed into place: its archive step seals it where it is
(:func:`seal_case`: the same manifest, kind ``case/<sop>``, over every file then in it; sealed
again by a later round) and :func:`case_problems` checks it afterwards.

Folders written before this module (``piak-backup-set/1``, ``piak-data-provision/2``) stay
readable: their readers accept the legacy formats, each with its own checksum rule.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from piak.core.errors import PiakError

FORMAT = "piak-sealed/1"
MANIFEST = "manifest.json"
CHUNK = 4 * 1024 * 1024
#: A file inside a sealed folder: one plain name, never a path, hidden or partial name.
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.%+-]{0,199}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_OPTIONAL = ("plain_size", "plain_sha256", "rows")


class ManifestError(PiakError):
    """A manifest that is missing, unreadable, altered, or names what no folder may hold."""


@dataclass(frozen=True)
class FileEntry:
    """One file: its size and SHA-256 as stored; for an encrypted file (``*.age``) also those of
    its plaintext; for a data file the rows it holds."""

    name: str
    size: int
    sha256: str
    plain_size: int | None = None
    plain_sha256: str | None = None
    rows: int | None = None

    @property
    def encrypted(self) -> bool:
        return self.plain_sha256 is not None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None}


def checksum(body: dict[str, Any]) -> str:
    """The manifest's own checksum: SHA-256 of its canonical JSON without that field."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def hash_stream(handle: IO[bytes], sink: IO[bytes] | None = None) -> tuple[int, str]:
    """Size and SHA-256 of ``handle``'s bytes, also written to ``sink`` when given.

    Hashing a chunk runs in a helper thread (hashlib releases the GIL) while the next chunk is
    read and this one written, so reading, writing and hashing overlap on two cores.
    """
    digest, size = hashlib.sha256(), 0
    with ThreadPoolExecutor(1) as hasher:
        pending = None
        while chunk := handle.read(CHUNK):
            if pending is not None:
                pending.result()
            pending = hasher.submit(digest.update, chunk)
            if sink is not None:
                sink.write(chunk)
            size += len(chunk)
        if pending is not None:
            pending.result()
    return size, digest.hexdigest()


def sha256_file(path: Path) -> tuple[int, str]:
    """Size and SHA-256 of a file, read once."""
    with Path(path).open("rb") as handle:
        return hash_stream(handle)


def describe(folder: Path, names: Iterable[str]) -> list[FileEntry]:
    """The entries of files already written in ``folder``."""
    return [FileEntry(name, *sha256_file(folder / name)) for name in sorted(names)]


def check_name(name: Any, where: str = "manifest") -> str:
    """A file entry's name: a plain name inside its folder (see the module docstring)."""
    if not isinstance(name, str) or not FILE_NAME.match(name) or ".." in name:
        raise ManifestError(
            f"{where}: nama berkas {name!r} tidak sah (harus nama berkas biasa di dalam set: "
            "tanpa '/', '..', path absolut atau nama tersembunyi)"
        )
    return name


def parse_entry(raw: Any, where: str) -> FileEntry:
    """One file entry of an untrusted manifest, checked field by field."""
    keys = set(raw) if isinstance(raw, dict) else set()
    if not {"name", "size", "sha256"} <= keys or keys - {"name", "size", "sha256", *_OPTIONAL}:
        raise ManifestError(f"{where}: entri berkas harus berisi name, size dan sha256")
    name = check_name(raw["name"], where)
    for key in ("size", "plain_size", "rows"):
        value = raw.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ManifestError(f"{where}: {key} berkas {name} tidak sah: {value!r}")
    for key in ("sha256", "plain_sha256"):
        value = raw.get(key, "0" * 64)
        if not isinstance(value, str) or not _SHA256.match(value):
            raise ManifestError(f"{where}: SHA-256 berkas {name} tidak sah")
    if ("plain_sha256" in keys) != ("plain_size" in keys):
        raise ManifestError(f"{where}: berkas {name}: plain_size dan plain_sha256 berpasangan")
    if "plain_sha256" in keys and not name.endswith(".age"):
        raise ManifestError(f"{where}: berkas terenkripsi {name} harus bernama *.age")
    return FileEntry(**{k: raw[k] for k in keys})


def parse_entries(raw: Any, where: str) -> list[FileEntry]:
    if not isinstance(raw, list):
        raise ManifestError(f"{where}: daftar berkas manifest tidak sah")
    entries = [parse_entry(item, where) for item in raw]
    names = [e.name for e in entries]
    if MANIFEST in names or len(set(names)) != len(names):
        raise ManifestError(f"{where}: daftar berkas {MANIFEST} berisi nama ganda")
    return entries


def manifest_text(body: dict[str, Any]) -> str:
    """The manifest as written: ``body`` (with ``format`` and ``kind``) and its checksum."""
    return json.dumps({**body, "manifest_sha256": checksum(body)}, indent=2, ensure_ascii=False)


def read(
    text: str, where: str, *, kind: str, legacy: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The body of a manifest's text, checked: JSON, its format (``piak-sealed/1`` of ``kind``,
    or one of ``legacy``: format -> its checksum function) and its own checksum."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ManifestError(f"{where}: {MANIFEST} tidak terbaca: {exc}") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: {MANIFEST} bukan format {FORMAT}")
    claimed = data.pop("manifest_sha256", None)
    found = data.get("format")
    if found == FORMAT and data.get("kind") == kind:
        digest = checksum
    elif found in (legacy or {}):
        digest = legacy[found]
    else:
        raise ManifestError(f"{where}: {MANIFEST} bukan format {FORMAT} ({kind})")
    if claimed != digest(data):
        raise ManifestError(f"{where}: checksum {MANIFEST} tidak cocok (berkas diubah)")
    return data


def read_file(folder: Path, *, kind: str, legacy: dict[str, Any] | None = None) -> dict[str, Any]:
    """The checked manifest body of ``folder`` (never through a symlink)."""
    path = Path(folder) / MANIFEST
    if path.is_symlink():
        raise ManifestError(f"{folder.name}: {MANIFEST} adalah symlink: bukan folder tersegel")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"{folder.name}: tidak ada {MANIFEST}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{folder.name}: {MANIFEST} tidak terbaca: {exc}") from None
    return read(text, folder.name, kind=kind, legacy=legacy)


def file_problems(folder: Path, entries: Sequence[FileEntry]) -> list[str]:
    """What differs between ``folder`` and its manifest's ``entries``: extra names, symlinks,
    missing files, sizes and SHA-256 (empty list: intact)."""
    if Path(folder).is_symlink():
        return [f"{folder.name} adalah symlink, bukan folder"]
    problems = []
    listed = {e.name for e in entries}
    present = {p.name for p in Path(folder).iterdir()} - {MANIFEST}
    problems += [f"berkas tambahan {name}" for name in sorted(present - listed)]
    for entry in entries:
        path = folder / entry.name
        if path.is_symlink():
            problems.append(f"berkas {entry.name} adalah symlink (ditolak)")
        elif not path.is_file():
            problems.append(f"berkas {entry.name} hilang")
        elif path.stat().st_size != entry.size:
            problems.append(
                f"berkas {entry.name}: ukuran {path.stat().st_size} bukan {entry.size} byte"
            )
        elif sha256_file(path)[1] != entry.sha256:
            problems.append(f"berkas {entry.name}: SHA-256 berbeda")
    return problems


def start(parent: Path, name: str) -> Path:
    """A fresh ``.<name>.partial`` folder in ``parent`` (a leftover from a crash is removed)."""
    work = Path(parent) / f".{name}.partial"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    return work


def seal(work: Path, final: Path, text: str) -> Path:
    """Write the manifest ``text`` into ``work``, then rename ``work`` to ``final`` (atomic);
    an existing ``final`` is never replaced."""
    from piak.core.files import write_text_atomic

    write_text_atomic(work / MANIFEST, text)
    if final.exists():
        raise PiakError(f"{final.name} sudah ada di {final.parent}")
    os.replace(work, final)
    fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return final


def seal_case(folder: Path, sop_code: str, **about: Any) -> Path:
    """Seal a case folder where it is: ``manifest.json`` (kind ``case/<sop_code>``, ``about``
    kept in it) over every file the folder holds now; a rerun seals it again, the same way."""
    from piak.core.files import write_text_atomic

    folder = Path(folder)
    names = []
    for path in sorted(folder.iterdir()):
        if path.name == MANIFEST or path.name.startswith("."):
            continue
        if path.is_symlink() or not path.is_file():
            raise PiakError(f"{folder.name}: {path.name} bukan berkas biasa: folder kasus ditolak")
        names.append(check_name(path.name, folder.name))
    body = {"format": FORMAT, "kind": f"case/{sop_code}", **about}
    body["files"] = [e.as_dict() for e in describe(folder, names)]
    return write_text_atomic(folder / MANIFEST, manifest_text(body))


def case_problems(folder: Path, sop_code: str) -> list[str]:
    """What differs between a sealed case folder and its manifest (empty list: intact)."""
    body = read_file(Path(folder), kind=f"case/{sop_code}")
    return file_problems(Path(folder), parse_entries(body.get("files"), Path(folder).name))
