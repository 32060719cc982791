"""Airflow plugin: the pages of a population-data request (figures, draft letter, release),
opened from the data_provision sign-offs, and "Tugas saya" (the signed-in person's waiting
sign-offs, in the UI's menu), behind Airflow's own login. Logic: ``piak.provision_pages``,
``piak.my_tasks``."""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin

from piak import my_tasks, provision_pages
from piak.web import LazyApp


class PiakPages(AirflowPlugin):
    name = "piak_pages"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [
        {
            "app": LazyApp(provision_pages.create_app),
            "url_prefix": provision_pages.URL_PREFIX,
            "name": "PIAK penyajian data",
        },
        {
            "app": LazyApp(my_tasks.create_app),
            "url_prefix": my_tasks.URL_PREFIX,
            "name": "PIAK tugas saya",
        },
    ]
    external_views: ClassVar[list[dict[str, Any]]] = [
        {
            "name": "Tugas saya",
            "href": f"{my_tasks.URL_PREFIX}/",
            "destination": "nav",
            "url_route": "tugas-saya",
        },
    ]
