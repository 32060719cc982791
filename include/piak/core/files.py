"""Writing files so that nothing is ever half-written."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import IO


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    return write_bytes_atomic(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_file(path: Path, suffix: str = ".tmp") -> Generator[IO[bytes]]:
    """A binary handle whose bytes appear at ``path`` only when the block ends without an
    error: a temporary file in the same directory (owner-only from its first byte, never a stale
    one reused), flushed to disk, then renamed over ``path``; on an error it is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename."""
    with atomic_file(path) as handle:
        handle.write(data)
    return path


def write_secret(path: Path, data: str | bytes) -> Path:
    """Write a secret (a key, a password, a recovery sheet) owner-only from its first byte,
    atomically; an existing file of another mode is replaced, not reused (the rename keeps the
    temporary file's 0600)."""
    return write_bytes_atomic(path, data.encode("utf-8") if isinstance(data, str) else data)
