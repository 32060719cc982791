"""An offsite target on an SFTP server, reached through an Airflow SSH/SFTP Connection."""

from __future__ import annotations

import contextlib
import posixpath
import stat
from typing import IO, Any


class SftpTarget:
    """:class:`piak.engines.offsite.Target` over SFTP; ``root`` is an absolute path on the
    server."""

    def __init__(self, *, conn_id: str | None, root: str, name: str, client: Any = None) -> None:
        self.name = name
        self.root = root.rstrip("/") or "/"
        self._conn_id = conn_id
        self._client = client

    @property
    def sftp(self) -> Any:
        if self._client is None:
            from airflow.providers.sftp.hooks.sftp import SFTPHook

            self._client = SFTPHook(ssh_conn_id=self._conn_id).get_conn()
        return self._client

    def _p(self, path: str) -> str:
        return posixpath.join(self.root, path)

    def exists(self, path: str) -> bool:
        try:
            self.sftp.stat(self._p(path))
        except FileNotFoundError:
            return False
        return True

    def size(self, path: str) -> int | None:
        try:
            info = self.sftp.stat(self._p(path))
        except FileNotFoundError:
            return None
        return None if stat.S_ISDIR(info.st_mode) else info.st_size

    def open_write(self, path: str) -> IO[bytes]:
        handle = self.sftp.open(self._p(path), "wb")
        handle.set_pipelined(True)
        return handle

    def open_read(self, path: str) -> IO[bytes]:
        handle = self.sftp.open(self._p(path), "rb")
        handle.prefetch()
        return handle

    def rename(self, src: str, dst: str) -> None:
        self.sftp.posix_rename(self._p(src), self._p(dst))

    def remove(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.sftp.remove(self._p(path))

    def makedirs(self, path: str) -> None:
        current = ""
        for part in self._p(path).strip("/").split("/"):
            current += "/" + part
            try:
                self.sftp.stat(current)
            except FileNotFoundError:
                self.sftp.mkdir(current)

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(self.sftp.listdir(self._p(path)))
        except FileNotFoundError:
            return []

    def rmtree(self, path: str) -> None:
        for name in self.listdir(path):
            child = posixpath.join(path, name)
            if stat.S_ISDIR(self.sftp.stat(self._p(child)).st_mode):
                self.rmtree(child)
            else:
                self.remove(child)
        with contextlib.suppress(FileNotFoundError):
            self.sftp.rmdir(self._p(path))

    def settle(self, path: str) -> None:
        """Nothing to do: the server's disk is not ours to flush; reading back goes over SFTP."""

    def free_bytes(self) -> int | None:
        try:
            info = self.sftp.statvfs(self.root if self.exists("") else "/")
        except (OSError, AttributeError):
            return None
        return info.f_bavail * info.f_frsize
