"""Population data extraction engine: aggregates against independent SQL, pseudonyms in every
format, small-count suppression, refused requests, streaming, XLSX split, CLI."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import zipfile
from datetime import date
from pathlib import Path

import pytest

from piak import cli
from piak.core.errors import InvalidRequest, PiakError
from piak.engines import provision, siak_db
from piak.engines.provision import individual
from piak.engines.provision.catalog import load
from piak.engines.provision.config import Agreement, PksRegistry
from piak.engines.provision.pseudonym import Pseudonymiser
from piak.engines.provision.request import TITLES, last_cutoff
from piak.engines.provision.sql import individual_query
from piak.engines.provision.suppress import Equality, protect

TODAY = date(2026, 11, 25)
AS_OF = "2026-06-30"
BASE = {
    "nama_pemohon": "Dr. Siti Rahayu, M.Si.",
    "instansi": "Universitas Contoh / Fakultas Kesehatan",
    "nomor_surat": "470/123/UC/2026",
    "tanggal_surat": "2026-11-20",
    "keperluan": "Penelitian gizi balita; perencanaan posyandu tingkat desa",
    "kontak": "+62 812-3456-7890",
}
PKS = {
    "jenis_data": "perseorangan",
    "nomor_pks": "PKS/001/DUKCAPIL/2025",
    "tanggal_pks": "2025-03-01",
}
IDENTIFIERS = ["NIK", "NO_KK", "NIK_IBU", "NIK_AYAH"]
SIXTEEN = re.compile(r"(?<!\d)\d{16}(?!\d)")
PSEUDONYM = re.compile(r"^[PK][0-9A-F]{16}$")
#: The PKS registry of these tests: one agreement for every column, one opening identity.
AGREEMENTS = PksRegistry(
    agreements=(
        Agreement(
            number=PKS["nomor_pks"],
            institution=BASE["instansi"],
            signed=date(2025, 3, 1),
            valid_from=date(2025, 3, 1),
            valid_to=date(2027, 2, 28),
            columns=tuple(load().columns),
        ),
        Agreement(
            number="PKS/002/DUKCAPIL/2026",
            institution=BASE["instansi"],
            signed=date(2026, 1, 15),
            valid_from=date(2026, 1, 15),
            valid_to=date(2028, 1, 14),
            columns=tuple(load().columns),
            open_identity=True,
            identity_clause="Pasal 4 ayat (2)",
        ),
        Agreement(
            number="PKS/003/LAMA/2020",
            institution=BASE["instansi"],
            signed=date(2020, 1, 1),
            valid_from=date(2020, 1, 1),
            valid_to=date(2024, 12, 31),
            columns=tuple(load().columns),
        ),
        Agreement(
            number="PKS/004/TERBATAS/2026",
            institution=BASE["instansi"],
            signed=date(2026, 1, 1),
            valid_from=date(2026, 1, 1),
            valid_to=date(2027, 12, 31),
            columns=("NAMA_LGKP", "JENIS_KLMIN"),
        ),
    )
)
OPEN = {**PKS, "nomor_pks": "PKS/002/DUKCAPIL/2026", "tanggal_pks": "2026-01-15"}
PSEUDONYMS = Pseudonymiser(b"rahasia-uji-pseudonim-0123456789", "PD-UJI")


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Path:
    from piak.engines import demo_db

    path = tmp_path_factory.mktemp("siak") / "siak.db"
    demo_db.generate(path, residents=15_000, seed=7)
    return path


@pytest.fixture
def conn(database):
    connection = siak_db.connect_sqlite(database)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def regions(database):
    with sqlite3.connect(database) as connection:
        return provision.load_regions(connection)


def make(regions, **overrides):
    return provision.validate_request(
        {**BASE, **overrides}, region_lookup=regions, today=TODAY, agreements=AGREEMENTS, floor=5
    )


def extract(request, conn, out, **kwargs):
    return provision.prepare_data(request, conn, out, pseudonyms=PSEUDONYMS, **kwargs)


# --- aggregates ---------------------------------------------------------------------------------

AGE = (
    "(CAST(strftime('%Y', :as_of) AS INTEGER) - CAST(strftime('%Y', TGL_LHR) AS INTEGER)"
    " - (strftime('%m-%d', TGL_LHR) > strftime('%m-%d', :as_of)))"
)
SEX_LABELS = {1: "Laki-laki", 2: "Perempuan"}


def _independent(database: Path, key: str, where: str, args: dict) -> dict[tuple, int]:
    """(kelurahan code, category label) -> count, by plain SQL with its own age arithmetic."""
    from piak.engines.provision.catalog import load

    catalog = load()
    spec = next(s for s in catalog.aggregates if s.key == key)
    base = (
        "FROM BIODATA_WNI WHERE FLAG_STATUS = '0' AND date(TGL_LHR) <= date(:as_of) "
        f"AND date(TGL_ENTRI) <= date(:as_of) {where}"
    )
    region = "printf('%02d.%02d.%02d.%04d', NO_PROP, NO_KAB, NO_KEC, NO_KEL)"
    if spec.kind == "codes":
        sql = f"SELECT {region}, {spec.column}, COUNT(*) {base} GROUP BY 1, 2"
        labels = catalog.labels(spec.codes)
    elif spec.kind == "age_sex":
        group = f"MIN({AGE} / 5, 15)"
        sql = f"SELECT {region} || '|' || {group}, JENIS_KLMIN, COUNT(*) {base} GROUP BY 1, 2"
        labels = SEX_LABELS
    elif spec.kind == "heads":
        sql = f"SELECT {region}, JENIS_KLMIN, COUNT(*) {base} AND STAT_HBKEL = 1 GROUP BY 1, 2"
        labels = SEX_LABELS
    else:
        wajib = f"AND ({AGE} >= 17 OR STAT_KWN IN (2, 3, 4))"
        sql = f"SELECT {region}, JENIS_KLMIN, COUNT(*) {base} {wajib} GROUP BY 1, 2"
        labels = SEX_LABELS
    with sqlite3.connect(database) as connection:
        rows = connection.execute(sql, {"as_of": AS_OF, **args}).fetchall()
    return {(r, labels.get(c, "Tidak diketahui")): n for r, c, n in rows}


def _read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def _published(path: Path, age_groups: list[str]) -> tuple[dict[tuple, int], set[tuple]]:
    """(kelurahan code[|age group index], category) -> count from an output CSV, and the
    suppressed cells."""
    out, hidden = {}, set()
    fixed = {"Kode", "Kecamatan", "Kelurahan/Desa", "Kelompok Umur", "Jumlah"}
    for row in _read_csv(path):
        key = row["Kode"]
        if "Kelompok Umur" in row:
            key += f"|{age_groups.index(row['Kelompok Umur'])}"
        for column, value in row.items():
            if column in fixed:
                continue
            if value == "*":
                hidden.add((key, column))
            elif value != "0":
                out[key, column] = int(value)
    return out, hidden


def _visible(expected: dict[tuple, int], hidden: set[tuple]) -> dict[tuple, int]:
    return {key: n for key, n in expected.items() if key not in hidden}


SCOPES = {
    "seluruh kabupaten": ({}, "", {}),
    "kecamatan, umur dan jenis kelamin": (
        {"kecamatan": ["99.01.02", "05"], "kelurahan": ["99.01.07.2003"], "umur_min": 15,
         "umur_max": 64, "jenis_kelamin": "perempuan"},
        "AND (NO_KEC IN (2, 5) OR (NO_KEC = 7 AND NO_KEL = 2003)) AND JENIS_KLMIN = 2 "
        f"AND {AGE} BETWEEN 15 AND 64",
        {},
    ),
}  # fmt: skip


@pytest.mark.parametrize("scope", list(SCOPES))
def test_aggregates_equal_independent_counts(database, conn, regions, tmp_path, scope):
    overrides, where, args = SCOPES[scope]
    request = make(regions, format="csv", **overrides)
    result = provision.prepare_data(request, conn, tmp_path / "out")
    ages = [label for _, _, label in load().age_groups()]
    hidden_total = 0
    for spec in load().aggregates:
        expected = _independent(database, spec.key, where, args)
        kel, hidden = _published(tmp_path / "out" / f"kelurahan_{spec.key}.csv", ages)
        assert kel == _visible(expected, hidden), spec.key
        kec_expected: dict[tuple, int] = {}
        for (code, category), n in expected.items():
            region, _, group = code.partition("|")
            key = (region[:8] + (f"|{group}" if group else ""), category)
            kec_expected[key] = kec_expected.get(key, 0) + n
        kec, kec_hidden = _published(tmp_path / "out" / f"kecamatan_{spec.key}.csv", ages)
        assert kec == _visible(kec_expected, kec_hidden), spec.key
        hidden_total += len(hidden) + len(kec_hidden)
    assert result["row_counts"]["kelurahan_agama"] == (72 if not overrides else 7 + 5 + 1)
    assert 0 < hidden_total <= result["suppressed_cells"]


def test_xlsx_totals_match_the_sheet(conn, regions, tmp_path):
    from openpyxl import load_workbook

    provision.prepare_data(make(regions, format="xlsx"), conn, tmp_path / "x")
    wb = load_workbook(tmp_path / "x" / "agregat.xlsx", read_only=True)
    assert wb.sheetnames[0] == "Keterangan"
    rows = list(wb["Kec Agama"].iter_rows(values_only=True))
    header = rows[3]
    assert header[:2] == ("Kode", "Kecamatan") and header[-1] == "Jumlah"
    body = [r for r in rows[4:] if r and r[0] and str(r[0]).startswith("99.")]
    total = next(r for r in rows if r and r[0] == "JUMLAH")
    checked = 0
    for col in range(2, len(header)):
        column = [r[col] for r in body]
        if "*" not in column and total[col] != "*":
            assert total[col] == sum(column)
            checked += 1
    assert checked >= 3  # the big religions and the grand total are published
    cover = dict(r[:2] for r in wb["Keterangan"].iter_rows(values_only=True) if r and len(r) > 1)
    assert cover["Posisi data"].startswith("30 Juni 2026")
    assert cover["Surat permohonan"].startswith(BASE["nomor_surat"])


# --- suppression --------------------------------------------------------------------------------


def test_protect_hides_small_cells_and_enough_partners_that_none_can_be_worked_out():
    # a 2x3 table with row totals, column totals and the grand total: cells 0-5, rows 6-7,
    # columns 8-10, grand total 11
    values = [50, 3, 20, 40, 30, 9, 73, 79, 90, 33, 29, 152]
    relations = [
        Equality(6, (0, 1, 2)), Equality(7, (3, 4, 5)), Equality(8, (0, 3)),
        Equality(9, (1, 4)), Equality(10, (2, 5)), Equality(11, (6, 7)), Equality(11, (8, 9, 10)),
    ]  # fmt: skip
    result = protect(values, relations, threshold=5)
    assert result.primary == {1}
    # the 3 needs a partner in its row and in its column, and those a fourth: a rectangle
    assert result.cells == {1, 2, 4, 5}
    low, high = result.intervals[1]
    assert low <= 2 and high >= 5  # neither computable nor provably small
    assert protect(values, relations, threshold=2).cells == frozenset()


FIXED = {"Kode", "Kecamatan", "Kelurahan/Desa", "Kelompok Umur"}


def test_suppression_applied_at_every_level_and_reported(conn, regions, tmp_path):
    result = provision.prepare_data(make(regions, format="csv"), conn, tmp_path / "s")
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    suppression = manifest["suppression"]
    assert (suppression["threshold"], suppression["applied"]) == (5, True)
    assert suppression["levels"] == ["kabupaten", "kecamatan", "kelurahan"]
    assert suppression["cells"] == result["suppressed_cells"] > 0
    assert suppression["primary"] + suppression["secondary"] == suppression["cells"]
    tables = {t["name"]: t for t in manifest["tables"]}
    hidden_total = 0
    for path in sorted((tmp_path / "s").glob("*.csv")):
        rows = _read_csv(path)
        table = tables[path.stem]
        hidden = sum(v == "*" for row in rows for v in row.values())
        if path.stem.startswith("kelurahan"):  # the kecamatan tables also hold the kabupaten
            assert hidden == table["suppressed_primary"] + table["suppressed_secondary"]
        hidden_total += hidden
        for row in rows:
            values = [v for k, v in row.items() if k not in FIXED]
            # no small count anywhere, totals included, at any level
            assert all(v == "*" or v == "0" or int(v) >= 5 for v in values), path.name
            assert sum(v == "*" for v in values) != 1, f"{path.name}: lone hidden cell in a row"
    assert hidden_total <= result["suppressed_cells"]
    assert any(tables[name]["suppressed"] for name in tables if name.startswith("kecamatan_"))


def test_a_request_may_raise_the_threshold_never_lower_it(conn, regions, tmp_path):
    for low in (0, 1, 4):
        with pytest.raises(InvalidRequest, match="di bawah ambang kantor 5"):
            make(regions, ambang_sel_kecil=low)
    assert make(regions).threshold == 5
    higher = make(regions, format="csv", ambang_sel_kecil=10)
    provision.prepare_data(higher, conn, tmp_path / "t")
    for path in (tmp_path / "t").glob("*.csv"):
        for row in _read_csv(path):
            assert all(v in ("*", "0") or int(v) >= 10 for k, v in row.items() if k not in FIXED)
    assert (
        json.loads((tmp_path / "t" / "manifest.json").read_text())["suppression"]["threshold"] == 10
    )


# --- masking ------------------------------------------------------------------------------------


def _texts(path: Path) -> list[str]:
    """Everything readable in an output file (XLSX unzipped, Parquet decoded)."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as archive:
            return [archive.read(name).decode("utf-8", "replace") for name in archive.namelist()]
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        return [json.dumps(table.to_pylist(), default=str), path.read_bytes().decode("latin-1")]
    return [path.read_text(encoding="utf-8-sig", errors="replace")]


def _full_identifiers(database: Path, kec: int) -> set[str]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT NIK, NO_KK, NIK_IBU, NIK_AYAH FROM BIODATA_WNI WHERE NO_KEC = ?", (kec,)
        ).fetchall()
    return {v for row in rows for v in row if v}


def _data_rows(path: Path) -> list[dict]:
    """The data rows of an individual extract in any format, as dicts of strings."""
    if path.suffix == ".csv":
        return _read_csv(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return [{k: "" if v is None else str(v) for k, v in r.items()}
                for r in pq.read_table(path).to_pylist()]  # fmt: skip
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    rows = []
    for name in book.sheetnames[1:]:
        sheet = list(book[name].iter_rows(values_only=True))
        rows += [{h: "" if v is None else str(v) for h, v in zip(sheet[0], r, strict=True)}
                 for r in sheet[1:]]  # fmt: skip
    return rows


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_identifiers_become_per_release_pseudonyms_in_every_format(
    database, conn, regions, tmp_path, fmt
):
    request = make(regions, **PKS, format=fmt, kecamatan=["99.01.04"],
                   kolom=[*IDENTIFIERS, "NAMA_LGKP", "TGL_LHR"])  # fmt: skip
    result = extract(request, conn, tmp_path / fmt, chunk_rows=500)
    secrets = _full_identifiers(database, 4)
    assert result["row_counts"]["perseorangan"] > 1000
    for path in (tmp_path / fmt).iterdir():
        for text in _texts(path):
            assert not set(SIXTEEN.findall(text)) & secrets, path.name
    rows = _data_rows(tmp_path / fmt / f"perseorangan.{fmt}")
    assert all(PSEUDONYM.match(r["NIK"]) and r["NIK"][0] == "P" for r in rows)
    assert all(PSEUDONYM.match(r["Nomor KK"]) and r["Nomor KK"][0] == "K" for r in rows)
    assert all(re.fullmatch(r"(19|20)\d\d", r["Tahun Lahir"]) for r in rows)
    assert "Tanggal Lahir" not in rows[0]
    # families stay linkable inside the release: a mother's pseudonym is her own row's NIK's
    own = {r["NIK"] for r in rows}
    mothers = [r["NIK Ibu"] for r in rows if r["NIK Ibu"]]
    assert mothers and sum(m in own for m in mothers) / len(mothers) > 0.95
    manifest = json.loads((tmp_path / fmt / "manifest.json").read_text())
    assert manifest["identifiers"] == {
        "pseudonymised": IDENTIFIERS, "opened": [], "opened_under": None, "year_only": ["TGL_LHR"],
    }  # fmt: skip
    assert manifest["pseudonyms"]["release"] == "PD-UJI"
    assert "rahasia-uji-pseudonim" not in json.dumps(manifest)


def test_another_release_gets_other_pseudonyms(database):
    with sqlite3.connect(database) as connection:
        nik = connection.execute("SELECT NIK FROM BIODATA_WNI LIMIT 1").fetchone()[0]
    other = Pseudonymiser(b"rahasia-uji-pseudonim-0123456789", "PD-LAIN")
    assert PSEUDONYMS.value(nik, "P") != other.value(nik, "P")
    assert PSEUDONYMS.value(nik, "P") != PSEUDONYMS.value(nik, "K")
    again = Pseudonymiser(b"rahasia-uji-pseudonim-0123456789", "PD-UJI")
    assert again.value(nik, "P") == PSEUDONYMS.value(nik, "P")


def test_identity_opened_only_under_a_pks_clause(database, conn, regions, tmp_path):
    with pytest.raises(InvalidRequest, match="tidak mengizinkan identitas dibuka"):
        make(regions, **PKS, kolom=["NIK"], identitas_terbuka=["NIK"])
    columns = ["NIK", "NO_KK", "TGL_LHR", "TGL_KWN"]
    request = make(regions, **OPEN, format="csv", kecamatan=["99.01.04"], kolom=columns,
                   identitas_terbuka=["NIK"])  # fmt: skip
    extract(request, conn, tmp_path / "u")
    rows = _read_csv(tmp_path / "u" / "perseorangan.csv")
    with sqlite3.connect(database) as connection:
        niks = {r[0] for r in connection.execute("SELECT NIK FROM BIODATA_WNI WHERE NO_KEC = 4")}
    assert {r["NIK"] for r in rows} <= niks
    assert all(r["Nomor KK"].startswith("K") for r in rows)
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", r["Tanggal Lahir"]) for r in rows)
    assert all(re.fullmatch(r"(\d{4})?", r["Tahun Perkawinan"]) for r in rows)
    manifest = json.loads((tmp_path / "u" / "manifest.json").read_text())
    assert manifest["identifiers"]["opened_under"] == "Pasal 4 ayat (2)"
    assert manifest["identifiers"]["year_only"] == ["TGL_KWN"]


def test_aggregate_outputs_hold_no_identifier(conn, regions, tmp_path):
    for fmt in ("csv", "xlsx", "parquet"):
        provision.prepare_data(make(regions, format=fmt), conn, tmp_path / fmt)
        for path in (tmp_path / fmt).iterdir():
            assert all(not SIXTEEN.search(text) for text in _texts(path)), path.name


# --- refused requests ---------------------------------------------------------------------------

BAD = [
    ({"nama_pemohon": ""}, "nama_pemohon"),
    ({"nama_pemohon": "<script>alert(1)</script>"}, "nama_pemohon"),
    ({"nama_pemohon": "Budi'; DROP TABLE BIODATA_WNI; --"}, "nama_pemohon"),
    ({"nama_pemohon": 12345}, "nama_pemohon"),
    ({"instansi": "{{ var.value.secret }}"}, "instansi"),
    ({"instansi": '=HYPERLINK("http://x")'}, "instansi"),
    ({"nomor_surat": "1 UNION SELECT NIK FROM BIODATA_WNI"}, "nomor_surat"),
    ({"nomor_surat": "470/1\x00/2026"}, "nomor_surat"),
    ({"tanggal_surat": "2027-01-01"}, "tanggal_surat"),
    ({"tanggal_surat": "20-11-2026"}, "tanggal_surat"),
    ({"tanggal_surat": "2026-02-30"}, "tanggal_surat"),
    ({"keperluan": "x' OR '1'='1"}, "keperluan"),
    ({"keperluan": "Penelitian /* komentar */ desa"}, "keperluan"),
    ({"keperluan": "Penelitian desa ${jndi:ldap://x}"}, "keperluan"),
    ({"keperluan": "pendek"}, "keperluan"),
    ({"kontak": "bukan kontak"}, "kontak"),
    ({"jenis_data": "rahasia"}, "jenis_data"),
    ({**PKS, "nomor_pks": None, "kolom": ["NAMA_LGKP"]}, "nomor_pks"),
    ({**PKS, "nomor_pks": "PKS/404/DUKCAPIL/2025", "kolom": ["NAMA_LGKP"]}, "nomor_pks"),
    ({**PKS, "instansi": "Lembaga Survei Lain", "kolom": ["NAMA_LGKP"]}, "nomor_pks"),
    (
        {**PKS, "nomor_pks": "PKS/003/LAMA/2020", "tanggal_pks": None, "kolom": ["NAMA_LGKP"]},
        "nomor_pks",
    ),
    ({**OPEN, "tanggal_surat": "2026-01-10", "kolom": ["NAMA_LGKP"]}, "nomor_pks"),
    ({**PKS, "nomor_pks": "PKS/004/TERBATAS/2026", "tanggal_pks": None, "kolom": ["NIK"]}, "kolom"),
    ({**PKS, "tanggal_pks": "2025-03-02", "kolom": ["NAMA_LGKP"]}, "tanggal_pks"),
    ({**PKS, "tanggal_pks": "2027-03-01", "kolom": ["NAMA_LGKP"]}, "tanggal_pks"),
    ({"nomor_pks": "PKS/1/2025"}, "nomor_pks"),
    ({**PKS, "kolom": []}, "kolom"),
    ({**PKS, "kolom": ["PNYDNG_CCT"]}, "kolom"),
    ({**PKS, "kolom": ["NIK; DROP TABLE X"]}, "kolom"),
    ({**PKS, "kolom": ["NIK", "NIK"]}, "kolom"),
    ({**PKS, "kolom": "NIK"}, "kolom"),
    ({"kolom": ["NIK"]}, "kolom"),
    ({**PKS, "kolom": ["NAMA_LGKP"], "identitas_terbuka": ["NAMA_LGKP"]}, "identitas_terbuka"),
    ({**PKS, "kolom": ["NAMA_LGKP"], "identitas_terbuka": ["NIK"]}, "identitas_terbuka"),
    ({"kecamatan": ["99.01.99"]}, "kecamatan"),
    ({"kecamatan": ["9901"]}, "kecamatan"),
    ({"kecamatan": ["01' OR '1'='1"]}, "kecamatan"),
    ({"kecamatan": "99.01.03"}, "kecamatan"),
    ({"kecamatan": ["99.01.03", "03"]}, "kecamatan"),
    ({"kelurahan": ["99.01.03.9999"]}, "kelurahan"),
    ({"kelurahan": ["99.01.03.20011"]}, "kelurahan"),
    ({"tanggal_data": "2027-01-01"}, "tanggal_data"),
    ({"tanggal_data": "1999-12-31"}, "tanggal_data"),
    ({"tanggal_data": "kemarin"}, "tanggal_data"),
    ({"umur_min": -1}, "umur_min"),
    ({"umur_max": 151}, "umur_max"),
    ({"umur_min": 60, "umur_max": 17}, "umur_max"),
    ({"umur_min": "17"}, "umur_min"),
    ({"umur_min": True}, "umur_min"),
    ({"jenis_kelamin": "L"}, "jenis_kelamin"),
    ({"format": "pdf"}, "format"),
    ({"ambang_sel_kecil": -1}, "ambang_sel_kecil"),
    ({"ambang_sel_kecil": 0}, "ambang_sel_kecil"),
    ({"ambang_sel_kecil": 3}, "ambang_sel_kecil"),
    ({"ambang_sel_kecil": "5"}, "ambang_sel_kecil"),
    ({"sql": "SELECT 1"}, "sql"),
]


@pytest.mark.parametrize(
    ("overrides", "field"), BAD, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD)]
)
def test_bad_input_refused_naming_the_field_and_nothing_written(
    conn, regions, tmp_path, overrides, field
):
    out = tmp_path / "keluaran"
    with pytest.raises(InvalidRequest) as err:
        request = make(regions, **overrides)
        extract(request, conn, out)
    message = str(err.value)
    assert field in message
    if field in TITLES:
        assert message.startswith(TITLES[field])
    assert list(tmp_path.iterdir()) == []


def test_form_schema_matches_validation(regions):
    schema = provision.params_schema()
    assert set(schema) == set(TITLES)
    json.dumps(schema)
    defaults = {name: field["default"] for name, field in schema.items()}
    request = provision.validate_request({**defaults, **BASE}, region_lookup=regions, today=TODAY)
    assert (request.kind, request.format, request.threshold) == ("agregat", "xlsx", 5)
    assert request.as_of == date(2026, 6, 30)
    assert provision.validate_request(request.to_params(), region_lookup=regions,
                                      today=TODAY) == request  # fmt: skip
    assert all(f["title"] and f["section"] for f in schema.values())
    from piak.engines.provision import request as rules

    assert schema["jenis_data"]["enum"] == list(rules.KINDS)
    assert schema["format"]["enum"] == list(rules.FORMATS)
    assert schema["jenis_kelamin"]["enum"] == list(rules.SEX_CHOICES)


@pytest.mark.parametrize(
    ("today", "cutoff"),
    [(date(2026, 11, 25), date(2026, 6, 30)), (date(2026, 6, 30), date(2025, 12, 31)),
     (date(2026, 7, 1), date(2026, 6, 30)), (date(2027, 1, 1), date(2026, 12, 31))],
)  # fmt: skip
def test_last_semester_cutoff(today, cutoff):
    assert last_cutoff(today) == cutoff


def test_values_reach_sql_only_as_bind_parameters(regions):
    hostile = make(regions, **PKS, kolom=["NIK", "NAMA_LGKP"], kelurahan=["99.01.03.2001"],
                   umur_min=17)  # fmt: skip
    for dialect in ("sqlite", "oracle"):
        query = individual_query(hostile, dialect)
        assert "2001" not in query.sql and "2026" not in query.sql
        assert set(re.findall(r":(p_\w+)", query.sql)) == set(query.params)
    oracle = individual_query(hostile, "oracle").params
    assert isinstance(oracle["p_after"], date) and oracle["p_r0_no_kel"] == 2001


# --- streaming, XLSX, idempotency, CLI ------------------------------------------------------------


class CountingConnection:
    """A DB-API connection wrapper recording every fetchmany."""

    def __init__(self, connection):
        self.connection = connection
        self.fetches: list[int] = []

    def cursor(self):
        outer = self
        cursor = self.connection.cursor()

        class Cursor:
            arraysize = 1
            description = property(lambda _: cursor.description)

            def execute(self, *args):
                cursor.execute(*args)

            def fetchmany(self, size):
                rows = cursor.fetchmany(size)
                outer.fetches.append(len(rows))
                return rows

            def close(self):
                cursor.close()

        return Cursor()


def test_individual_extract_streams_in_chunks_and_readers_agree(conn, regions, tmp_path):
    request = make(regions, **PKS, format="csv", kecamatan=["99.01.05"],
                   kolom=["NIK", "NAMA_LGKP", "JENIS_KLMIN", "TGL_LHR", "AGAMA", "NO_RT",
                          "TGL_KWN", "NAMA_KEL"])  # fmt: skip
    cover = [("Pemohon", "uji")]
    counting = CountingConnection(conn)
    (tmp_path / "slow").mkdir()
    slow, note = individual.write_extract(counting, "sqlite", request, tmp_path / "slow",
                                          cover=cover, chunk_rows=300, fast=False,
                                          pseudonyms=PSEUDONYMS)  # fmt: skip
    rows = slow[0].rows
    assert rows > 600 and note["reader"] == "fetchmany"
    assert max(counting.fetches) == 300 and sum(counting.fetches) == rows
    assert note["chunks"] == -(-rows // 300)
    (tmp_path / "fast").mkdir()
    fast, note = individual.write_extract(conn, "sqlite", request, tmp_path / "fast", cover=cover,
                                          chunk_rows=300, pseudonyms=PSEUDONYMS)  # fmt: skip
    k_anonymity = note.pop("k_anonymity")
    assert note == {"reader": "columnar", "chunks": -(-rows // 300), "chunk_rows": 300}
    assert k_anonymity["rows"] == rows and k_anonymity["k"] >= 1
    assert fast[0].sha256 == slow[0].sha256
    first = _read_csv(tmp_path / "fast" / "perseorangan.csv")[0]
    assert first["Jenis Kelamin"] in {"Laki-laki", "Perempuan"} and first["Agama"] == "Islam"
    assert re.fullmatch(r"\d{4}", first["Tahun Lahir"]) and PSEUDONYM.match(first["NIK"])


def test_columnar_reader_falls_back_when_a_first_batch_is_all_null(conn, regions, tmp_path):
    # In region order every family starts with adults: the parents' NIK is NULL in a 2-row batch.
    request = make(regions, **PKS, format="parquet", kelurahan=["99.01.05.2001"],
                   kolom=["NAMA_LGKP", "NIK_IBU"])  # fmt: skip
    result = extract(request, conn, tmp_path / "f", chunk_rows=2)
    manifest = json.loads((tmp_path / "f" / "manifest.json").read_text())
    assert manifest["extract"]["reader"] == "fetchmany"
    assert result["files"][0]["rows"] == result["row_counts"]["perseorangan"] > 0


def test_xlsx_splits_sheets_at_the_row_limit(conn, regions, tmp_path):
    from openpyxl import load_workbook

    request = make(regions, **PKS, format="xlsx", kelurahan=["99.01.02.2001"],
                   kolom=["NIK", "NAMA_LGKP", "TGL_LHR"])  # fmt: skip
    result = extract(request, conn, tmp_path / "x", chunk_rows=64, xlsx_max_rows=50)
    rows = result["row_counts"]["perseorangan"]
    wb = load_workbook(tmp_path / "x" / "perseorangan.xlsx", read_only=True)
    data = [name for name in wb.sheetnames if name.startswith("Data ")]
    assert wb.sheetnames[0] == "Keterangan" and len(data) == -(-rows // 49) > 2
    counted = 0
    for name in data:
        sheet = list(wb[name].iter_rows(values_only=True))
        assert sheet[0] == ("NIK", "Nama Lengkap", "Tahun Lahir") and len(sheet) <= 50
        counted += len(sheet) - 1
    assert counted == rows


def test_prepare_data_is_idempotent_and_never_overwrites(conn, regions, tmp_path):
    request = make(regions, format="csv", kecamatan=["99.01.01"])
    first = provision.prepare_data(request, conn, tmp_path / "o")
    again = provision.prepare_data(request, conn, tmp_path / "o")
    assert again["reused"] and not first["reused"] and again["files"] == first["files"]
    assert provision.verify_output(tmp_path / "o") == []
    with pytest.raises(PiakError, match="permintaan lain"):
        provision.prepare_data(make(regions, format="csv"), conn, tmp_path / "o")
    with pytest.raises(PiakError, match="tidak ditimpa"):
        provision.prepare_data(request, conn, tmp_path / "o", reuse=False)
    (tmp_path / "o" / "kecamatan_agama.csv").write_text("diubah")
    with pytest.raises(PiakError, match="tidak utuh"):
        provision.prepare_data(request, conn, tmp_path / "o")
    assert not list(tmp_path.glob(".*partial"))


def test_cli_extract_and_refusal_to_overwrite(database, tmp_path, capsys, monkeypatch):
    registry = tmp_path / "pks.yaml"
    monkeypatch.setenv("PIAK_PKS_FILE", str(registry))
    monkeypatch.setenv("AIRFLOW_CONN_PIAK_PSEUDONYM", json.dumps({"conn_type": "generic",
                       "password": "rahasia-uji-pseudonim-cli-0123"}))  # fmt: skip
    assert cli.main(["pks", "add", "--number", "PKS/9/2025", "--institution", "Bidang PIAK",
                     "--signed", "2025-01-02", "--valid-from", "2025-01-02", "--valid-to",
                     "2030-01-01", "--columns", "NIK", "NAMA_LGKP"]) == 0  # fmt: skip
    out = tmp_path / "cli"
    args = ["extract", "--sqlite", str(database), "--kind", "perseorangan", "--columns", "NIK",
            "NAMA_LGKP", "--pks-number", "PKS/9/2025", "--pks-date", "2025-01-02", "--kec", "03",
            "--as-of", AS_OF, "--format", "parquet", "--out", str(out)]  # fmt: skip
    assert cli.main(args) == 0
    assert "perseorangan.parquet" in capsys.readouterr().out
    assert provision.verify_output(out) == []
    before = (out / "manifest.json").read_bytes()
    assert cli.main(args) == 2
    assert "tidak ditimpa" in capsys.readouterr().err
    assert (out / "manifest.json").read_bytes() == before
    bad = tmp_path / "bad"
    assert cli.main([*args[:-1], str(bad), "--age-min", "200"]) == 2
    assert "Umur terendah (umur_min)" in capsys.readouterr().err
    assert not bad.exists()


class FakeOracle:
    """Stands in for a python-oracledb connection: named binds, DATE columns as timestamps,
    results as Arrow data frames from ``fetch_df_batches``."""

    def __init__(self, connection):
        self.connection = connection
        self.calls: list[int] = []

    def fetch_df_batches(self, statement, parameters, size):
        import pyarrow as pa

        values = {k: v.isoformat() if isinstance(v, date) else v for k, v in parameters.items()}
        # the one Oracle-only expression, rewritten for the SQLite file behind this stand-in
        statement = re.sub(r"EXTRACT\(YEAR FROM ([\w.]+)\)",
                           r"CAST(strftime('%Y', \1) AS INTEGER)", statement)  # fmt: skip
        cursor = self.connection.execute(statement, values)
        names = [d[0] for d in cursor.description]
        while rows := cursor.fetchmany(size):
            self.calls.append(len(rows))
            columns = [list(c) for c in zip(*rows, strict=True)]
            arrays = [
                pa.array(c).cast(pa.timestamp("s")) if name.startswith("TGL_") else pa.array(c)
                for name, c in zip(names, columns, strict=True)
            ]
            yield pa.table(arrays, names=names)


def test_oracle_columnar_reader(conn, regions, tmp_path):
    request = make(regions, **PKS, format="csv", kecamatan=["99.01.06"],
                   kolom=["NIK", "NAMA_LGKP", "TGL_LHR", "PDDK_AKH"])  # fmt: skip
    oracle = FakeOracle(conn)
    files, note = individual.write_extract(oracle, "oracle", request, tmp_path, cover=[("a", "b")],
                                           chunk_rows=250, pseudonyms=PSEUDONYMS)  # fmt: skip
    assert note["reader"] == "columnar" and max(oracle.calls) == 250
    rows = _read_csv(tmp_path / "perseorangan.csv")
    assert len(rows) == files[0].rows == sum(oracle.calls)
    assert re.fullmatch(r"\d{4}", rows[0]["Tahun Lahir"])
    assert PSEUDONYM.match(rows[0]["NIK"])


def test_connect_through_the_airflow_hook(database, regions, monkeypatch, tmp_path):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIAK_UJI", json.dumps({"conn_type": "sqlite", "host": str(database)})
    )
    connection = siak_db.connect("siak_uji")
    try:
        request = make(regions, **PKS, format="csv", kolom=["NAMA_LGKP"], kecamatan=["08"])
        result = provision.prepare_data(request, connection, tmp_path / "h")
    finally:
        connection.close()
    manifest = json.loads((tmp_path / "h" / "manifest.json").read_text())
    assert manifest["database"] == {"dialect": "sqlite"}
    assert manifest["extract"]["reader"] == "columnar" and result["row_counts"]["perseorangan"]


def test_form_schema_is_valid_airflow_params(regions):
    from airflow.sdk import Param

    params = {name: Param(**schema) for name, schema in provision.params_schema().items()}
    values = {**BASE, **OPEN, "kolom": ["NIK", "NAMA_LGKP"], "identitas_terbuka": ["NIK"],
              "kecamatan": ["99.01.03"], "umur_min": 17, "tanggal_data": "2026-06-30"}  # fmt: skip
    resolved = {
        name: param.resolve(values.get(name, param.value)) for name, param in params.items()
    }
    request = provision.validate_request(resolved, region_lookup=regions, today=TODAY,
                                         agreements=AGREEMENTS)  # fmt: skip
    assert request.unmasked == ("NIK",) and request.kecamatan == ((99, 1, 3),)
    with pytest.raises(Exception, match="PNYDNG_CCT"):
        params["kolom"].resolve(["PNYDNG_CCT"])


def test_failure_mid_extract_leaves_nothing_and_stops_the_reader(
    conn, regions, tmp_path, monkeypatch
):
    import threading

    calls = []

    def failing_write(self, batch):
        calls.append(batch.num_rows)
        if len(calls) == 2:
            raise OSError("disk penuh")

    monkeypatch.setattr(individual.CsvSink, "write", failing_write)
    request = make(regions, **PKS, format="csv", kolom=["NAMA_LGKP"])
    with pytest.raises(OSError, match="disk penuh"):
        provision.prepare_data(request, conn, tmp_path / "gagal", chunk_rows=500)
    assert list(tmp_path.iterdir()) == []
    assert not [t for t in threading.enumerate() if t.name == "piak-prefetch"]


def test_k_anonymity_is_counted_over_the_released_values(database, conn, regions, tmp_path):
    request = make(regions, **PKS, format="csv", kecamatan=["99.01.04"],
                   kolom=["NIK", "JENIS_KLMIN", "TGL_LHR", "NO_KEL"])  # fmt: skip
    extract(request, conn, tmp_path / "k", chunk_rows=700)
    k = json.loads((tmp_path / "k" / "manifest.json").read_text())["k_anonymity"]
    with sqlite3.connect(database) as connection:
        sizes = [n for (n,) in connection.execute(
            "SELECT COUNT(*) FROM BIODATA_WNI WHERE FLAG_STATUS = '0' AND NO_KEC = 4 "
            "AND TGL_LHR <= :d AND (TGL_ENTRI IS NULL OR TGL_ENTRI <= :d) "
            "GROUP BY JENIS_KLMIN, substr(TGL_LHR, 1, 4), NO_KEL", {"d": AS_OF})]  # fmt: skip
    assert k["quasi_identifiers"] == ["Jenis Kelamin", "Tahun Lahir", "Kode Kelurahan/Desa"]
    assert (k["k"], k["classes"], k["rows"]) == (min(sizes), len(sizes), sum(sizes))
    assert k["classes_below_threshold"] == sum(1 for n in sizes if n < 5)
    assert k["rows_below_threshold"] == sum(n for n in sizes if n < 5)
    assert k["unique_rows"] == sum(1 for n in sizes if n == 1)
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == ["manifest.json",
                                                                  "perseorangan.csv"]  # fmt: skip
