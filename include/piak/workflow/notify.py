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

import functools
import logging
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from airflow.sdk import BaseNotifier

from piak.core.access import EMAIL_PATTERN

log = logging.getLogger(__name__)

_NIK = re.compile(r"(?<!\d)\d{16}(?!\d)")
#: One e-mail address (a contact typed with several, or with a name, is not mailed to).
_ONE_ADDRESS = re.compile(EMAIL_PATTERN)


@dataclass(frozen=True)
class Message:
    """One message for one person."""

    recipient: str
    subject: str
    body: str
    #: Paths of files sent along (by e-mail; the other channels name them in the body).
    files: tuple[str, ...] = ()
    #: Also (or, without a recipient's address, only) to the office's own addresses.
    to_office: bool = False


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


#: The Connections of the office's channels; a channel whose Connection is missing is off.
SMTP_CONN = "piak_smtp"
CHAT_CONN = "piak_telegram"


def ui_link(context: Any) -> str | None:
    """Where the person acts: a waiting sign-off's Required Action, else the failed task."""
    import os

    from airflow.configuration import conf

    ti = context.get("ti")
    base = os.environ.get("PIAK_AIRFLOW_URL") or conf.get("api", "base_url", fallback=None)
    if ti is None or not base:
        return None
    run = urllib.parse.quote(str(ti.run_id), safe="")
    path = f"{base.rstrip('/')}/dags/{ti.dag_id}/runs/{run}/tasks/{ti.task_id}"
    return path + "/required_actions" if context.get("piak_message") else path


def alert(title: str, context: Any) -> Message:
    """The office's message about a failure or a waiting sign-off (Bahasa Indonesia), with the
    link to act on; NIKs masked."""
    ti = context.get("ti")
    where = f"langkah {getattr(ti, 'task_id', '?')} (run {getattr(ti, 'run_id', '?')})"
    if context.get("piak_message"):
        subject = f"[PIAK Ops] {title}: menunggu tanda tangan"
        body = str(context["piak_message"])
        act = "Buka permintaan dan jawab di sini"
    else:
        subject = f"[PIAK Ops] {title} gagal"
        body = f"{title} gagal pada {where}: {context.get('exception')}"
        act = "Lihat langkah dan log-nya di sini"
    link = ui_link(context)
    text = redact(body) + (f"\n\n{act}: {link}" if link else "")
    return Message(recipient="kantor", subject=redact(subject), body=text)


class OfficeNotifier(LogNotifier):
    """The office's notifier: everything :class:`LogNotifier` writes, and through the channels
    the office configured as Airflow Connections - e-mail (``piak_smtp``, an ``smtp``
    Connection whose extra names ``from_email`` and the office's addresses ``to``) and a chat
    group (``piak_telegram``: the bot token as password, the group's chat id as host; extra
    ``base_url`` for a self-hosted Bot API server). A message to a person goes by e-mail when
    the contact is an address; a reminder goes to the addresses of those who may answer
    (``email`` in ``config/access.yaml``), else to the office's. A channel that fails is
    logged; the others still get it."""

    def notify(self, context: Any) -> None:
        super().notify(context)
        message = alert(self.title, context)
        holders = list(context.get("piak_recipients") or [])
        office_too = context.get("piak_office_too", not holders)
        channels = {
            "e-mail": lambda: self._mail(message, holders, office_too=office_too),
            "chat": lambda: self._chat(message),
        }
        for name, deliver in channels.items():
            try:
                deliver()
            except Exception as exc:  # one channel down must not hide the alert elsewhere
                log.error("Pemberitahuan lewat %s gagal: %s", name, type(exc).__name__)

    def send(self, message: Message) -> str:
        logged = super().send(message)
        conn = _connection(SMTP_CONN)
        if conn is None:
            return logged
        to = (
            [message.recipient.strip()] if _ONE_ADDRESS.fullmatch(message.recipient.strip()) else []
        )
        if message.to_office:
            to = list(dict.fromkeys([*to, *(conn.extra_dejson.get("to") or [])]))
        if not to:
            return logged
        _send_mail(to, message)
        return f"dikirim lewat e-mail ke {', '.join(to)}"

    def _mail(self, message: Message, holders: list[str], *, office_too: bool) -> None:
        """To the answering people's own addresses (a reminder), and to the office's when
        someone who may answer has none (or for a failure)."""
        conn = _connection(SMTP_CONN)
        if conn is None:
            return
        office = list(conn.extra_dejson.get("to") or []) if office_too else []
        to = list(dict.fromkeys([*holders, *office]))
        if to:
            _send_mail(to, message)

    def _chat(self, message: Message) -> None:
        if _connection(CHAT_CONN):
            import html

            text = f"<b>{html.escape(message.subject)}</b>\n\n{html.escape(message.body)}"
            _chat_hook_class()(telegram_conn_id=CHAT_CONN).send_message({"text": text})


def _connection(conn_id: str) -> Any:
    """The Connection, or None when the office has not configured it."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def _send_mail(to: list[str], message: Message) -> None:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=SMTP_CONN) as hook:
        hook.send_email_smtp(
            to=to,
            subject=message.subject,
            html_content=_as_html(message.body),
            files=list(message.files) or None,
        )


def _as_html(text: str) -> str:
    import html

    return "<pre style='font-family:sans-serif'>" + html.escape(text) + "</pre>"


@functools.cache
def _chat_hook_class() -> type:
    """The telegram provider's hook, at the Bot API server the Connection names (built on first
    use: the provider is imported only when a chat is configured)."""
    from airflow.providers.telegram.hooks.telegram import TelegramHook

    class _ChatHook(TelegramHook):
        def get_conn(self) -> Any:
            import telegram

            base = _connection(CHAT_CONN).extra_dejson.get("base_url")
            return telegram.Bot(self.token, base_url=base) if base else telegram.Bot(self.token)

    return _ChatHook


def build(path: str, **kwargs: Any) -> BaseNotifier:
    """The notifier named ``"module:Class"`` in configuration, built with ``kwargs``."""
    from piak.workflow.dagkit import resolve

    notifier = resolve(path)(**kwargs)
    if not isinstance(notifier, BaseNotifier):
        raise TypeError(f"{path} is not an Airflow BaseNotifier")
    return notifier


def messenger(path: str, **kwargs: Any) -> PiakNotifier:
    """The notifier named ``"module:Class"`` that can ``send`` a message to a person."""
    notifier = build(path, **kwargs)
    if not isinstance(notifier, PiakNotifier):
        raise TypeError(
            f"{path} is not a piak.workflow.notify.PiakNotifier (it cannot send messages)"
        )
    return notifier
