"""Population data provision (SOP "Pelayanan Penyajian Data Kependudukan"): the extraction
engine, usable without Airflow.

- :func:`params_schema` - the trigger form (Airflow Params JSON schema, Bahasa Indonesia).
- :func:`validate_request` - every rule of a request, before anything runs -> :class:`Request`.
- a connection from :mod:`piak.engines.siak_db` (Airflow Connection or a SQLite file).
- :func:`prepare_data` - files + ``manifest.json`` in the request's folder; idempotent.
- :func:`verify_output` / :func:`load_manifest` - check an output folder later.

Submodules import pandas-free and Airflow-free; pyarrow and openpyxl load only when writing.
"""

from __future__ import annotations

from piak.engines.provision.engine import load_manifest, prepare_data, verify_output
from piak.engines.provision.request import (
    Regions,
    Request,
    describe_scope,
    last_cutoff,
    load_regions,
    params_schema,
    validate_request,
)

__all__ = [
    "Regions",
    "Request",
    "describe_scope",
    "last_cutoff",
    "load_manifest",
    "load_regions",
    "params_schema",
    "prepare_data",
    "validate_request",
    "verify_output",
]
