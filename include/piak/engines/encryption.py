"""Encrypted backup files: age (X25519 recipients, ChaCha20-Poly1305 in 64 KiB chunks) via pyrage.

Why age: a public-key design fits the office. The server encrypts every set to the office's
public key ("recipient") and cannot read old sets; the private key ("identity") is kept offline
by the Kabid (printed recovery sheet); a second recipient may be given to the weekly restore
drill, whose identity then lives in an Airflow Connection so the drill proves every week that the
keys work. age is a maintained, specified format (age-encryption.org/v1) - no home-made crypto -
with a command-line tool on every platform (the Oracle database server encrypts with it, before
any copy leaves it) and authenticated, streamed encryption: memory stays flat whatever the size.

A manifest of an encrypted set lists each encrypted file (``name.age``) with the size and
SHA-256 of its encrypted bytes - so ``verify-backup`` checks a flash disk without any key - and of
its plaintext, which a full verification and every restore check after decrypting.

Keys live in Airflow Connections (or a secrets backend), never in the repository, logs, XCom or
agenda: ``encryption.recipients_conn_id`` (extra ``{"recipients": [...], "retired": [...]}``;
public keys, ``retired`` = earlier office keys whose sets must stay recognised) and
``encryption.identity_conn_id`` (password = one or more ``AGE-SECRET-KEY-1...`` lines).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from piak.core.errors import PiakError
from piak.core.files import atomic_file

SUFFIX = ".age"
SCHEME = "age-x25519"
CHUNK = 4 * 1024 * 1024
_RECIPIENT = re.compile(r"^age1[02-9ac-hj-np-z]{58}$")
_IDENTITY = re.compile(r"^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$")


class KeyProblem(PiakError):
    """A missing, malformed or non-matching key."""


class DamagedCiphertext(PiakError):
    """An encrypted file that was changed or cut short: nothing of it is used."""


@dataclass(frozen=True)
class Sealed:
    """Sizes and SHA-256 of one file before and after encryption."""

    plain_size: int
    plain_sha256: str
    size: int
    sha256: str


def recipient(text: str) -> Any:
    """An age public key (``age1...``), checked."""
    from pyrage import x25519

    value = str(text).strip()
    if not _RECIPIENT.match(value):
        raise KeyProblem(f"kunci publik tidak sah: {value[:12]}... (harus age1...)")
    return x25519.Recipient.from_str(value)


def identity(text: str) -> Any:
    """An age private key (``AGE-SECRET-KEY-1...``), checked (never echoed)."""
    from pyrage import x25519

    value = str(text).strip()
    if not _IDENTITY.match(value):
        raise KeyProblem("kunci privat tidak sah (harus satu baris AGE-SECRET-KEY-1...)")
    return x25519.Identity.from_str(value)


def identities_from_text(text: str) -> list[Any]:
    """Every ``AGE-SECRET-KEY-1...`` line of a key file or Connection password."""
    lines = [line.strip() for line in str(text or "").splitlines()]
    keys = [identity(line) for line in lines if line and not line.startswith("#")]
    if not keys:
        raise KeyProblem("tidak ada kunci privat (AGE-SECRET-KEY-1...)")
    return keys


def public_of(identity_text: str) -> str:
    return str(identity(identity_text).to_public())


def generate() -> tuple[str, str]:
    """A new key pair: ``(private AGE-SECRET-KEY-1..., public age1...)``."""
    from pyrage import x25519

    key = x25519.Identity.generate()
    return str(key), str(key.to_public())


class _Hashing:
    """A file wrapper that hashes and counts every byte read or written through it."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle, self.digest, self.size = handle, hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(CHUNK if size is None or size < 0 else size)
        self.digest.update(data)
        self.size += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        self.handle.write(data)  # some writers (SFTP files) return None, not the count
        return len(data)

    def flush(self) -> None:
        self.handle.flush()


def encrypt_file(source: Path, target: Path, recipients: Sequence[Any]) -> Sealed:
    """Encrypt ``source`` to ``target`` for ``recipients`` in one streamed pass, hashing the
    plaintext and the ciphertext on the way."""
    import pyrage

    if not recipients:
        raise KeyProblem("tidak ada kunci publik penerima: set tidak bisa dienkripsi")
    with Path(source).open("rb") as src, Path(target).open("wb") as dst:
        reader, writer = _Hashing(src), _Hashing(dst)
        pyrage.encrypt_io(reader, writer, list(recipients))
        dst.flush()
        os.fsync(dst.fileno())
    return Sealed(reader.size, reader.digest.hexdigest(), writer.size, writer.digest.hexdigest())


def decrypt_to(
    source: Path,
    sink: IO[bytes],
    identities: Sequence[Any],
    *,
    plain_sha256: str | None = None,
    what: str = "",
) -> int:
    """Decrypt ``source`` into ``sink`` (streamed) and check the plaintext's SHA-256; returns its
    size. The caller discards whatever reached ``sink`` when this raises."""
    import pyrage

    name = what or Path(source).name
    if not identities:
        raise KeyProblem(
            f"{name}: terenkripsi, tetapi tidak ada kunci privat untuk membukanya (kunci uji "
            "pulih di Connection piak_backup_identity, atau kunci kantor dari lembar pemulihan "
            "dengan --identity)"
        )
    writer = _Hashing(sink)
    try:
        with Path(source).open("rb") as src:
            pyrage.decrypt_io(src, writer, list(identities))
    except pyrage.DecryptError as exc:
        if "No matching keys" in str(exc):
            raise KeyProblem(
                f"{name}: kunci privat yang ada tidak cocok dengan kunci set ini (set dienkripsi "
                "untuk kunci lain; lihat 'penerima' di manifest)"
            ) from None
        raise DamagedCiphertext(f"{name}: berkas terenkripsi rusak atau terpotong") from None
    except OSError:
        raise DamagedCiphertext(f"{name}: berkas terenkripsi rusak atau terpotong") from None
    if plain_sha256 and writer.digest.hexdigest() != plain_sha256:
        raise DamagedCiphertext(f"{name}: isi setelah dibuka tidak cocok dengan manifest")
    return writer.size


def decrypt_file(
    source: Path, target: Path, identities: Sequence[Any], *, plain_sha256: str | None = None
) -> Path:
    """Decrypt ``source`` into ``target`` through a temporary file; ``target`` appears only
    when the whole file decrypted and matched the manifest."""
    target = Path(target)
    with atomic_file(target, suffix=".open") as sink:
        decrypt_to(source, sink, identities, plain_sha256=plain_sha256)
    return target


def private_workdir(near: Path) -> Path:
    """An owner-only temporary folder next to ``near`` (same file system) for plaintext that
    must exist for a moment - a database being encrypted or restored - and is then removed."""
    near.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=near, prefix=".piak-plain-"))


def recipients_of_connection(conn_id: str) -> tuple[list[str], list[str]]:
    """``(current, retired)`` public keys of the Airflow Connection ``conn_id``."""
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:  # the SDK raises its own not-found type
        raise KeyProblem(
            f"Connection {conn_id} (kunci publik kantor) belum dipasang: {type(exc).__name__}"
        ) from None
    extra = conn.extra_dejson or {}
    current = [str(r) for r in extra.get("recipients") or []]
    retired = [str(r) for r in extra.get("retired") or []]
    for text in (*current, *retired):
        recipient(text)
    if not current:
        raise KeyProblem(f"Connection {conn_id}: extra 'recipients' kosong (kunci publik kantor)")
    return current, retired


def identities_of_connection(conn_id: str | None) -> list[Any]:
    """The private keys of ``conn_id`` (empty when it is not set: e.g. a server without the
    drill key)."""
    if not conn_id:
        return []
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception:
        return []
    return identities_from_text(conn.password or "")


def unknown_recipients(used: Iterable[str], known: Iterable[str]) -> bool:
    """True when none of the keys a set was encrypted to is known to the configuration."""
    used = set(used)
    return bool(used) and not used & set(known)


def recipients_for(config: Any) -> list[str]:
    """The public keys a set of ``config`` (a BackupConfig) is encrypted to; none when off."""
    if not config.encryption.enabled:
        return []
    return recipients_of_connection(config.encryption.recipients_conn_id)[0]


def known_recipients(config: Any) -> list[str]:
    """Every office key the configuration knows, current and retired (empty when unreadable)."""
    try:
        current, retired = recipients_of_connection(config.encryption.recipients_conn_id)
    except PiakError:
        return []
    return [*current, *retired]


def identities_for(config: Any) -> list[Any]:
    """The private keys this deployment may open its sets with (the drill's), if any."""
    return identities_of_connection(config.encryption.identity_conn_id)
