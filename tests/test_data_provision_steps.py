"""The steps of data_provision on a real demo SIAK database (through its Airflow Connection):
what the approvers see holds no resident's data; the letter carries the same summary and the
manifest's SHA-256; the hand-over re-checks every file against the manifest first."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import zipfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import py7zr
import pytest
from pdf_helpers import pdf_text

from piak.core.errors import PiakError
from piak.engines import demo_db, encryption
from piak.sops import data_provision

PKS = """\
agreements:
  - number: PKS/001/DUKCAPIL/2025
    institution: Universitas Contoh / Fakultas Kesehatan
    signed: 2025-03-01
    valid_from: 2025-03-01
    valid_to: 2099-12-31
    columns: [NIK, NO_KK, NAMA_LGKP, JENIS_KLMIN, TGL_LHR, NO_KEC, NO_KEL, NAMA_KEL]
"""
REQUEST = {
    "nama_pemohon": "Dr. Sari Wulandari", "instansi": "Universitas Contoh / Fakultas Kesehatan",
    "nomor_surat": "470/123/UC/2026", "tanggal_surat": "2026-11-20",
    "keperluan": "Penelitian gizi balita tingkat desa", "kontak": "+62 812-3456-7890",
    "jenis_data": "perseorangan", "nomor_pks": "PKS/001/DUKCAPIL/2025",
    "kolom": ["NIK", "NO_KK", "NAMA_LGKP", "JENIS_KLMIN", "TGL_LHR", "NO_KEL"],
    "kecamatan": ["99.01.03"], "tanggal_data": "2026-06-30", "format": "csv",
}  # fmt: skip


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    database = tmp_path / "siak_demo.db"
    demo_db.generate(database, residents=2_000, seed=4)
    (tmp_path / "pks.yaml").write_text(PKS)
    monkeypatch.setenv("PIAK_HOME", str(tmp_path))
    monkeypatch.setenv("PIAK_PKS_FILE", str(tmp_path / "pks.yaml"))
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIAK_DB", json.dumps({"conn_type": "sqlite", "host": str(database)})
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_PIAK_PSEUDONYM",
        json.dumps({"conn_type": "generic", "password": "rahasia-kantor-uji-0123456789"}),
    )
    return tmp_path


def context(params: dict) -> dict:
    return {
        "run_id": "manual__2026-11-25T02:00:00+00:00",
        "logical_date": datetime(2026, 11, 25, 9, 0, tzinfo=ZoneInfo("Asia/Jakarta")),
        "params": params,
    }


def residents(home: Path) -> tuple[set[str], set[str]]:
    with sqlite3.connect(home / "siak_demo.db") as conn:
        rows = conn.execute("SELECT NIK, NO_KK, NAMA_LGKP FROM BIODATA_WNI").fetchall()
    return {r[0] for r in rows} | {r[1] for r in rows}, {r[2] for r in rows}


def run_to_draft(home: Path, **changes) -> tuple[dict, dict, Path]:
    ctx = context({**REQUEST, **changes})
    recorded = data_provision.record_request(ctx)
    prepared = data_provision.prepare_data(ctx)
    data_provision.draft_letter(ctx)
    return recorded, prepared, home / "storage" / "provision" / recorded["number"]


def test_what_the_approvers_see_is_the_request_never_a_resident(home):
    recorded, prepared, folder = run_to_draft(home)
    summary = dict(recorded["summary"])
    assert summary["Pemohon"] == REQUEST["nama_pemohon"]
    assert summary["Jenis data"] == "Data perseorangan"
    assert summary["Identitas dibuka"] == "tidak ada"
    assert summary["Identitas diganti pseudonim"] == "NIK, Nomor KK"
    assert summary["Tanggal hanya tahunnya"] == "Tanggal Lahir"
    assert summary["Ambang sel kecil"].startswith("5 ")
    assert "PKS/001/DUKCAPIL/2025" in summary["PKS"]
    assert "Nama Lengkap" in summary["Kolom"] and summary["Format"] == "CSV (UTF-8)"
    rows = prepared["row_counts"]["perseorangan"]
    assert summary["Perkiraan jumlah"].startswith(f"{rows:,}".replace(",", "."))
    assert prepared["k_anonymity"]["rows"] == rows and prepared["k_anonymity"]["k"] >= 1
    identifiers, names = residents(home)
    shown = json.dumps([recorded, prepared, data_provision.signoff_show("sign_by_kadis", True)])
    assert not {v for v in re.findall(r"\d{16}", shown)} & identifiers
    assert not [n for n in names if n in shown]
    assert "Cuplikan" not in shown  # no preview of resident rows any more
    # the data itself is where the release is: pseudonyms, no real NIK
    data = (folder / "data" / "perseorangan.csv").read_text(encoding="utf-8-sig")
    assert not set(re.findall(r"\d{16}", data)) & identifiers


def test_the_letter_states_the_summary_and_the_manifest_sha256(home):
    recorded, prepared, folder = run_to_draft(home)
    manifest = folder / "data" / "manifest.json"
    digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
    assert prepared["manifest_sha256"] == digest
    result = data_provision.hand_over(
        folder,
        data_provision.load_config(),
        "470/9/DISDUKCAPIL/2026",
        datetime(2026, 11, 26).date(),
    )
    for name in ("surat_balasan_draf.pdf", "surat_balasan.pdf"):
        text = pdf_text(folder / name)
        assert digest in text, name
        assert "Ringkasan data yang diberikan" in text and "pseudonim" in text
    assert result["manifest_sha256"] == digest
    package = folder / f"{recorded['number']}.7z"  # individual data: never a plain zip
    assert result["password"] is True and not (folder / f"{recorded['number']}.zip").exists()
    password = data_provision.package_password(folder)
    assert oct((folder / data_provision.PASSWORD_FILE).stat().st_mode & 0o777) == "0o600"
    assert password not in json.dumps(result)
    with py7zr.SevenZipFile(package, "r", password=password) as archive:
        archive.extractall(path=folder / "dibuka")
    assert (folder / "dibuka" / "data" / "manifest.json").read_bytes() == manifest.read_bytes()
    assert data_provision.package_of(folder) == package


def test_an_individual_pack_holds_no_readable_resident_data(home):
    """Whatever the PKS opens - here NIK and names - the pack's bytes show none of it."""
    (home / "pks.yaml").write_text(PKS.replace("    columns:", "    open_identity: true\n"
        "    identity_clause: Pasal 4 ayat (2)\n    columns:"))  # fmt: skip
    _, _, folder = run_to_draft(home, identitas_terbuka=["NIK"])
    data_provision.hand_over(
        folder, data_provision.load_config(), "470/9/DISDUKCAPIL/2026",
        datetime(2026, 11, 26).date(),
    )  # fmt: skip
    released = (folder / "data" / "perseorangan.csv").read_text(encoding="utf-8-sig")
    identifiers, names = residents(home)
    shown = set(re.findall(r"\d{16}", released)) & identifiers
    assert shown, "this PKS opens identity: the release itself holds real NIKs"
    packed = data_provision.package_of(folder).read_bytes()
    assert not [nik for nik in shown if nik.encode() in packed]
    assert not [n for n in names if n in released and n.encode() in packed]


def test_an_institution_with_an_age_key_gets_its_pack_encrypted_to_it(home):
    private, public = encryption.generate()
    (home / "pks.yaml").write_text(PKS + f"    recipient: {public}\n")
    recorded, _, folder = run_to_draft(home)
    result = data_provision.hand_over(
        folder, data_provision.load_config(), "470/9/DISDUKCAPIL/2026",
        datetime(2026, 11, 26).date(),
    )  # fmt: skip
    package = folder / f"{recorded['number']}.zip.age"
    assert result["password"] is False and package.exists()
    assert data_provision.package_password(folder) is None
    opened = folder / "dibuka.zip"
    encryption.decrypt_file(package, opened, [encryption.identity(private)])
    with zipfile.ZipFile(opened) as archive:
        assert "data/manifest.json" in archive.namelist()


@pytest.mark.parametrize("damage", ["changed", "added", "removed"])
def test_the_hand_over_refuses_data_that_no_longer_matches_the_manifest(home, damage):
    recorded, _, folder = run_to_draft(home)
    data = folder / "data"
    if damage == "changed":
        with (data / "perseorangan.csv").open("a") as handle:
            handle.write("P0000000000000000,BARIS SELIPAN\n")
    elif damage == "added":
        (data / "tambahan.csv").write_text("isi lain")
    else:
        (data / "perseorangan.csv").unlink()
    with pytest.raises(PiakError, match="tidak cocok dengan manifest") as err:
        data_provision.hand_over(
            folder, data_provision.load_config(), "470/9/DISDUKCAPIL/2026",
            datetime(2026, 11, 26).date(),
        )  # fmt: skip
    assert ("tambahan.csv" if damage == "added" else "perseorangan.csv") in str(err.value)
    assert not (folder / f"{recorded['number']}.zip").exists()
    assert not (folder / "surat_balasan.pdf").exists()
