"""Issue 12, item 5: no text written to XLSX or CSV is ever read as a formula (OWASP rule).

One test per leading character - ``=``, ``+``, ``-``, ``@``, tab, carriage return, and the same
signs after leading whitespace and in full width - through every writer: the agenda export, an
individual extract (a resident's name and birthplace) and the aggregate pack (a village name from
SETUP_KEL), each in CSV and XLSX. The text stays readable, with a leading ``'``.
"""

from __future__ import annotations

import csv
import shutil
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from piak.core import agenda
from piak.core.spreadsheet import safe_text
from piak.engines import demo_db, provision, siak_db
from piak.engines.provision.catalog import load
from piak.engines.provision.config import Agreement, PksRegistry

LEADS = {
    "equals": "=",
    "plus": "+",
    "minus": "-",
    "at": "@",
    "tab": "\t",
    "carriage-return": "\r",
    "space-then-equals": "  =",
    "full-width-equals": "\uff1d",
}
TODAY = date(2026, 11, 25)
INSTITUTION = "Universitas Contoh / Fakultas Kesehatan"
AGREEMENTS = PksRegistry(
    agreements=(
        Agreement(
            number="PKS/001/DUKCAPIL/2025",
            institution=INSTITUTION,
            signed=date(2025, 3, 1),
            valid_from=date(2025, 3, 1),
            valid_to=date(2027, 2, 28),
            columns=tuple(load().columns),
        ),
    )
)
BASE = {
    "nama_pemohon": "Dr. Siti Rahayu", "instansi": INSTITUTION, "nomor_surat": "470/1/UC/2026",
    "tanggal_surat": "2026-11-20", "keperluan": "Penelitian gizi balita tingkat desa",
    "kontak": "+62 812-3456-7890", "tanggal_data": "2026-06-30",
    "kelurahan": ["99.01.03.2001"],
}  # fmt: skip


def payload(lead: str) -> str:
    return f'{lead}HYPERLINK("http://contoh.invalid/x","klik")'


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("siak") / "siak.db"
    demo_db.generate(path, residents=2_000, seed=3)
    return path


@pytest.fixture
def hostile(pristine, tmp_path, request) -> tuple[Path, str]:
    """The demo database with one resident and one village named by the payload."""
    text = payload(LEADS[request.param])
    path = tmp_path / "siak.db"
    shutil.copy(pristine, path)
    with sqlite3.connect(path) as conn:
        (nik,) = conn.execute(
            "SELECT NIK FROM BIODATA_WNI WHERE FLAG_STATUS = '0' AND NO_KEC = 3 AND NO_KEL = 2001 "
            "AND TGL_LHR <= '2026-06-30' AND (TGL_ENTRI IS NULL OR TGL_ENTRI <= '2026-06-30') "
            "LIMIT 1"
        ).fetchone()
        conn.execute("UPDATE BIODATA_WNI SET NAMA_LGKP = ?, TMPT_LHR = ? WHERE NIK = ?",
                     (text, text, nik))  # fmt: skip
        conn.execute(
            "UPDATE SETUP_KEL SET NAMA_KEL = ? WHERE NO_KEC = 3 AND NO_KEL = 2001", (text,)
        )
    return path, text


def csv_cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:  # keeps a CR inside a field
        return [c for row in csv.reader(handle) for c in row]


def xlsx_cells(path: Path) -> list[tuple[object, str]]:
    from openpyxl import load_workbook

    book = load_workbook(path)  # not read-only: data types are kept
    return [
        (cell.value, cell.data_type)
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if cell.value is not None
    ]


def assert_safe_csv(path: Path, text: str) -> None:
    cells = csv_cells(path)
    assert "'" + text in cells, path.name
    assert text not in cells, f"{path.name}: the payload is written as it came"


def assert_safe_xlsx(path: Path, text: str) -> None:
    cells = xlsx_cells(path)
    assert ("'" + text, "s") in cells, path.name
    assert all(kind != "f" for _, kind in cells), f"{path.name}: a formula cell"
    assert all(value != text for value, _ in cells), f"{path.name}: the payload as it came"


@pytest.mark.parametrize("lead", list(LEADS))
def test_safe_text_quotes_what_a_spreadsheet_would_run(lead):
    text = payload(LEADS[lead])
    assert safe_text(text) == "'" + text
    assert safe_text("Budi Santoso") == "Budi Santoso"
    assert safe_text("0812-3456") == "0812-3456"


@pytest.mark.parametrize("hostile", list(LEADS), indirect=True)
def test_releases_write_no_formula(hostile, tmp_path):
    database, text = hostile
    with siak_db.connect_sqlite(database) as conn:

        def release(fmt: str, kind: str, folder: str) -> Path:
            extra = (
                {"jenis_data": "perseorangan", "nomor_pks": "PKS/001/DUKCAPIL/2025",
                 "kolom": ["NAMA_LGKP", "TMPT_LHR", "NAMA_KEL"]}
                if kind == "perseorangan"
                else {}
            )  # fmt: skip
            params = {**BASE, **extra, "format": fmt}
            request = provision.validate_request(
                params, region_lookup=lambda: provision.load_regions(conn), today=TODAY,
                agreements=AGREEMENTS, floor=5,
            )  # fmt: skip
            provision.prepare_data(request, conn, tmp_path / folder)
            return tmp_path / folder

        assert_safe_csv(release("csv", "perseorangan", "p-csv") / "perseorangan.csv", text)
        assert_safe_xlsx(release("xlsx", "perseorangan", "p-xlsx") / "perseorangan.xlsx", text)
        assert_safe_csv(release("csv", "agregat", "a-csv") / "kelurahan_agama.csv", text)
        assert_safe_xlsx(release("xlsx", "agregat", "a-xlsx") / "agregat.xlsx", text)


@pytest.mark.parametrize("lead", list(LEADS))
def test_the_agenda_export_writes_no_formula(lead, tmp_path):
    text = payload(LEADS[lead])
    url = f"sqlite:///{tmp_path / 'agenda.db'}"
    agenda.record(
        agenda.AgendaEntry(
            recorded_at=datetime(2026, 11, 20, 3, 0, tzinfo=UTC),
            sop_code="helpdesk",
            dag_id="helpdesk",
            run_id="manual__2026-11-20",
            task_id="record_complaint",
            step_number=1,
            role="jfu",
            actor="jfu",
            outcome="done",
            output_ref=text,
            note=text,
        ),
        url,
    )
    csv_path, _ = agenda.export_month("2026-11", tmp_path / "agenda.csv", url)
    assert_safe_csv(csv_path, text)
    xlsx_path, _ = agenda.export_month("2026-11", tmp_path / "agenda.xlsx", url)
    assert_safe_xlsx(xlsx_path, text)
