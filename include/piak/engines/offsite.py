"""Offsite copies of backup sets: a mounted path (external disk, flash disk, NAS) or SFTP.

A copy streams every file once from the source, hashing while it writes to a temporary name;
then the destination is flushed to the device, dropped from the page cache and read back, and
its hash compared with the manifest. Only a verified file
gets its final name. A rerun skips files already verified and redoes the rest; a mismatch
deletes the bad copy and fails. The manifest is copied last, so a target folder is a backup only
when every file in it was verified.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

from piak.core import sealed
from piak.core.errors import PiakError
from piak.engines import backupset

if TYPE_CHECKING:
    from piak.engines.backup_config import TargetConfig

CHUNK = backupset.CHUNK
PARTIAL = ".partial"


def inside(path: str) -> str:
    """``path`` relative to a target's root and staying inside it: never absolute, never ``..``
    (names come from manifests, which are untrusted)."""
    parts = posixpath.normpath(path or ".").split("/")
    if path.startswith("/") or "\\" in path or ".." in parts:
        raise PiakError(f"path {path!r} keluar dari folder target: ditolak")
    return path


class Target(Protocol):
    """Where copies go. Paths are relative to the target's root, '/'-separated."""

    name: str

    def exists(self, path: str) -> bool: ...
    def size(self, path: str) -> int | None: ...
    def open_write(self, path: str) -> IO[bytes]: ...
    def open_read(self, path: str) -> IO[bytes]: ...
    def rename(self, src: str, dst: str) -> None: ...
    def remove(self, path: str) -> None: ...
    def makedirs(self, path: str) -> None: ...
    def listdir(self, path: str) -> list[str]: ...
    def rmtree(self, path: str) -> None: ...
    def free_bytes(self) -> int | None: ...
    def settle(self, path: str) -> None: ...


@dataclass
class LocalTarget:
    """A mounted folder: external disk, flash disk, NAS share."""

    root: Path
    name: str = ""

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.name = self.name or str(self.root)

    def _p(self, path: str) -> Path:
        candidate = self.root / inside(path)
        if not candidate.resolve().is_relative_to(self.root.resolve()):
            raise PiakError(f"{self.name}: {path} menunjuk ke luar folder target (symlink?)")
        return candidate

    def exists(self, path: str) -> bool:
        return self._p(path).exists()

    def size(self, path: str) -> int | None:
        p = self._p(path)
        return p.stat().st_size if p.is_file() else None

    def open_write(self, path: str) -> IO[bytes]:
        return self._p(path).open("wb")

    def open_read(self, path: str) -> IO[bytes]:
        return self._p(path).open("rb")

    def rename(self, src: str, dst: str) -> None:
        self._p(src).replace(self._p(dst))

    def remove(self, path: str) -> None:
        self._p(path).unlink(missing_ok=True)

    def makedirs(self, path: str) -> None:
        self._p(path).mkdir(parents=True, exist_ok=True)

    def listdir(self, path: str) -> list[str]:
        p = self._p(path)
        return sorted(x.name for x in p.iterdir()) if p.is_dir() else []

    def rmtree(self, path: str) -> None:
        import shutil

        shutil.rmtree(self._p(path), ignore_errors=True)

    def settle(self, path: str) -> None:
        """Force the file onto the device and drop it from the page cache, so that reading it
        back checks what the disk holds, not what memory still remembers."""
        fd = os.open(self._p(path), os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)

    def free_bytes(self) -> int | None:
        import shutil

        probe = self.root
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        return shutil.disk_usage(probe).free


@dataclass
class CopyReport:
    target: str
    copied: list[str]
    skipped: list[str]
    bytes_copied: int


def _verified(target: Target, path: str, entry: backupset.FileEntry) -> bool:
    if target.size(path) != entry.size:
        return False
    with target.open_read(path) as handle:
        return sealed.hash_stream(handle) == (entry.size, entry.sha256)


def copy_set(set_dir: Path, target: Target) -> CopyReport:
    """Copy a verified-by-manifest set to ``target`` and verify it there (each file read back
    from the device against the source's manifest)."""
    manifest = backupset.load_manifest(set_dir)
    name = manifest.set_name
    target.makedirs(name)
    copied, skipped, total = [], [], 0
    for entry in manifest.files:
        final = posixpath.join(name, entry.name)
        if target.exists(final) and _verified(target, final, entry):
            skipped.append(entry.name)
            continue
        total += _copy_file(set_dir / entry.name, target, final, entry)
        copied.append(entry.name)
    manifest_path = posixpath.join(name, backupset.MANIFEST)
    source_manifest = (set_dir / backupset.MANIFEST).read_bytes()
    with _partial(target, manifest_path) as (tmp, handle):
        handle.write(source_manifest)
    _check_same(target, tmp, source_manifest, manifest_path)
    target.rename(tmp, manifest_path)
    return CopyReport(target.name, copied, skipped, total)


def _copy_file(source: Path, target: Target, final: str, entry: backupset.FileEntry) -> int:
    with source.open("rb") as src, _partial(target, final) as (tmp, dst):
        size, sha256 = sealed.hash_stream(src, dst)
    if (size, sha256) != (entry.size, entry.sha256):
        target.remove(tmp)
        raise PiakError(f"{source} berubah sejak manifest dibuat: salinan dibatalkan")
    target.settle(tmp)
    if not _verified(target, tmp, entry):
        target.remove(tmp)
        raise PiakError(
            f"{target.name}: salinan {final} tidak cocok dengan manifest saat dibaca ulang; "
            "salinan rusak dihapus"
        )
    target.rename(tmp, final)
    return size


@contextmanager
def _partial(target: Target, final: str) -> Generator[tuple[str, IO[bytes]]]:
    tmp = final + PARTIAL
    try:
        with target.open_write(tmp) as handle:
            yield tmp, handle
    except BaseException:
        target.remove(tmp)
        raise


def _check_same(target: Target, path: str, expected: bytes, final: str) -> None:
    with target.open_read(path) as handle:
        if handle.read() != expected:
            target.remove(path)
            raise PiakError(f"{target.name}: {final} tidak cocok saat dibaca ulang")


def read_manifest(target: Target, set_name: str) -> tuple[backupset.Manifest, bytes]:
    """The manifest stored with the copy of ``set_name`` on ``target``, checked like any manifest
    (it is untrusted: a flash disk comes back from people), and its bytes."""
    backupset.validate_set_name(set_name)
    path = posixpath.join(set_name, backupset.MANIFEST)
    if not target.exists(path):
        raise backupset.ManifestError(
            f"{target.name}: {set_name} tidak punya manifest (salinan belum selesai)"
        )
    with target.open_read(path) as handle:
        raw = handle.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise backupset.ManifestError(f"{target.name}: manifest {set_name} tidak terbaca") from None
    where = f"{target.name}: {set_name}"
    return backupset.parse_manifest(text, where, expected_set=set_name), raw


def verify_copy(
    target: Target,
    set_name: str,
    expected: backupset.Manifest | None = None,
    *,
    expected_digest: str | None = None,
) -> list[str]:
    """Problems of the copy of ``set_name`` on ``target`` (empty when intact).

    The copy is read back against the *source's* manifest ``expected`` (or, when the source is
    gone, a manifest whose checksum is ``expected_digest``, as recorded when the set was made):
    the copy's own manifest must be that same manifest, every file must match it, and nothing
    else may lie in the copy's folder. Only without either is the copy's own manifest the
    reference.
    """
    try:
        own, _ = read_manifest(target, set_name)
    except backupset.ManifestError as exc:
        return [str(exc)]
    reference = expected or own
    problems = []
    wanted_digest = expected.digest if expected else expected_digest
    if wanted_digest and own.digest != wanted_digest:
        problems.append(f"{target.name}: manifest {set_name} berbeda dengan manifest sumber")
    listed = {f.name for f in reference.files} | {backupset.MANIFEST}
    extra = sorted(set(target.listdir(set_name)) - listed)
    problems += [f"{target.name}: berkas tambahan {set_name}/{name}" for name in extra]
    for entry in reference.files:
        path = posixpath.join(set_name, entry.name)
        if not target.exists(path):
            problems.append(f"{target.name}: {path} hilang")
        elif not _verified(target, path, entry):
            problems.append(f"{target.name}: {path} rusak")
    return problems


def copy_set_from(target: Target, set_name: str, dest: Path) -> Path:
    """Bring the copy of ``set_name`` on ``target`` into the local folder ``dest`` (files under
    temporary names, the manifest last); the caller verifies it with :func:`backupset.verify_set`.
    """
    dest.mkdir(parents=True, exist_ok=True)
    manifest, manifest_bytes = read_manifest(target, set_name)
    for entry in manifest.files:
        name = entry.name
        partial = dest / (name + PARTIAL)
        with target.open_read(posixpath.join(set_name, name)) as src, partial.open("wb") as out:
            while chunk := src.read(CHUNK):
                out.write(chunk)
        partial.replace(dest / name)
    (dest / (backupset.MANIFEST + PARTIAL)).write_bytes(manifest_bytes)
    (dest / (backupset.MANIFEST + PARTIAL)).replace(dest / backupset.MANIFEST)
    return dest


def open_target(target: TargetConfig) -> Target:
    """The configured offsite target: a mounted folder (``path``) or an SFTP server (``sftp``)."""
    if target.type == "path":
        return LocalTarget(Path(target.path), name=target.name)
    from piak.engines.sftp_target import SftpTarget

    return SftpTarget(conn_id=target.conn_id, root=target.path, name=target.name)
