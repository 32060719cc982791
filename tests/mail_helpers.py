"""A real SMTP server on loopback (aiosmtpd) that keeps every message it receives, and the
``piak_smtp`` Connection pointing at it."""

from __future__ import annotations

import email
import json
import socket
import time
from collections.abc import Generator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

OFFICE = ["kasi@disdukcapil.example", "kabid@disdukcapil.example"]


class Inbox:
    """aiosmtpd handler: every message received, parsed, with its envelope's recipients."""

    def __init__(self) -> None:
        self.received: list[tuple[EmailMessage, list[str]]] = []
        self.connection = ""

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.received.append((message, list(envelope.rcpt_tos)))  # one append: thread-safe
        return "250 OK"

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
            for message, rcpt in list(self.received):
                if message["Subject"] == subject and rcpt == to and body in self.text(message):
                    return message
            time.sleep(0.5)
        seen = [(message["Subject"], rcpt) for message, rcpt in self.received]
        raise AssertionError(f"no mail {subject!r} to {to} within {timeout}s; received {seen}")


@contextmanager
def smtp_server() -> Generator[Inbox]:
    """A started server; ``inbox.connection`` is the ``AIRFLOW_CONN_PIAK_SMTP`` value."""
    inbox = Inbox()
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
