"""PIAK Ops: the IT SOPs of Bidang PIAK as Apache Airflow DAGs."""

from __future__ import annotations

__version__ = "0.1.0"
