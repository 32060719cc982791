"""Per-release keyed pseudonyms in place of identifiers (NIK, Nomor KK, parents' NIK).

A NIK is region (6) + birth date with day+40 for women (6) + serial (4); a Nomor KK region +
issue date + serial. Masking digits of it hides nothing while region, sex and birth date are
released. So an identifier that the PKS does not open is replaced by a pseudonym that carries no
structure at all: ``P`` (NIK, NIK Ibu, NIK Ayah) or ``K`` (Nomor KK) and 16 hex digits.

- The office secret is the password of an Airflow Connection (``pseudonym_conn_id`` in
  ``config/provision.yaml``); it is never written into a release, a log or XCom.
- Each release gets its own keys: ``HMAC-SHA256(secret, "piak-pseudonym/1" | release | prefix)``.
  The same NIK has the same pseudonym everywhere inside one release (a child's NIK Ibu equals
  the mother's own NIK pseudonym), and different pseudonyms in different releases, so two
  recipients cannot link their data sets. The office, holding the secret, can recompute them.
- A 16-character identifier is enciphered with AES-256 under the release key (one pseudorandom
  permutation, computed for a whole Arrow column in one call) and its first 8 bytes kept; any
  other value gets HMAC-SHA256 under a second key. Without the key nothing can be computed back
  or compared against guesses.
"""

from __future__ import annotations

import hmac
import json
import os
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from piak.core.errors import PiakError

if TYPE_CHECKING:
    import pyarrow as pa

METHOD = (
    "piak-pseudonym/1: AES-256 (16-karakter) / HMAC-SHA256, kunci per rilis dari rahasia kantor"
)
MIN_SECRET = 16
_HEX = b"0123456789ABCDEF"


def office_secret(conn_id: str) -> bytes:
    """The password of Airflow Connection ``conn_id``.

    Read from ``AIRFLOW_CONN_<ID>`` (JSON or URI, Airflow's environment format) when set, so the
    command line does not need to import Airflow; otherwise through Airflow's secrets backends
    (``BaseHook.get_connection``). Too short or missing: refused, naming the Connection only.
    """
    env = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if env:
        password = _password_of(env)
    else:
        try:
            from airflow.sdk import BaseHook

            password = BaseHook.get_connection(conn_id).password
        except Exception as exc:  # AirflowNotFoundException and friends: the message is enough
            raise PiakError(
                f"Connection {conn_id} (rahasia pseudonim) tidak tersedia: {type(exc).__name__}"
            ) from None
    if not password or len(password) < MIN_SECRET:
        raise PiakError(
            f"Connection {conn_id}: password (rahasia pseudonim) kosong atau kurang dari "
            f"{MIN_SECRET} karakter"
        )
    return password.encode("utf-8")


def _password_of(value: str) -> str | None:
    text = value.strip()
    if text.startswith("{"):
        try:
            return json.loads(text).get("password")
        except (ValueError, AttributeError):
            raise PiakError("Connection rahasia pseudonim: JSON tidak sah") from None
    password = urlsplit(text).password
    return unquote(password) if password else None


class Pseudonymiser:
    """The pseudonyms of one release, keyed from the office secret and the release id."""

    def __init__(self, secret: bytes, release: str) -> None:
        if not release:
            raise ValueError("a release id is needed")
        self.release = release
        self._secret = secret
        self._keys: dict[str, tuple[Any, bytes]] = {}

    def _key(self, prefix: str) -> tuple[Any, bytes]:
        if prefix not in self._keys:
            from cryptography.hazmat.primitives.ciphers import algorithms

            base = b"piak-pseudonym/1\x00" + self.release.encode() + b"\x00" + prefix.encode()
            aes = hmac.digest(self._secret, base + b"\x00aes", "sha256")
            mac = hmac.digest(self._secret, base + b"\x00hmac", "sha256")
            self._keys[prefix] = (algorithms.AES(aes), mac)
        return self._keys[prefix]

    def value(self, text: str | None, prefix: str) -> str | None:
        """The pseudonym of one value (same result as :meth:`array`)."""
        if text is None:
            return None
        data = text.encode("utf-8")
        aes, mac = self._key(prefix)
        if len(data) == 16:
            digest = _encrypt(aes, data)[:8]
        else:
            digest = hmac.digest(mac, data, "sha256")[:8]
        return prefix + digest.hex().upper()

    def array(self, array: pa.Array, prefix: str) -> pa.Array:
        """Pseudonyms of a whole Arrow column (NULL stays NULL)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if not pa.types.is_string(array.type):
            array = pc.cast(array, pa.string())
        n = len(array)
        if n == 0:
            return pa.array([], pa.string())
        filled = pc.fill_null(array, "0" * 16) if array.null_count else array
        lengths = pc.binary_length(filled)
        if pc.min(lengths).as_py() != 16 or pc.max(lengths).as_py() != 16:
            return pa.array([self.value(v, prefix) for v in array.to_pylist()], pa.string())
        offsets = np.frombuffer(filled.buffers()[1], dtype=np.int32)
        start = int(offsets[filled.offset])
        raw = bytes(memoryview(filled.buffers()[2])[start : start + 16 * n])
        aes, _ = self._key(prefix)
        cipher = np.frombuffer(_encrypt(aes, raw), dtype=np.uint8).reshape(n, 16)[:, :8]
        hexdigits = np.frombuffer(_HEX, dtype=np.uint8)
        out = np.empty((n, 17), dtype=np.uint8)
        out[:, 0] = ord(prefix)
        out[:, 1::2] = hexdigits[cipher >> 4]
        out[:, 2::2] = hexdigits[cipher & 15]
        ends = np.arange(0, 17 * (n + 1), 17, dtype=np.int32)
        result = pa.Array.from_buffers(
            pa.string(), n, [None, pa.py_buffer(ends), pa.py_buffer(out)]
        )
        if array.null_count:
            result = pc.if_else(pc.is_valid(array), result, pa.scalar(None, pa.string()))
        return result

    def describe(self) -> dict[str, str]:
        """What the manifest says about the pseudonyms (never the key)."""
        return {"method": METHOD, "release": self.release}


def _encrypt(aes: Any, data: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    # ECB on purpose: each 16-byte identifier is one block, enciphered alone (a keyed
    # pseudorandom permutation, deterministic as a pseudonym must be).
    encryptor = Cipher(aes, modes.ECB()).encryptor()  # ruff: ignore[suspicious-insecure-cipher-mode-usage]
    return encryptor.update(data) + encryptor.finalize()
