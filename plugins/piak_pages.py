"""Airflow plugin: the pages of a population-data request (figures, draft letter, release),
opened from the data_provision sign-offs; "Tugas saya" (the signed-in person's waiting
sign-offs), "Kepatuhan SOP", "Agenda", "Katalog backup" and "Diagram SOP" in the UI's menu;
all behind Airflow's own login. Logic: ``piak.web.provision_pages``, ``piak.web.my_tasks``,
``piak.web.office_pages``, ``piak.core.diagrams``."""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin

from piak.core import diagrams
from piak.web import my_tasks, office_pages, provision_pages
from piak.web.base import LazyApp


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
        {
            "app": LazyApp(office_pages.create_agenda_app),
            "url_prefix": office_pages.AGENDA_PREFIX,
            "name": "PIAK agenda",
        },
        {
            "app": LazyApp(office_pages.create_compliance_app),
            "url_prefix": office_pages.COMPLIANCE_PREFIX,
            "name": "PIAK kepatuhan SOP",
        },
        {
            "app": LazyApp(office_pages.create_catalogue_app),
            "url_prefix": office_pages.CATALOGUE_PREFIX,
            "name": "PIAK katalog backup",
        },
        {
            "app": LazyApp(office_pages.create_diagram_app),
            "url_prefix": diagrams.URL_PREFIX,
            "name": "PIAK diagram SOP",
        },
    ]
    external_views: ClassVar[list[dict[str, Any]]] = [
        {"name": "Tugas saya", "href": f"{my_tasks.URL_PREFIX}/", "url_route": "tugas-saya"},
        {"name": "Agenda", "href": f"{office_pages.AGENDA_PREFIX}/", "url_route": "agenda"},
        {
            "name": "Kepatuhan SOP",
            "href": f"{office_pages.COMPLIANCE_PREFIX}/",
            "url_route": "kepatuhan",
        },
        {
            "name": "Katalog backup",
            "href": f"{office_pages.CATALOGUE_PREFIX}/",
            "url_route": "katalog-backup",
        },
        {"name": "Diagram SOP", "href": f"{diagrams.URL_PREFIX}/", "url_route": "diagram-sop"},
    ]
