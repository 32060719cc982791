"""Airflow plugin: a DAG's Trigger button is shown disabled to whoever may not start it
(``config/access.yaml``). Logic: ``piak.web.trigger_button``."""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin

from piak.web.trigger_button import TriggerButtonMiddleware


class PiakAccess(AirflowPlugin):
    name = "piak_access"
    fastapi_root_middlewares: ClassVar[list[dict[str, Any]]] = [
        {"middleware": TriggerButtonMiddleware, "name": "PIAK: tombol Trigger sesuai hak"},
    ]
