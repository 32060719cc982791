"""Notifiers of the SOP DAGs: failures and reminders for the office, messages for a person.

Every notifier is an Airflow :class:`BaseNotifier` (so it also serves as a DAG's failure
callback) of the project's :class:`PiakNotifier` kind, which adds one method: ``send(message)``
delivers a :class:`Message` - a recipient (the contact a person gave: a phone number or an
e-mail address), a subject and a body - and returns what the archive records about the delivery.
Offices plug in their own channel (mail, chat) by naming another subclass in configuration
(``notifier: module:Class``).

The embedded default's :class:`LogNotifier` writes everything to the task log: it delivers
nothing outside the machine, and says so in its receipt. A resident's NIK is never written to a
log: 16-digit numbers are masked (:func:`redact`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)

_NIK = re.compile(r"(?<!\d)\d{16}(?!\d)")


@dataclass(frozen=True)
class Message:
    """One message for one person."""

    recipient: str
    subject: str
    body: str


def redact(text: str) -> str:
    """``text`` with every 16-digit number (a NIK, a Nomor KK) masked."""
    return _NIK.sub("[NIK disamarkan]", str(text))


class PiakNotifier(BaseNotifier):
    """A project notifier: ``notify(context)`` for failures and reminders (``piak_message`` in
    the context), ``send(message)`` for a message to a person."""

    def send(self, message: Message) -> str:
        """Deliver ``message``; return the receipt the archive records (where it went, any id
        the channel gave). Raise when it could not be delivered."""
        raise NotImplementedError(f"{type(self).__name__} cannot send messages")


class LogNotifier(PiakNotifier):
    """Writes ``PERINGATAN: <SOP> gagal ...`` with the task, run and error to the task log; a
    sign-off's reminder or escalation (``piak_message`` in the context) likewise; a message to a
    person as ``PESAN untuk <recipient>`` (nothing leaves the machine)."""

    template_fields = ("title",)

    def __init__(self, title: str = "PIAK Ops") -> None:
        super().__init__()
        self.title = title

    def notify(self, context: Any) -> None:
        ti = context.get("ti")
        if context.get("piak_message"):  # a reminder or escalation of a waiting sign-off
            log.warning("PERINGATAN: %s: %s", self.title, redact(context["piak_message"]))
            return
        log.error(
            "PERINGATAN: %s gagal pada langkah %s (run %s): %s",
            self.title,
            getattr(ti, "task_id", "?"),
            getattr(ti, "run_id", "?"),
            redact(str(context.get("exception"))),
        )

    def send(self, message: Message) -> str:
        log.warning(
            "PESAN untuk %s: %s\n%s",
            message.recipient,
            redact(message.subject),
            redact(message.body),
        )
        return "dicatat di log tugas (LogNotifier: tidak dikirim keluar dari server)"


def build(path: str, **kwargs: Any) -> BaseNotifier:
    """The notifier named ``"module:Class"`` in configuration, built with ``kwargs``."""
    from piak.dagkit import resolve

    notifier = resolve(path)(**kwargs)
    if not isinstance(notifier, BaseNotifier):
        raise TypeError(f"{path} is not an Airflow BaseNotifier")
    return notifier


def messenger(path: str, **kwargs: Any) -> PiakNotifier:
    """The notifier named ``"module:Class"`` that can ``send`` a message to a person."""
    notifier = build(path, **kwargs)
    if not isinstance(notifier, PiakNotifier):
        raise TypeError(f"{path} is not a piak.notify.PiakNotifier (it cannot send messages)")
    return notifier
