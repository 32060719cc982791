"""The office's regions in the data request form (``config/regions.yaml``,
``piak.engines.provision.regions``): the committed file is the embedded default's SIAK, the form
offers its kecamatan and kelurahan by code and name, refuses a code that is not the office's, and
takes "none chosen" as the whole kabupaten; a broken file is refused naming the key."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml
from airflow.sdk import Param
from airflow.sdk.definitions.param import ParamValidationError

from piak.core.config import ConfigError
from piak.engines import demo_db, provision, siak_db
from piak.engines.provision import regions

ROOT = regions.settings.PROJECT_ROOT


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory):
    path = tmp_path_factory.mktemp("siak") / "siak.db"
    demo_db.generate(path, residents=500, seed=1)
    return path


def form(field: str) -> Param:
    return Param(**provision.params_schema()[field])


def test_the_committed_file_is_the_demo_siak_s_regions(demo_database, tmp_path):
    out = tmp_path / "regions.yaml"
    command = [sys.executable, "-m", "piak", "regions", "--sqlite", str(demo_database)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "include"))
    printed = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    assert printed == (ROOT / "config" / "regions.yaml").read_text(), (
        "config/regions.yaml is stale: python -m piak regions --sqlite <demo db> --write"
    )
    with siak_db.connect_sqlite(demo_database) as conn:
        written = regions.write(regions.from_siak(provision.load_regions(conn)), out)
    assert regions.load(written) == regions.load(ROOT / "config" / "regions.yaml")


def test_the_form_offers_the_office_s_regions_by_code_and_name():
    kecamatan = provision.params_schema()["kecamatan"]
    assert kecamatan["values_display"]["99.01.03"] == "99.01.03 Contoh Timur"
    assert kecamatan["examples"] == kecamatan["items"]["enum"]
    kelurahan = provision.params_schema()["kelurahan"]
    assert kelurahan["values_display"]["99.01.01.1001"] == "99.01.01.1001 Kauman (Kec. Contoh Kota)"
    assert form("kecamatan").resolve(["99.01.03", "99.01.01"]) == ["99.01.03", "99.01.01"]


@pytest.mark.parametrize(
    "value", [["99.01.99"], ["01"], ["Contoh Timur"], ["99.01.03", "99.01.03"]]
)
def test_a_code_that_is_not_the_office_s_is_refused_by_the_form(value):
    with pytest.raises(ParamValidationError):
        form("kecamatan").resolve(value)


def test_none_chosen_is_the_whole_kabupaten_and_not_required():
    assert "null" in provision.params_schema()["kecamatan"]["type"]
    assert form("kecamatan").resolve(None) is None
    assert form("kelurahan").resolve([]) == []


def test_without_the_file_codes_are_typed(tmp_path, monkeypatch):
    monkeypatch.setenv("PIAK_REGIONS_FILE", str(tmp_path / "none.yaml"))
    kecamatan = provision.params_schema()["kecamatan"]
    assert "enum" not in kecamatan["items"] and "contoh 99.01.03" in kecamatan["description"]
    assert form("kecamatan").resolve(["01"]) == ["01"]  # checked against SIAK by the first task


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"kecamatan": {"99.1.3": "X"}}, "kecamatan.99.1.3.[key]"),
        ({"kecamatan": {}}, "kecamatan"),
        ({"kabupaten": ""}, "kabupaten"),
        ({"desa": {}}, "desa"),
    ],
)
def test_a_broken_file_is_refused_naming_the_key(tmp_path, change, fragment):
    data = yaml.safe_load((ROOT / "config" / "regions.yaml").read_text()) | change
    path = tmp_path / "regions.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as error:
        regions.load(path)
    assert str(path) in str(error.value) and fragment in str(error.value)
