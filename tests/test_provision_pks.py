"""Issue 12, item "PKS as data": the office's registry of cooperation agreements and the
provision configuration, validated (file, key and what was expected named in every refusal);
the CLI that lists and adds agreements; requests checked against the registry file."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from piak import cli
from piak.core.errors import InvalidRequest, PiakError
from piak.engines import demo_db, provision
from piak.engines.provision import config

GOOD = """\
agreements:
  - number: PKS/010/DUKCAPIL/2026
    institution: Dinas Kesehatan Kabupaten Contoh
    signed: 2026-02-01
    valid_from: 2026-02-01
    valid_to: 2027-01-31
    columns: [NAMA_LGKP, JENIS_KLMIN, TGL_LHR, NO_KEL]
"""


def write(tmp_path: Path, text: str, name: str = "pks.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_projects_own_files_load():
    registry = config.load_pks()
    assert registry.agreements and all(a.valid_from <= a.valid_to for a in registry.agreements)
    settings = config.load_settings()
    assert settings.suppression_floor == 5 and settings.pseudonym_conn_id == "piak_pseudonym"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("    columns:", "    colour: merah\n    columns:"), "agreements[0].colour: kunci tidak"),
        (("valid_to: 2027-01-31", "valid_to: 2027-13-01"), "agreements[0].valid_to: harus tanggal"),
        (("NO_KEL]", "PNYDNG_CCT]"), "agreements[0].columns: kolom PNYDNG_CCT tidak ada"),
        (("valid_from: 2026-02-01", "valid_from: 2027-06-01"), "valid_from harus sebelum"),
        (("    columns:", "    open_identity: true\n    columns:"), "memerlukan identity_clause"),
        (("number: PKS/010/DUKCAPIL/2026", "number: 'PKS;DROP'"), "agreements[0].number"),
        (("columns: [NAMA_LGKP, JENIS_KLMIN, TGL_LHR, NO_KEL]", "columns: []"),
         "agreements[0].columns: paling sedikit 1 isian"),
    ],
)  # fmt: skip
def test_a_bad_registry_is_refused_naming_file_key_and_expectation(tmp_path, change, message):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(PiakError) as err:
        config.load_pks(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)


def test_a_number_registered_twice_is_refused(tmp_path):
    entry = GOOD.split("\n", 1)[1]
    path = write(tmp_path, GOOD + entry.replace("Dinas Kesehatan", "Dinas Sosial"))
    with pytest.raises(PiakError, match=r"PKS/010/DUKCAPIL/2026.*dua kali"):
        config.load_pks(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("suppression_floor: 5", "suppression_floor: 1"),
         "suppression_floor: terlalu kecil (batas 2)"),
        (("suppression_floor: 5", "suppression_threshold: 5"),
         "suppression_threshold: kunci tidak dikenal"),
        (("conn_id: siak_db", "conn_id: 'siak db; rm -rf'"), "conn_id: bentuknya tidak sah"),
        (("  city: Contoh\n", ""), "office.city: wajib ada"),
    ],
)  # fmt: skip
def test_a_bad_provision_config_is_refused_naming_file_key_and_expectation(
    tmp_path, change, message
):
    text = (config.provision_file()).read_text(encoding="utf-8")
    assert change[0] in text
    path = write(tmp_path, text.replace(*change), "provision.yaml")
    with pytest.raises(PiakError) as err:
        config.load_settings(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)


def test_cli_lists_and_adds_agreements(tmp_path, monkeypatch, capsys):
    path = write(tmp_path, GOOD)
    monkeypatch.setenv("PIAK_PKS_FILE", str(path))
    add = ["pks", "add", "--number", "PKS/011/DUKCAPIL/2026", "--institution",
           "BPJS Kesehatan Cabang Contoh", "--signed", "2026-03-01", "--valid-from", "2026-03-01",
           "--valid-to", "2028-02-29", "--columns", "NIK", "NAMA_LGKP", "--open-identity",
           "--identity-clause", "Pasal 4 ayat (2)"]  # fmt: skip
    assert cli.main(add) == 0
    assert "PKS/011/DUKCAPIL/2026" in capsys.readouterr().out
    registry = config.load_pks(path)
    added = registry.find("pks/011/dukcapil/2026")
    assert added and added.open_identity and added.columns == ("NIK", "NAMA_LGKP")
    assert cli.main(["pks", "list"]) == 0
    listed = capsys.readouterr().out
    assert "PKS/010/DUKCAPIL/2026" in listed and "Pasal 4 ayat (2)" in listed
    assert cli.main(["pks", "list", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    before = path.read_bytes()
    assert cli.main(add) == 2
    assert "sudah terdaftar" in capsys.readouterr().err
    bad = [*add[:3], "PKS/012/DUKCAPIL/2026", *add[4:]]
    bad[bad.index("NAMA_LGKP")] = "PNYDNG_CCT"
    assert cli.main(bad) == 2
    assert "columns: kolom PNYDNG_CCT" in capsys.readouterr().err
    assert path.read_bytes() == before  # nothing written on a refusal


@pytest.fixture(scope="module")
def regions(tmp_path_factory):
    path = tmp_path_factory.mktemp("siak") / "siak.db"
    demo_db.generate(path, residents=300, seed=5)
    with sqlite3.connect(path) as conn:
        return provision.load_regions(conn)


def test_individual_requests_are_checked_against_the_registry_file(tmp_path, monkeypatch, regions):
    monkeypatch.setenv("PIAK_PKS_FILE", str(write(tmp_path, GOOD)))
    base = {
        "nama_pemohon": "dr. Ani Lestari", "instansi": "dinas kesehatan  kabupaten contoh",
        "nomor_surat": "440/7/DINKES/2026", "tanggal_surat": "2026-11-02",
        "keperluan": "Sasaran imunisasi per desa", "kontak": "ani@dinkes.contoh.go.id",
        "jenis_data": "perseorangan", "nomor_pks": "PKS/010/DUKCAPIL/2026",
        "kolom": ["NAMA_LGKP", "TGL_LHR"],
    }  # fmt: skip
    request = provision.validate_request(base, region_lookup=regions, today=date(2026, 11, 25))
    assert request.agreement.number == "PKS/010/DUKCAPIL/2026"
    assert request.pks_date == date(2026, 2, 1) and request.coarsened == ("TGL_LHR",)
    refusals = {
        "nomor_pks": ({"nomor_pks": "PKS/999/DUKCAPIL/2026"}, "tidak terdaftar"),
        "instansi": ({"instansi": "Dinas Sosial Kabupaten Contoh"}, "bukan instansi pemohon"),
        "kolom": ({"kolom": ["NAMA_LGKP", "ALAMAT"]}, "ALAMAT tidak diizinkan oleh PKS"),
        "tanggal": ({"tanggal_surat": "2026-01-15"}, "tidak berlaku pada tanggal surat"),
    }
    for change, message in refusals.values():
        with pytest.raises(InvalidRequest, match=message):
            provision.validate_request({**base, **change}, region_lookup=regions,
                                       today=date(2026, 11, 25))  # fmt: skip
    with pytest.raises(InvalidRequest, match="tidak berlaku pada hari ini"):
        provision.validate_request(base, region_lookup=regions, today=date(2027, 2, 1))
