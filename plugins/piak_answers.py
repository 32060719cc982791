"""Airflow plugin: every sign-off answer the API accepts is also kept in the agenda database, so
that a retry of its task applies it instead of asking again. Logic: ``piak.workflow.answers``."""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin

from piak.workflow.answers import AnswerKeeperMiddleware


class PiakAnswers(AirflowPlugin):
    name = "piak_answers"
    fastapi_root_middlewares: ClassVar[list[dict[str, Any]]] = [
        {"middleware": AnswerKeeperMiddleware, "name": "PIAK: salinan jawaban sign-off"},
    ]
