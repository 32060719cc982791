"""Issue 12, item 1, attacked on our own output: can a released individual extract give a NIK
or a Nomor KK back through their structure?

NIK = region (6: province, regency, kecamatan) + birth date DDMMYY with day+40 for women +
serial (4), and the serial is 0001 for most people; Nomor KK = region + issue date + serial. The
attack builds, for every released row, the candidate identifier from what the row shows (its
kecamatan, sex, birth date - or, when only the year is released, the best guess of a day - and
serial 0001, then also 0002 and 0003) and counts the rows where that is the real identifier.
The real identifiers come from the database through the release's own pseudonym key, which the
test holds and an attacker does not. Target: at most 1% of rows.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from piak.engines import demo_db, provision, siak_db
from piak.engines.provision.catalog import load
from piak.engines.provision.config import Agreement, PksRegistry
from piak.engines.provision.pseudonym import Pseudonymiser

TODAY = date(2026, 11, 25)
INSTITUTION = "Universitas Contoh / Fakultas Kesehatan"
COLUMNS = ["NIK", "NO_KK", "NIK_IBU", "NAMA_LGKP", "JENIS_KLMIN", "TGL_LHR", "TGL_KWN",
           "NO_KEC", "NO_KEL", "NAMA_KEL"]  # fmt: skip
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
REQUEST = {
    "nama_pemohon": "Dr. Siti Rahayu", "instansi": INSTITUTION, "nomor_surat": "470/1/UC/2026",
    "tanggal_surat": "2026-11-20", "keperluan": "Penelitian gizi balita tingkat desa",
    "kontak": "+62 812-3456-7890", "jenis_data": "perseorangan",
    "nomor_pks": "PKS/001/DUKCAPIL/2025", "kolom": COLUMNS, "tanggal_data": "2026-06-30",
    "format": "csv",
}  # fmt: skip
SECRET = b"rahasia-uji-serangan-0123456789"
RELEASE = "PD-20261125-090000-abcdef"
TARGET = 0.01


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("siak") / "siak.db"
    demo_db.generate(path, residents=15_000, seed=7)
    return path


@pytest.fixture(scope="module")
def release(database, tmp_path_factory) -> list[dict[str, str]]:
    out = tmp_path_factory.mktemp("rilis") / "data"
    with siak_db.connect_sqlite(database) as conn:
        request = provision.validate_request(
            REQUEST, region_lookup=lambda: provision.load_regions(conn), today=TODAY,
            agreements=AGREEMENTS, floor=5,
        )  # fmt: skip
        provision.prepare_data(request, conn, out, pseudonyms=Pseudonymiser(SECRET, RELEASE))
    text = (out / "perseorangan.csv").read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def truth(database: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Pseudonym -> real NIK and -> real Nomor KK (only the key holder can make these)."""
    keyed = Pseudonymiser(SECRET, RELEASE)
    with sqlite3.connect(database) as conn:
        niks = [r[0] for r in conn.execute("SELECT NIK FROM BIODATA_WNI")]
        kks = [r[0] for r in conn.execute("SELECT NO_KK FROM DATA_KELUARGA")]
    return {keyed.value(n, "P"): n for n in niks}, {keyed.value(k, "K"): k for k in kks}


def _day(row: dict[str, str], column_date: str, column_year: str) -> tuple[int, int, int]:
    """The attacker's day: the released date, else the middle of the released year."""
    if row.get(column_date):
        year, month, day = (int(part) for part in row[column_date].split("-"))
        return day, month, year
    return 1, 7, int(row[column_year]) if row.get(column_year) else 1980


def nik_candidates(row: dict[str, str], serials: int) -> list[str]:
    day, month, year = _day(row, "Tanggal Lahir", "Tahun Lahir")
    day += 40 if row["Jenis Kelamin"] == "Perempuan" else 0
    region = f"9901{int(row['Kode Kecamatan']):02d}"
    return [f"{region}{day:02d}{month:02d}{year % 100:02d}{s:04d}" for s in range(1, serials + 1)]


def kk_candidates(row: dict[str, str], serials: int) -> list[str]:
    day, month, year = _day(row, "Tanggal Perkawinan", "Tahun Perkawinan")
    region = f"9901{int(row['Kode Kecamatan']):02d}"
    return [f"{region}{day:02d}{month:02d}{year % 100:02d}{s:04d}" for s in range(1, serials + 1)]


def success(rows: list[dict[str, str]], real: dict[str, str], column: str, candidates) -> float:
    hits = sum(real[row[column]] in candidates(row) for row in rows if row[column] in real)
    return hits / len(rows)


def test_the_attack_is_real_on_exact_birth_dates(database):
    """What item 1 found: with the exact birth date, sex and kecamatan the NIK comes back."""
    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            "SELECT NIK, JENIS_KLMIN, TGL_LHR, NO_KEC FROM BIODATA_WNI WHERE FLAG_STATUS = '0'"
        ).fetchall()
    exposed = [
        {"NIK": nik, "Jenis Kelamin": "Perempuan" if sex == 2 else "Laki-laki",
         "Tanggal Lahir": born, "Kode Kecamatan": str(kec)}
        for nik, sex, born, kec in rows
    ]  # fmt: skip
    rate = sum(r["NIK"] in nik_candidates(r, 1) for r in exposed) / len(exposed)
    assert rate > 0.9


def test_no_nik_computed_back_from_a_release(database, release):
    assert len(release) > 10_000
    by_pseudonym, _ = truth(database)
    assert all(row["NIK"] in by_pseudonym for row in release)  # every row is attacked
    for serials in (1, 3):
        rate = success(release, by_pseudonym, "NIK", lambda r, s=serials: nik_candidates(r, s))
        assert rate <= TARGET, f"{rate:.2%} of NIKs rebuilt with {serials} serial(s)"
    mothers = [row for row in release if row["NIK Ibu"]]
    assert mothers and all(row["NIK Ibu"] in by_pseudonym for row in mothers)


def test_no_family_card_number_computed_back_from_a_release(database, release):
    _, by_pseudonym = truth(database)
    assert all(row["Nomor KK"] in by_pseudonym for row in release)
    for serials in (1, 3):
        rate = success(release, by_pseudonym, "Nomor KK", lambda r, s=serials: kk_candidates(r, s))
        assert rate <= TARGET, f"{rate:.2%} of Nomor KK rebuilt with {serials} serial(s)"


def test_the_release_carries_no_identifier_structure(release):
    for row in release:
        assert re.fullmatch(r"P[0-9A-F]{16}", row["NIK"])
        assert re.fullmatch(r"K[0-9A-F]{16}", row["Nomor KK"])
        assert "Tanggal Lahir" not in row and "Tanggal Perkawinan" not in row
        assert re.fullmatch(r"\d{4}", row["Tahun Lahir"])
