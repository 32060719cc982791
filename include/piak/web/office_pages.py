"""The office's "Agenda" and "Katalog backup" pages inside the Airflow UI's server (plugin
``plugins/piak_pages.py``), behind Airflow's own login (the UI's ``_token`` cookie or a bearer
token; no login, no page).

- ``/piak/agenda/?bulan=2026-12&sop=&oleh=&hasil=``: the log book of a WIB month, filtered by
  SOP, person and outcome, each entry linked to its DAG run; ``ekspor`` the same as XLSX. A
  person sees the entries of the DAGs ``config/access.yaml`` lets them see.
- ``/piak/katalog-backup/``: every backup set with its time, size, verification, offsite copies,
  hand-over and restore test, and the age of the newest verified set (red when stale); for
  those who may see ``backup_database``.
"""

from __future__ import annotations

import html
import re
import urllib.parse
from datetime import UTC, datetime
from typing import Any

AGENDA_PREFIX = "/piak/agenda"
COMPLIANCE_PREFIX = "/piak/kepatuhan"
#: How the compliance page groups the measured steps.
CATALOGUE_PREFIX = "/piak/katalog-backup"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
PAGE = """<!doctype html>
<html lang="id"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #bbb;padding:.25em .5em;text-align:left;vertical-align:top}}
th{{background:#eee}}.stale{{color:#b00000;font-weight:bold}}.ok{{color:#116611}}
form *{{margin-right:.6em}}</style></head><body>{body}</body></html>"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def this_month() -> str:
    from piak.workflow import steps

    return f"{steps.wib(datetime.now(UTC)):%Y-%m}"


def agenda_filters(query: dict[str, str]) -> dict[str, str]:
    """The page's filters from its query string; a month that is not ``YYYY-MM`` is refused."""
    from piak.core.errors import InvalidRequest

    month = (query.get("bulan") or this_month()).strip()
    if not _MONTH.match(month):
        raise InvalidRequest(f"bulan tidak sah: {month!r} (format YYYY-MM, mis. 2026-12)")
    return {"bulan": month, **{k: (query.get(k) or "").strip() for k in ("sop", "oleh", "hasil")}}


def agenda_entries(login: str, filters: dict[str, str]) -> list[Any]:
    """The month's entries ``login`` may see, filtered."""
    from piak.core import access, agenda

    config = access.load()
    found = []
    for e in agenda.entries(month=filters["bulan"]):
        if e.dag_id in config.dags and not config.may_view(login, e.dag_id):
            continue
        if filters["sop"] and e.sop_code != filters["sop"]:
            continue
        if filters["oleh"] and filters["oleh"].casefold() not in e.actor.casefold():
            continue
        if filters["hasil"] and e.outcome != filters["hasil"]:
            continue
        found.append(e)
    return found


def agenda_page(login: str, filters: dict[str, str], items: list[Any]) -> str:
    from piak.core import agenda, registry
    from piak.core.roles import ROLE_TITLES
    from piak.workflow import steps

    sops = [("", "semua SOP")] + [(s.code, s.title) for s in registry.load_registry()]
    outcomes = [("", "semua hasil"), *agenda.OUTCOMES.items()]

    def select(name: str, options: list[tuple[str, str]]) -> str:
        chosen = filters[name]
        items_ = "".join(
            f'<option value="{_e(v)}"{" selected" if v == chosen else ""}>{_e(t)}</option>'
            for v, t in options
        )
        return f'<select name="{name}">{items_}</select>'

    query = urllib.parse.urlencode(filters)
    form = (
        f'<form method="get"><input type="month" name="bulan" value="{_e(filters["bulan"])}">'
        f"{select('sop', sops)}{select('hasil', outcomes)}"
        f'<input name="oleh" placeholder="oleh (login)" value="{_e(filters["oleh"])}">'
        f'<button>Tampilkan</button><a href="ekspor?{_e(query)}">Unduh XLSX</a></form>'
    )
    rows = "".join(
        f"<tr><td>{steps.wib(e.recorded_at):%d-%m-%Y %H:%M}</td><td>{_e(e.sop_code)}</td>"
        f"<td>{_e(e.step_number)}</td><td>{_e(ROLE_TITLES.get(e.role, e.role))}</td>"
        f"<td>{_e(e.actor)}</td><td>{_e(agenda.OUTCOMES.get(e.outcome, e.outcome))}</td>"
        f"<td>{_e(e.note)}</td>"
        f'<td><a href="/dags/{_e(e.dag_id)}/runs/{_e(urllib.parse.quote(e.run_id, safe=""))}">'
        f"{_e(e.run_id)}</a></td></tr>"
        for e in items
    )
    table = (
        "<table><tr><th>Waktu (WIB)</th><th>SOP</th><th>Langkah</th><th>Peran</th><th>Oleh</th>"
        f"<th>Hasil</th><th>Catatan</th><th>Run</th></tr>{rows}</table>"
        if items
        else "<p>Tidak ada catatan untuk pilihan ini.</p>"
    )
    title = f"Agenda {agenda.month_title(filters['bulan'])}"
    body = f"<h1>{_e(title)}</h1>{form}<p>{len(items)} catatan.</p>{table}"
    return PAGE.format(title=_e(title), body=body)


def bar_chart(rows: list[dict[str, Any]]) -> str:
    """Share within the standard time per group, as an SVG bar chart drawn here."""
    shown = [r for r in rows if r["within"] is not None]
    if not shown:
        return ""
    height = 24 * len(shown) + 10
    bars = "".join(
        f'<text x="0" y="{24 * i + 17}" font-size="12">{_e(r["group"][:40])}</text>'
        f'<rect x="260" y="{24 * i + 5}" width="{3 * r["within"]}" height="16" '
        f'fill="{"#2e7d32" if r["within"] >= 80 else "#c62828"}"/>'
        f'<text x="{266 + 3 * r["within"]}" y="{24 * i + 17}" font-size="12">{r["within"]}%'
        "</text>"
        for i, r in enumerate(shown)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="620" height="{height}" '
        f'font-family="sans-serif" role="img" aria-label="Sesuai waktu baku">{bars}</svg>'
    )


def overdue(login: str, now: datetime | None = None) -> list[Any]:
    """Waiting sign-offs past their due time, of the DAGs ``login`` may see."""
    from piak.core import access
    from piak.web import my_tasks

    now = now or datetime.now(UTC)
    config = access.load()
    return [
        w
        for w in my_tasks.waiting()
        if (w.dag_id not in config.dags or config.may_view(login, w.dag_id))
        and (due := w.due_at) is not None
        and due < now
    ]


def compliance_page(month: str, by: str, rows: list[dict[str, Any]], late: list[Any]) -> str:
    from piak.core import agenda
    from piak.workflow import steps

    title = f"Kepatuhan SOP {agenda.month_title(month)}"
    choose = "".join(
        f'<option value="{k}"{" selected" if k == by else ""}>Per {_e(v)}</option>'
        for k, v in agenda.GROUPINGS.items()
    )
    query = urllib.parse.urlencode({"bulan": month, "menurut": by})
    form = (
        f'<form method="get"><input type="month" name="bulan" value="{_e(month)}">'
        f'<select name="menurut">{choose}</select><button>Tampilkan</button>'
        f'<a href="ekspor?{_e(query)}">Unduh XLSX</a></form>'
    )
    body_rows = "".join(
        f"<tr><td>{_e(r['group'])}</td><td>{r['count']}</td><td>{r['median']}</td>"
        f"<td>{r['p90']}</td><td>{r['max']}</td>"
        f"<td>{'-' if r['within'] is None else str(r['within']) + '%'}</td></tr>"
        for r in rows
    )
    table = (
        f"<table><tr><th>{_e(agenda.GROUPINGS[by])}</th><th>Jumlah</th>"
        "<th>Median (menit)</th><th>P90 (menit)</th><th>Terlama (menit)</th>"
        f"<th>Sesuai waktu baku</th></tr>{body_rows}</table>"
        if rows
        else "<p>Belum ada langkah terukur pada bulan ini.</p>"
    )
    late_rows = "".join(
        f'<li><a href="{_e(w.link)}">{_e(w.subject)}</a> - batas {_e(w.due)}, dibuka '
        f"{steps.wib(w.opened_at):%d-%m-%Y %H:%M} WIB</li>"
        for w in late
    )
    waiting = f"<ul>{late_rows}</ul>" if late else "<p>Tidak ada yang lewat batas waktu.</p>"
    body = (
        f"<h1>{_e(title)}</h1>{form}{table}{bar_chart(rows)}"
        f"<h2>Menunggu, lewat batas waktu</h2>{waiting}"
    )
    return PAGE.format(title=_e(title), body=body)


def compliance_xlsx(month: str, by: str, rows: list[dict[str, Any]], out: Any) -> None:
    """The compliance table as a workbook (text cells made formula-safe)."""
    import pandas as pd

    from piak.core import agenda
    from piak.core.spreadsheet import safe_row

    columns = [agenda.GROUPINGS[by], "Jumlah", "Median (menit)", "P90 (menit)",
               "Terlama (menit)", "Sesuai waktu baku (%)"]  # fmt: skip
    values = [[r["group"], r["count"], r["median"], r["p90"], r["max"], r["within"]] for r in rows]
    frame = pd.DataFrame([safe_row(v) for v in values], columns=columns)
    frame.to_excel(out, sheet_name=f"Kepatuhan {month}", index=False)


def catalogue_page(now: datetime | None = None) -> str:
    from piak.engines import backup_config, catalogue

    config = backup_config.load()
    fresh = catalogue.freshness(config, now)
    state = "stale" if fresh["stale"] else "ok"
    newest = (
        f'<p class="{state}">Set terverifikasi terbaru: {_e(fresh["set"])}, umur '
        f"{_e(fresh['age_hours'])} jam (batas {_e(fresh['max_age_hours'])} jam)</p>"
        if fresh["set"]
        else '<p class="stale">Belum ada set yang terverifikasi penuh.</p>'
    )
    rows = "".join(
        f"<tr><td>{_e(r['set'])}</td><td>{_e(r['exported_at'])}</td><td>{_e(_size(r['size']))}"
        f"</td><td>{'ya' if r['verified'] else '<b>belum</b>'}</td>"
        f"<td>{_e(', '.join(r['copies']))}</td><td>{_e(r['handed_over_at'] or '-')}</td>"
        f"<td>{_e(r['restore_tested_at'] or '-')}</td>"
        f"<td>{'ya' if r['encrypted'] else 'tidak'}</td></tr>"
        for r in reversed(catalogue.rows(config))
    )
    table = (
        "<table><tr><th>Set</th><th>Diekspor</th><th>Ukuran</th><th>Terverifikasi</th>"
        "<th>Salinan</th><th>Serah terima</th><th>Uji pulih</th><th>Terenkripsi</th></tr>"
        f"{rows}</table>"
        if rows
        else "<p>Belum ada set.</p>"
    )
    return PAGE.format(title="Katalog backup", body=f"<h1>Katalog backup</h1>{newest}{table}")


def _size(size: int | None) -> str:
    if size is None:
        return "-"
    return f"{size / 2**20:,.1f} MiB".replace(",", ".") if size >= 2**20 else f"{size} B"


def create_agenda_app() -> Any:
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import Depends, FastAPI, HTTPException
    from fastapi.responses import FileResponse, HTMLResponse

    from piak.core.errors import PiakError

    app = FastAPI(title="PIAK: agenda", docs_url=None, redoc_url=None, openapi_url=None)

    def filters_of(
        bulan: str | None = None, sop: str = "", oleh: str = "", hasil: str = ""
    ) -> dict[str, str]:
        """The page's query (?bulan=&sop=&oleh=&hasil=) as agenda filters, 400 when off."""
        try:
            return agenda_filters({"bulan": bulan or "", "sop": sop, "oleh": oleh, "hasil": hasil})
        except PiakError as exc:
            raise HTTPException(400, str(exc)) from None

    @app.get("/", response_class=HTMLResponse)
    def page(
        filters: dict[str, str] = Depends(filters_of),  # ruff: ignore[function-call-in-default-argument] - FastAPI idiom
        user: Any = Depends(get_user),  # ruff: ignore[function-call-in-default-argument] - FastAPI idiom
    ) -> str:
        return agenda_page(user.get_name(), filters, agenda_entries(user.get_name(), filters))

    @app.get("/ekspor")
    def export(
        filters: dict[str, str] = Depends(filters_of),  # ruff: ignore[function-call-in-default-argument] - FastAPI idiom
        user: Any = Depends(get_user),  # ruff: ignore[function-call-in-default-argument] - FastAPI idiom
    ) -> Any:
        import shutil
        import tempfile
        from pathlib import Path

        from starlette.background import BackgroundTask

        from piak.core import agenda

        folder = Path(tempfile.mkdtemp(prefix="piak-agenda-"))
        out = folder / f"agenda_{filters['bulan']}.xlsx"
        items = agenda_entries(user.get_name(), filters)
        agenda.write_entries(items, out, f"Agenda {agenda.month_title(filters['bulan'])}")
        return FileResponse(
            out, filename=out.name, background=BackgroundTask(shutil.rmtree, folder, True)
        )

    return app


def create_compliance_app() -> Any:
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import Depends, FastAPI, HTTPException
    from fastapi.responses import HTMLResponse, Response

    from piak.core import agenda
    from piak.core.errors import PiakError

    app = FastAPI(title="PIAK: kepatuhan SOP", docs_url=None, redoc_url=None, openapi_url=None)

    def measured(
        bulan: str | None = None,
        menurut: str = "langkah",
        user: Any = Depends(get_user),  # ruff: ignore[function-call-in-default-argument] - FastAPI idiom
    ) -> tuple[str, str, str, list]:
        """The page's query (?bulan=&menurut=) measured for the user: login, month, grouping and
        rows; 400 when the query is off."""
        if menurut not in agenda.GROUPINGS:
            raise HTTPException(
                400, f"menurut: pilih salah satu dari {', '.join(agenda.GROUPINGS)}"
            )
        try:
            filters = agenda_filters({"bulan": bulan or ""})
        except PiakError as exc:
            raise HTTPException(400, str(exc)) from None
        login = user.get_name()
        return (
            login,
            filters["bulan"],
            menurut,
            agenda.compliance(agenda_entries(login, filters), menurut),
        )

    @app.get("/", response_class=HTMLResponse)
    def page(measure: tuple = Depends(measured)) -> str:
        login, month, by, rows = measure
        return compliance_page(month, by, rows, overdue(login))

    @app.get("/ekspor")
    def export(measure: tuple = Depends(measured)) -> Any:
        import io

        _, month, by, rows = measure
        buffer = io.BytesIO()
        compliance_xlsx(month, by, rows, buffer)
        kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        name = f"kepatuhan_{month}_{by}.xlsx"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Response(buffer.getvalue(), media_type=kind, headers=headers)

    return app


def create_catalogue_app() -> Any:
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import Depends, FastAPI, HTTPException
    from fastapi.responses import HTMLResponse

    from piak.core import access

    app = FastAPI(title="PIAK: katalog backup", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=HTMLResponse)
    def page(user: Any = Depends(get_user)) -> str:  # ruff: ignore[function-call-in-default-argument] - FastAPI idiom
        if not access.load().may_view(user.get_name(), "backup_database"):
            raise HTTPException(403, "Hanya yang boleh melihat DAG backup_database")
        return catalogue_page()

    return app


def create_diagram_app() -> Any:
    """The diagrams in the Airflow UI's server, behind its login: ``/piak/diagram/`` lists
    them, ``/piak/diagram/<code>.svg`` is one (drawn from the registry on request)."""
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import Depends, FastAPI, HTTPException
    from fastapi.responses import HTMLResponse, Response

    from piak.core import registry
    from piak.core.diagrams import link, swimlane_svg

    app = FastAPI(title="PIAK: diagram SOP", docs_url=None, redoc_url=None, openapi_url=None)
    codes = {sop.code for sop in registry.load_registry()}

    @app.get("/", response_class=HTMLResponse)
    def index(user: Any = Depends(get_user)) -> str:  # ruff: ignore[function-call-in-default-argument] - FastAPI idiom
        items = "".join(
            f'<li><a href="{_e(link(sop.code))}">{_e(sop.title)}</a></li>'
            for sop in registry.load_registry()
        )
        body = f"<h1>Diagram alur SOP</h1><ul>{items}</ul>"
        return PAGE.format(title="Diagram alur SOP", body=body)

    @app.get("/{name}")
    def diagram(name: str, user: Any = Depends(get_user)) -> Response:  # ruff: ignore[function-call-in-default-argument] - FastAPI idiom
        code = name.removesuffix(".svg")
        if not name.endswith(".svg") or code not in codes:
            raise HTTPException(404, "Tidak ada SOP dengan nama itu")
        svg = swimlane_svg(registry.get_sop(code))
        return Response(svg, media_type="image/svg+xml")

    return app
