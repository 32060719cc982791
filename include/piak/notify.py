"""Failure notifiers for SOP DAGs (configurable per DAG, e.g. ``notifier`` in backup.yaml).

The embedded default's notifier writes a warning to the task log; the agenda entry of the failed
step is written by :func:`piak.steps.record_failure` for every SOP task anyway. Offices plug in
their own channel (mail, chat) by naming another :class:`BaseNotifier` subclass in configuration.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)


class LogNotifier(BaseNotifier):
    """Writes ``PERINGATAN: <SOP> gagal ...`` with the task, run and error to the task log; a
    sign-off's reminder or escalation (``piak_message`` in the context) likewise."""

    template_fields = ("title",)

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title = title

    def notify(self, context: Any) -> None:
        ti = context.get("ti")
        if context.get("piak_message"):  # a reminder or escalation of a waiting sign-off
            log.warning("PERINGATAN: %s: %s", self.title, context["piak_message"])
            return
        log.error(
            "PERINGATAN: %s gagal pada langkah %s (run %s): %s",
            self.title,
            getattr(ti, "task_id", "?"),
            getattr(ti, "run_id", "?"),
            context.get("exception"),
        )


def build(path: str, **kwargs: Any) -> BaseNotifier:
    """The notifier named ``"module:Class"`` in configuration, built with ``kwargs``."""
    from piak.dagkit import resolve

    notifier = resolve(path)(**kwargs)
    if not isinstance(notifier, BaseNotifier):
        raise TypeError(f"{path} is not an Airflow BaseNotifier")
    return notifier
