"""Pages of a population-data request inside the Airflow UI's server (plugin ``fastapi_apps``).

The sign-offs of ``data_provision`` link here: ``/piak/penyajian-data/<request number>/`` shows
what is being approved (the summary), every decision so far with its note (from the agenda), the
suppression and k-anonymity of the release and its files with SHA-256; ``angka`` the aggregate
tables as released (suppressed cells as ``*``; individual data is never shown in a page),
``surat`` the letter (the final one once numbered, else the draft), ``berkas/<name>`` a file of
the release as listed in its manifest.

Login is Airflow's own: the JWT of the UI's session cookie (``_token``) or an
``Authorization: Bearer`` header, checked by the API server's auth manager
(``airflow.api_fastapi.core_api.security.get_user``) - no login, no page (401). Only office users
who may see ``data_provision`` (``config/access.yaml``: its trigger and view roles, deputies while
they stand in) may open a request (403 for the rest, the Airflow admin included: population data
is not the technical account's to read). Names in the URL are data: a request number must match
its pattern and a file must be listed in the manifest, so nothing outside the request's folder
can be read.
"""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path
from typing import Any

from piak.core import settings

SOP = "data_provision"
URL_PREFIX = settings.RELEASE_PAGES
PAGE = """<!doctype html>
<html lang="id"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse;
margin:.5em 0 1.5em}}td,th{{border:1px solid #bbb;padding:.2em .5em;text-align:left}}
th{{background:#eee}}td.n{{text-align:right}}code{{font-size:.85em}}</style></head>
<body>{body}</body></html>"""


def may_open(login: str) -> bool:
    """Whether ``login`` may open this SOP's request pages."""
    from piak.core import access

    return login != access.ADMIN and access.load().may_view(login, SOP)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(headers: list[str], rows: list[list[Any]], numeric_from: int = 99) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{_e(v)}</td>' if i >= numeric_from else f"<td>{_e(v)}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _folder(number: str) -> Path:
    from piak.sops import data_provision

    folder = data_provision.folder_of(number)
    if not (folder / data_provision.REQUEST_FILE).exists():
        raise LookupError(number)
    return folder


def _manifest(folder: Path) -> dict[str, Any] | None:
    from piak.engines import provision
    from piak.sops import data_provision

    data = folder / data_provision.DATA_DIR
    if not (data / "manifest.json").exists():
        return None
    return provision.load_manifest(data)


def summary_page(number: str) -> str:
    """The request: summary, decisions, release (files, suppression, k-anonymity), links."""
    from piak.core import agenda
    from piak.core.agenda import OUTCOMES
    from piak.core.roles import ROLE_TITLES
    from piak.sops import data_provision

    folder = _folder(number)
    record = data_provision.read_request(folder)
    parts = [f"<h1>Permohonan data {_e(number)}</h1>", "<h2>Yang disetujui</h2>"]
    parts.append(_table(["", ""], [[label, value] for label, value in record["ringkasan"]]))
    entries = agenda.entries(run_id=record.get("run_id")) if record.get("run_id") else []
    rows = [
        [
            e.step_number,
            ROLE_TITLES.get(e.role, e.role),
            e.actor,
            OUTCOMES.get(e.outcome, e.outcome),
            e.note or "",
        ]
        for e in entries
        if e.dag_id == SOP
    ]
    parts += ["<h2>Keputusan dan langkah sejauh ini</h2>"]
    parts.append(
        _table(["Langkah", "Peran", "Oleh", "Hasil", "Catatan"], rows)
        if rows
        else "<p>Belum ada.</p>"
    )
    manifest = _manifest(folder)
    parts.append('<h2 id="berkas">Rilis</h2>')
    if manifest is None:
        parts.append("<p>Data belum disiapkan (langkah 5).</p>")
    else:
        parts.append(_release(number, folder, manifest))
    letter = _letter(folder)
    if letter is not None:
        parts.append(
            f'<p><a href="surat">{"Surat balasan" if "draf" not in letter.name else "Draf surat"} '
            "(PDF)</a></p>"
        )
    return PAGE.format(title=_e(f"Permohonan {number}"), body="".join(parts))


def _release(number: str, folder: Path, manifest: dict[str, Any]) -> str:
    from piak.sops import data_provision

    digest = data_provision.file_sha256(folder / data_provision.DATA_DIR / "manifest.json")
    files = [
        [f'<a href="berkas/{_e(f["name"])}">{_e(f["name"])}</a>', f["rows"], f["sha256"]]
        for f in manifest["files"]
    ]
    files.append(['<a href="berkas/manifest.json">manifest.json</a>', "", digest])
    head = "".join(f"<th>{h}</th>" for h in ("Berkas", "Baris", "SHA-256"))
    body = "".join(
        f'<tr><td>{name}</td><td class="n">{_e(rows)}</td><td><code>{_e(sha)}</code></td></tr>'
        for name, rows, sha in files
    )
    parts = [f"<table><tr>{head}</tr>{body}</table>"]
    s = manifest["suppression"]
    if s.get("applied"):
        parts.append(
            f"<p>Sel disensor: {_e(s['cells'])} ({_e(s['primary'])} sel kecil di bawah "
            f"{_e(s['threshold'])}, {_e(s['secondary'])} sel pendamping), di semua tingkat: "
            f'{_e(", ".join(s["levels"]))}. <a href="angka">Lihat angka/tabel</a>.</p>'
        )
    k = manifest.get("k_anonymity")
    if k:
        parts.append(f"<p>{_e(data_provision.kanon_text(k))}.</p>")
        parts.append("<p>Data perseorangan tidak ditampilkan di halaman; unduh berkasnya.</p>")
    ids = manifest.get("identifiers") or {}
    if ids.get("pseudonymised"):
        parts.append(f"<p>Diganti pseudonim: {_e(', '.join(ids['pseudonymised']))}.</p>")
    return "".join(parts)


def figures_page(number: str) -> str:
    """The aggregate tables as released (``*`` = suppressed)."""
    from piak.sops import data_provision

    folder = _folder(number)
    manifest = _manifest(folder)
    parts = [f'<h1>Angka permohonan {_e(number)}</h1><p><a href="./">Kembali</a></p>']
    if manifest is None:
        parts.append("<p>Data belum disiapkan (langkah 5).</p>")
    elif manifest["request"]["jenis_data"] != "agregat":
        parts.append(
            "<p>Data perseorangan: baris penduduk tidak ditampilkan. "
            f"{_e(manifest['row_counts'])}</p>"
        )
    else:
        data = folder / data_provision.DATA_DIR
        for table in manifest["tables"]:
            headers, rows = _read_table(data, table, manifest["request"]["format"])
            labels = sum(1 for h in headers if h in ("Kode", "Kecamatan", "Kelurahan/Desa",
                                                     "Kelompok Umur"))  # fmt: skip
            parts.append(f"<h2>{_e(table['title'])}</h2>")
            parts.append(_table(headers, rows, numeric_from=labels))
    return PAGE.format(title=_e(f"Angka {number}"), body="".join(parts))


def _read_table(data: Path, table: dict[str, Any], fmt: str) -> tuple[list[str], list[list[Any]]]:
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO((data / table["file"]).read_text(encoding="utf-8-sig"))))
        return rows[0], rows[1:]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        read = pq.read_table(data / table["file"])
        values = [["*" if v is None else v for v in row.values()] for row in read.to_pylist()]
        return read.column_names, values
    from openpyxl import load_workbook

    book = load_workbook(data / table["file"], read_only=True)
    try:
        sheet = list(book[table["sheet"]].iter_rows(values_only=True))
    finally:
        book.close()
    header = [str(h) for h in sheet[3]]
    body = [["" if v is None else v for v in row] for row in sheet[4:] if row and row[0]]
    return header, [row for row in body if not str(row[0]).startswith("*")]


def _letter(folder: Path) -> Path | None:
    from piak.sops import data_provision

    for name in (data_provision.FINAL_LETTER, data_provision.DRAFT_LETTER):
        if (folder / name).exists():
            return folder / name
    return None


def release_file(number: str, name: str) -> Path:
    """A file of the release, only if its manifest lists it (or the manifest itself)."""
    from piak.sops import data_provision

    folder = _folder(number)
    manifest = _manifest(folder)
    if manifest is None:
        raise LookupError(name)
    listed = {f["name"] for f in manifest["files"]} | {"manifest.json"}
    if name not in listed:
        raise LookupError(name)
    return folder / data_provision.DATA_DIR / name


#: Who may read a package's password: the JFU who delivers it and the Kasi who archives.
PASSWORD_ROLES = ("jfu", "kasi")


def password_logins() -> set[str]:
    from piak.core import roles

    return {u["id"] for role, users in roles.load_roles().items() if role in PASSWORD_ROLES
            for u in users}  # fmt: skip


def password_page(number: str) -> str:
    """The 7z package's password, to be delivered apart from the package."""
    from piak.sops import data_provision

    secret = data_provision.package_password(_folder(number))
    if secret is None:
        raise LookupError("kata sandi")
    body = (
        f"<h1>Kata sandi paket {_e(number)}</h1><p>Sampaikan kepada penerima melalui telepon, "
        "SMS atau langsung - <b>jangan</b> bersama paketnya, jangan lewat surel yang sama.</p>"
        f"<p style='font-size:1.6em;font-family:monospace'>{_e(secret)}</p>"
    )
    return PAGE.format(title=f"Kata sandi {_e(number)}", body=body)


def letter_file(number: str) -> Path:
    letter = _letter(_folder(number))
    if letter is None:
        raise LookupError("surat")
    return letter


def create_app() -> Any:
    """The FastAPI app (built on first request: only the API server imports FastAPI)."""
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import Depends, FastAPI, HTTPException
    from fastapi.responses import FileResponse, HTMLResponse

    from piak.core.errors import PiakError

    app = FastAPI(title="PIAK: penyajian data", docs_url=None, redoc_url=None, openapi_url=None)

    def authorised(user: Any = Depends(get_user)) -> Any:  # ruff: ignore[function-call-in-default-argument] - FastAPI idiom
        if not may_open(user.get_name()):
            raise HTTPException(
                403,
                "Hanya pemegang peran yang boleh melihat Penyajian Data (config/access.yaml) "
                "yang boleh membuka",
            )
        return user

    def guarded(call: Any, *args: str) -> Any:
        try:
            return call(*args)
        except (LookupError, PiakError):
            raise HTTPException(404, "Tidak ditemukan") from None

    @app.get("/{number}/", response_class=HTMLResponse, dependencies=[Depends(authorised)])
    def summary(number: str) -> str:
        return guarded(summary_page, number)

    @app.get("/{number}/angka", response_class=HTMLResponse, dependencies=[Depends(authorised)])
    def figures(number: str) -> str:
        return guarded(figures_page, number)

    @app.get("/{number}/surat", dependencies=[Depends(authorised)])
    def letter(number: str) -> FileResponse:
        path = guarded(letter_file, number)
        return FileResponse(path, media_type="application/pdf", filename=path.name)

    def password_holder(user: Any = Depends(get_user)) -> Any:  # ruff: ignore[function-call-in-default-argument] - FastAPI idiom
        if user.get_name() not in password_logins():
            raise HTTPException(403, "Hanya JFU dan Kasi yang boleh membuka kata sandi paket")
        return user

    @app.get(
        "/{number}/kata-sandi", response_class=HTMLResponse, dependencies=[Depends(password_holder)]
    )
    def password(number: str) -> str:
        return guarded(password_page, number)

    @app.get("/{number}/berkas/{name}", dependencies=[Depends(authorised)])
    def release(number: str, name: str) -> FileResponse:
        path = guarded(release_file, number, name)
        return FileResponse(path, filename=path.name)

    return app
