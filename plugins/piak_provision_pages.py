"""Airflow plugin: the pages of a population-data request (figures, draft letter, release),
opened from the data_provision sign-offs, behind Airflow's own login. Logic:
``piak.provision_pages``."""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin

from piak.provision_pages import URL_PREFIX, LazyApp


class PiakProvisionPages(AirflowPlugin):
    name = "piak_provision_pages"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [
        {"app": LazyApp(), "url_prefix": URL_PREFIX, "name": "PIAK penyajian data"},
    ]
