"""Writing files so that nothing is ever half-written."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_secret_text(path: Path, text: str) -> Path:
    """Write a secret (passwords, keys) owner-only from the first byte, atomically.

    The temporary file is created by ``mkstemp``, readable and writable by its owner only, before
    anything is written to it, whatever the umask or a stale file left by an earlier attempt;
    the rename keeps that mode. An existing file of another mode is replaced, not reused.
    """
    written = write_text_atomic(path, text)
    mode = written.stat().st_mode & 0o777
    if mode != 0o600:  # never: mkstemp creates 0600; refuse to leave a secret readable
        written.unlink()
        raise PermissionError(f"{written}: dibuat dengan mode {mode:o}, bukan 600")
    return written
