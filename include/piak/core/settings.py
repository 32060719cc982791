"""Where PIAK Ops keeps its state, read from ``PIAK_*`` environment variables.

Every setting is read when asked for (never cached at import), so tests and the CLI can point
the package elsewhere with an environment variable. Secrets never live here: they are Airflow
Connections.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root when running from a checkout (``include/piak/core/settings.py`` -> repo).
PROJECT_ROOT = Path(__file__).resolve().parents[3]

TIMEZONE = "Asia/Jakarta"


def home() -> Path:
    """Base directory for runtime state (agenda, demo database, storage); ``PIAK_HOME``."""
    return Path(os.environ.get("PIAK_HOME") or PROJECT_ROOT / "var")


def agenda_url() -> str:
    """SQLAlchemy URL of the agenda store; ``PIAK_AGENDA_URL`` (default: SQLite under home)."""
    return os.environ.get("PIAK_AGENDA_URL") or f"sqlite:///{home() / 'agenda.db'}"


def config_file(env_var: str, name: str) -> Path:
    """A configuration file: the path in ``env_var`` when set, else ``config/<name>``."""
    return Path(os.environ.get(env_var) or PROJECT_ROOT / "config" / name)


def demo_siak_db() -> Path:
    """The demo SIAK SQLite database of the embedded default; ``PIAK_DEMO_SIAK_DB``."""
    return Path(os.environ.get("PIAK_DEMO_SIAK_DB") or home() / "siak_demo.db")


#: Where the UI's server shows a population-data request (plugin ``piak_pages``), linked from
#: its sign-offs and letters.
RELEASE_PAGES = "/piak/penyajian-data"


def airflow_base_url() -> str:
    """Base URL of the Airflow UI, used for links in sign-off bodies; ``PIAK_AIRFLOW_URL``."""
    return (os.environ.get("PIAK_AIRFLOW_URL") or "http://127.0.0.1:8080").rstrip("/")


def storage() -> Path:
    """Shared storage every worker reaches (files between tasks); ``PIAK_STORAGE``."""
    return Path(os.environ.get("PIAK_STORAGE") or home() / "storage")


def siak_conn_id() -> str:
    """The Airflow Connection of the SIAK database (Oracle; SQLite in the demo);
    ``PIAK_SIAK_CONN_ID`` (default ``siak_db``)."""
    return os.environ.get("PIAK_SIAK_CONN_ID") or "siak_db"
