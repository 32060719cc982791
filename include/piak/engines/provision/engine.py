"""``prepare_data``: a checked request in, a complete output folder with its manifest out.

The folder is built as ``.<name>.partial`` beside its final place and renamed only when every
file and ``manifest.json`` are written, so a crash never leaves something that looks complete.
``manifest.json`` lists every file (size, SHA-256, rows), the tables, the request and its query
parameters, the as-of date and the suppression and masking applied, and carries its own
checksum. An existing complete output of the same request is returned as it is (idempotent); any
other existing output is never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from piak.core import sealed
from piak.core.errors import PiakError
from piak.engines.provision import aggregate, individual
from piak.engines.provision.catalog import load
from piak.engines.provision.output import Written, cover_lines, now_wib
from piak.engines.provision.pseudonym import Pseudonymiser
from piak.engines.provision.request import Regions, Request, describe_scope, load_regions
from piak.engines.provision.source import CHUNK_ROWS, dialect_of
from piak.engines.provision.sql import Query, aggregate_query, individual_query

MANIFEST = sealed.MANIFEST
KIND = "data-release"
#: Releases made before they were sealed folders; read with their own checksum rule.
LEGACY_FORMAT = "piak-data-provision/2"
SUPPRESSION_METHOD = (
    "primer 1..ambang-1 di semua tabel dan tingkat; sekunder sampai audit LP (HiGHS) atas "
    "seluruh rilis lulus: tiap sel kecil tidak dapat dihitung dan tidak dapat dibuktikan kecil"
)


def _legacy_checksum(body: dict[str, Any]) -> str:
    text = json.dumps(body, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_manifest(out_dir: Path) -> dict[str, Any]:
    """The manifest of an output folder (a sealed folder of kind ``data-release``); ``PiakError``
    if missing, unreadable or altered."""
    try:
        body = sealed.read_file(Path(out_dir), kind=KIND, legacy={LEGACY_FORMAT: _legacy_checksum})
        sealed.parse_entries(body.get("files"), Path(out_dir).name)
    except sealed.ManifestError as exc:
        raise PiakError(f"{Path(out_dir) / MANIFEST}: manifest rusak atau diubah ({exc})") from None
    return body


def verify_output(out_dir: Path) -> list[str]:
    """Problems of an output folder against its manifest (empty list: complete and intact)."""
    out_dir = Path(out_dir)
    try:
        manifest = load_manifest(out_dir)
    except PiakError as exc:
        return [str(exc)]
    return sealed.file_problems(out_dir, sealed.parse_entries(manifest["files"], out_dir.name))


def summary(manifest: dict[str, Any], out_dir: Path, *, reused: bool) -> dict[str, Any]:
    """Small metadata of an output (for XCom, the agenda and the letter)."""
    return {
        "out_dir": str(out_dir),
        "manifest": str(Path(out_dir) / MANIFEST),
        "request_sha256": manifest["request_sha256"],
        "kind": manifest["request"]["jenis_data"],
        "format": manifest["request"]["format"],
        "as_of": manifest["as_of"],
        "scope": manifest["scope"],
        "files": manifest["files"],
        "row_counts": manifest["row_counts"],
        "suppressed_cells": manifest["suppression"]["cells"],
        "reused": reused,
    }


def _existing(out_dir: Path, request: Request, reuse: bool) -> dict[str, Any] | None:
    """The summary of a reusable output, None when there is nothing there; else refuse."""
    if not out_dir.exists():
        return None
    if not out_dir.is_dir():
        raise PiakError(f"{out_dir} sudah ada dan bukan folder: tidak ditimpa")
    if not any(out_dir.iterdir()):
        return None
    if not reuse:
        raise PiakError(f"folder keluaran {out_dir} sudah berisi: tidak ditimpa")
    problems = verify_output(out_dir)
    if problems:
        raise PiakError(
            f"folder keluaran {out_dir} sudah ada tetapi tidak utuh ({'; '.join(problems)}): "
            "tidak ditimpa; periksa lalu pindahkan folder itu"
        )
    manifest = load_manifest(out_dir)
    if manifest["request_sha256"] != request.fingerprint():
        raise PiakError(f"folder keluaran {out_dir} berisi data permintaan lain: tidak ditimpa")
    return summary(manifest, out_dir, reused=True)


def _start(out_dir: Path) -> Path:
    return sealed.start(out_dir.parent, out_dir.name)


def _manifest(
    request: Request,
    regions: Regions,
    dialect: str,
    files: list[Written],
    tables: list[dict[str, Any]],
    extra: dict[str, Any],
) -> dict[str, Any]:
    suppressed = sum(
        t.get("suppressed_primary", 0) + t.get("suppressed_secondary", 0) for t in tables
    )
    audit = extra.pop("suppression_audit", None)
    body = {
        "format": sealed.FORMAT,
        "kind": KIND,
        "created_at": now_wib().isoformat(timespec="seconds"),
        "request": request.to_params(),
        "request_sha256": request.fingerprint(),
        "as_of": request.as_of.isoformat(),
        "scope": describe_scope(request, regions),
        "database": {"dialect": dialect},
        "files": [f.as_dict() for f in files],
        "tables": tables,
        "row_counts": {t["name"]: t["rows"] for t in tables},
        "suppression": {
            "threshold": request.threshold,
            "applied": request.kind == "agregat",
            "levels": ["kabupaten", "kecamatan", "kelurahan"] if request.kind == "agregat" else [],
            "cells": suppressed,
            "primary": audit["primary"] if audit else 0,
            "secondary": audit["secondary"] if audit else 0,
            "method": SUPPRESSION_METHOD if request.kind == "agregat" else None,
            "audit": audit,
        },
        "identifiers": {
            "pseudonymised": list(request.pseudonymised),
            "opened": list(request.unmasked),
            "opened_under": (
                request.agreement.identity_clause
                if request.unmasked and request.agreement
                else None
            ),
            "year_only": list(request.coarsened),
        },
        "pks": request.agreement.as_record() if request.agreement else None,
        **extra,
    }
    return body


def _aggregate(
    request: Request, conn: Any, dialect: str, regions: Regions, work: Path
) -> tuple[list[Written], list[dict[str, Any]], dict[str, Any]]:
    tables, suppression = aggregate.build_pack(conn, dialect, request, regions)
    files = aggregate.write_pack(
        tables, work, request.format, cover_lines(request, regions), request
    )
    in_file = {
        t.key: (f"{t.key}.{request.format}" if request.format != "xlsx" else "agregat.xlsx")
        for t in tables
    }
    described = [
        {
            "name": t.key,
            "title": t.title,
            "level": t.level,
            "file": in_file[t.key],
            "sheet": t.sheet if request.format == "xlsx" else None,
            **t.report(),
        }
        for t in tables
    ]
    queries = [
        _statement(spec.key, aggregate_query(spec, request, dialect)) for spec in load().aggregates
    ]
    return files, described, {"queries": queries, "suppression_audit": suppression.report()}


def _individual(
    request: Request,
    conn: Any,
    dialect: str,
    regions: Regions,
    work: Path,
    pseudonyms: Pseudonymiser | None,
    chunk_rows: int,
    xlsx_max_rows: int,
) -> tuple[list[Written], list[dict[str, Any]], dict[str, Any]]:
    if request.pseudonymised and pseudonyms is None:
        raise PiakError("identitas disamarkan dengan pseudonim, tetapi rahasia pseudonim tidak ada")
    files, note = individual.write_extract(
        conn,
        dialect,
        request,
        work,
        cover=cover_lines(request, regions),
        pseudonyms=pseudonyms,
        chunk_rows=chunk_rows,
        xlsx_max_rows=xlsx_max_rows,
    )
    k_anonymity = note.pop("k_anonymity")
    rows = files[0].rows
    table = {
        "name": individual.STEM,
        "title": "Data perseorangan",
        "level": "penduduk",
        "file": files[0].name,
        "rows": rows,
    }
    query = _statement(individual.STEM, individual_query(request, dialect))
    extra = {"queries": [query], "extract": note, "k_anonymity": k_anonymity}
    if request.pseudonymised and pseudonyms is not None:
        extra["pseudonyms"] = pseudonyms.describe()
    return files, [table], extra


def _statement(name: str, query: Query) -> dict[str, Any]:
    """A statement and its bound values, as the manifest records them."""
    values = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in query.params.items()}
    return {"table": name, "sql": query.sql, "parameters": values}


def prepare_data(
    request: Request,
    conn: Any,
    out_dir: Path,
    *,
    pseudonyms: Pseudonymiser | None = None,
    reuse: bool = True,
    chunk_rows: int = CHUNK_ROWS,
    xlsx_max_rows: int = individual.XLSX_MAX_ROWS,
) -> dict[str, Any]:
    """Extract the request's data into ``out_dir`` (files + ``manifest.json``); return
    :func:`summary` metadata.

    ``conn`` is a DB-API connection (:func:`piak.engines.siak_db.connect`, SQLite or Oracle).
    ``pseudonyms`` keys the identifiers an individual extract does not open (required then). When
    ``out_dir`` already holds a complete output of the same request it is returned untouched
    (``reused: True``); with ``reuse=False`` (the CLI) any non-empty ``out_dir`` is refused.
    """
    out_dir = Path(out_dir)
    if found := _existing(out_dir, request, reuse):
        return found
    dialect = dialect_of(conn)
    regions = load_regions(conn)
    work = _start(out_dir)
    try:
        if request.kind == "agregat":
            files, tables, extra = _aggregate(request, conn, dialect, regions, work)
        else:
            files, tables, extra = _individual(
                request, conn, dialect, regions, work, pseudonyms, chunk_rows, xlsx_max_rows
            )
        manifest = _manifest(request, regions, dialect, files, tables, extra)
        if out_dir.exists():
            out_dir.rmdir()  # empty (checked above)
        sealed.seal(work, out_dir, sealed.manifest_text(manifest))
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return summary(manifest, out_dir, reused=False)
