"""What the office's pages in the Airflow UI's server share (plugins ``fastapi_apps``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class LazyApp:
    """An ASGI app that builds ``factory()`` on its first request, so that loading a plugin
    (every Airflow process does) imports nothing heavy."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory
        self._app: Any = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if self._app is None:
            self._app = self.factory()
        await self._app(scope, receive, send)
