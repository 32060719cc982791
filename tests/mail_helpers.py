"""A real SMTP server on loopback (aiosmtpd) that keeps every message it receives, and the
``piak_smtp`` Connection pointing at it. Messages are kept as files in a spool folder, so
another pytest process on the same machine reads the same inbox (``Inbox(spool)``)."""

from __future__ import annotations

import atexit
import email
import json
import shutil
import socket
import tempfile
import time
from collections.abc import Generator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from itertools import count
from pathlib import Path

from aiosmtpd.controller import Controller

OFFICE = ["kasi@disdukcapil.example", "kabid@disdukcapil.example"]


class Inbox:
    """aiosmtpd handler: every message received, with its envelope's recipients, as one JSON
    file per message in ``spool`` (written aside and renamed, so a reader never sees half)."""

    def __init__(self, spool: Path) -> None:
        self.spool = spool
        self.connection = ""
        self._numbers = count()

    async def handle_DATA(self, server, session, envelope):
        number = next(self._numbers)
        # latin-1: every byte of the message kept as it came
        record = {"rcpt": list(envelope.rcpt_tos), "content": envelope.content.decode("latin-1")}
        partial = self.spool / f".{number:06d}.partial"
        partial.write_text(json.dumps(record), encoding="utf-8")
        partial.replace(self.spool / f"{number:06d}.json")
        return "250 OK"

    @property
    def received(self) -> list[tuple[EmailMessage, list[str]]]:
        """Every message so far, in the order received, parsed, with its recipients."""
        messages = []
        for path in sorted(self.spool.glob("*.json")):
            record = json.loads(path.read_text(encoding="utf-8"))
            raw = record["content"].encode("latin-1")
            message = email.message_from_bytes(raw, policy=policy.default)
            messages.append((message, record["rcpt"]))
        return messages

    @property
    def messages(self) -> list[EmailMessage]:
        return [message for message, _ in self.received]

    @property
    def recipients(self) -> list[list[str]]:
        return [rcpt for _, rcpt in self.received]

    def text(self, message: EmailMessage) -> str:
        return message.get_body(("html", "plain")).get_content()

    def wait_for(
        self, subject: str, to: list[str], body: str = "", timeout: float = 60
    ) -> EmailMessage:
        """The first message with ``subject`` sent to exactly ``to`` whose text has ``body``
        (polled)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message, rcpt in self.received:
                if message["Subject"] == subject and rcpt == to and body in self.text(message):
                    return message
            time.sleep(0.5)
        seen = [(message["Subject"], rcpt) for message, rcpt in self.received]
        raise AssertionError(f"no mail {subject!r} to {to} within {timeout}s; received {seen}")


@contextmanager
def smtp_server(spool: Path | None = None) -> Generator[Inbox]:
    """A started server keeping its mail in ``spool`` (a temporary folder by default);
    ``inbox.connection`` is the ``AIRFLOW_CONN_PIAK_SMTP`` value."""
    if spool is None:  # read after the server stopped too: removed when the tests end
        spool = Path(tempfile.mkdtemp(prefix="piak-inbox-"))
        atexit.register(shutil.rmtree, spool, ignore_errors=True)
    spool.mkdir(parents=True, exist_ok=True)
    yield from _serving(Inbox(spool))


def _serving(inbox: Inbox) -> Generator[Inbox]:
    with socket.socket() as probe:  # aiosmtpd needs the port before it starts
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    inbox.connection = json.dumps(
        {
            "conn_type": "smtp",
            "host": "127.0.0.1",
            "port": port,
            "extra": {
                "from_email": "piak-ops@disdukcapil.example",
                "to": OFFICE,
                "disable_tls": True,
                "disable_ssl": True,
            },
        }
    )
    try:
        yield inbox
    finally:
        server.stop()
