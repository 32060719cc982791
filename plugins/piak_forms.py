"""Airflow plugin: trigger-form refusals in Bahasa Indonesia, and sign-off answers the task
would not accept (a rejection without its note) refused at once. Logic:
``piak.web.form_messages``."""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin

from piak.web.form_messages import FormMessagesMiddleware


class PiakForms(AirflowPlugin):
    name = "piak_forms"
    fastapi_root_middlewares: ClassVar[list[dict[str, Any]]] = [
        {"middleware": FormMessagesMiddleware, "name": "PIAK: pesan formulir"},
    ]
