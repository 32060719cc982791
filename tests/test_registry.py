"""The SOP registry against the seed: step counts, roles, decisions, standard times; and the
loader's refusal of malformed files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from piak.core import registry
from piak.core.errors import RegistryError
from piak.core.registry import StandardTime

ROOT = Path(__file__).resolve().parents[1]

# Transcribed independently from the seed's SOP tables: per step (role, decision, minutes).
# Minutes: None when the seed gives no time, an int for "N Menit", (min, max) for a range.
A, JFU, KASI, KABID, SEK, KADIS, PTG = (
    "administrator",
    "jfu",
    "kasi",
    "kabid",
    "sekretaris",
    "kadis",
    "petugas",
)
SEED = {
    "backup_database": (
        "Prosedur Backup database",
        [
            (A, False, None),
            (A, False, (10, 30)),
            (A, False, 5),
            (A, False, 5),
            (A, False, 10),
            (KASI, False, 5),
            (KABID, False, 5),
            (KABID, False, 5),
        ],
    ),
    "access_rights": (
        "Prosedur Pemberian Hak Akses Aplikasi SIAK dan KTPEL",
        [
            (KASI, False, 10),
            (KABID, False, 10),
            (KADIS, True, 10),
            (KABID, False, 5),
            (KASI, False, 20),
        ],
    ),
    "helpdesk": (
        "Prosedur Layanan Bantuan dan Gangguan SIAK",
        [
            (JFU, False, 5),
            (KASI, True, 5),
            (KABID, True, 5),
            (KASI, False, 2),
            (PTG, False, 24 * 60),
            (JFU, False, 5),
        ],
    ),
    "data_provision": (
        "Pelayanan Penyajian Data Kependudukan",
        [
            (JFU, False, 5),
            (SEK, False, 5),
            (KABID, False, 5),
            (KASI, True, 5),
            (A, False, 2 * 24 * 60),
            (KASI, False, 5),
            (KABID, False, 5),
            (SEK, False, 5),
            (KADIS, True, 15),
            (JFU, False, 10),
            (KASI, False, 10),
        ],
    ),
    "network_maintenance": (
        "Pemeliharaan Jaringan",
        [
            (JFU, False, None),
            (JFU, False, 5),
            (JFU, False, 10),
            (JFU, False, 10),
            (JFU, False, 5),
            (JFU, True, 5),
            (KASI, False, 5),
            (KABID, False, 5),
            (KABID, False, 5),
            (JFU, False, None),
        ],
    ),
    "out_of_policy_usage": (
        "Prosedur Penanganan Penggunaan diluar Ketentuan",
        [
            (A, False, None),
            (KASI, False, 5),
            (KABID, False, 5),
            (KADIS, False, 5),
            (A, False, 10),
            (A, False, None),
        ],
    ),
    "database_recovery": (
        "Recovery Database",
        [
            (A, False, None),
            (A, False, 10),
            (A, False, 2),
            (A, False, 5),
            (A, False, 10),
            (A, False, 5),
            (KASI, False, 5),
            (KABID, False, 5),
            (KABID, False, 5),
        ],
    ),
}


def _minutes(value):
    if value is None:
        return None
    low, high = value if isinstance(value, tuple) else (value, value)
    return StandardTime(low, high)


def test_the_seven_sops_in_order():
    assert [s.code for s in registry.load_registry()] == list(SEED)


@pytest.mark.parametrize("code", list(SEED))
def test_sop_matches_the_seed(code):
    title, expected = SEED[code]
    sop = registry.get_sop(code)
    assert sop.title == title
    assert len(sop.steps) == len(expected)
    actual = [(s.role, s.decision, s.standard_time) for s in sop.steps]
    assert actual == [(role, dec, _minutes(m)) for role, dec, m in expected]
    assert [s.number for s in sop.steps] == list(range(1, len(expected) + 1))
    assert all(s.role in sop.performers for s in sop.steps)


def test_every_sop_lists_its_fixes_to_the_seed():
    fixed = {s.code: " ".join(f["fix"] for f in s.fixes) for s in registry.load_registry()}
    assert "twice" in fixed["data_provision"]
    assert "shifted" in fixed["out_of_policy_usage"]
    assert "MULAI" in fixed["database_recovery"]
    assert "no symbols" in fixed["backup_database"]
    assert "no symbols" in fixed["network_maintenance"]
    assert "KPTEL" in fixed["access_rights"]
    assert "mermaid" in fixed["access_rights"]
    # Every role not read from a symbol is said to be inferred.
    for code in ("backup_database", "network_maintenance", "out_of_policy_usage", "access_rights"):
        assert "inferred" in fixed[code], code
    for sop in registry.load_registry():
        for fix in sop.fixes:
            assert fix["step"] == "table" or 1 <= fix["step"] <= len(sop.steps)


def test_fixed_texts_are_clean():
    """No HTML, bullets or run-together lists survive from the seed."""
    for sop in registry.load_registry():
        for step in sop.steps:
            for text in (step.activity, step.completeness, step.output):
                if text is not None:
                    assert "<" not in text and not text.startswith(("-", "'")), (sop.code, text)
    access = registry.get_sop("access_rights")
    assert "KPTEL" not in access.step(3).activity
    assert access.step(5).output == "Hak Akses; Pakta integritas"
    assert registry.get_sop("out_of_policy_usage").step(4).output == "laporan"
    assert registry.get_sop("helpdesk").step(1).completeness == "Aplikasi SIAK; Print Out Keluhan"


def test_default_registry_is_loaded_once():
    assert registry.load_registry()[0] is registry.load_registry()[0]
    assert registry.get_sop("helpdesk") is registry.load_registry()[2]


def test_verbatim_texts_are_kept():
    backup = registry.get_sop("backup_database")
    assert backup.step(2).activity == "membuka file backup.bat di server dan jalankan"
    assert backup.step(2).time_text == "10 - 30 Menit"
    assert backup.step(2).output == "file backup dmp"
    assert registry.get_sop("helpdesk").step(6).output == "Bukti sudah ditindak lanjuti"
    assert registry.get_sop("database_recovery").step(1).completeness == (
        "Menentukan database yg akan direcovery"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5 Menit", StandardTime(5, 5)),
        ("5 menit", StandardTime(5, 5)),
        ("10 - 30 Menit", StandardTime(10, 30)),
        ("10-30 menit", StandardTime(10, 30)),
        ("2 Hari", StandardTime(2880, 2880)),
        ("1 hari", StandardTime(1440, 1440)),
        ("1 Jam", StandardTime(60, 60)),
        (None, None),
        ("  ", None),
    ],
)
def test_parse_standard_time(text, expected):
    assert registry.parse_standard_time(text) == expected


@pytest.mark.parametrize("text", ["lima menit", "5 minggu", "30 - 10 Menit", "5"])
def test_bad_standard_time_is_refused(text):
    with pytest.raises(RegistryError):
        registry.parse_standard_time(text)


def _piak(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "piak", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "include")),
        timeout=60,
    )


def test_sops_json_shape():
    result = _piak("sops", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [s["code"] for s in data] == list(SEED)
    for sop in data:
        assert set(sop) == {"code", "title", "steps"}
        for step in sop["steps"]:
            assert set(step) == {
                "number",
                "activity",
                "role",
                "decision",
                "standard_time",
                "completeness",
                "output",
            }
            assert isinstance(step["decision"], bool)
            assert step["standard_time"] is None or set(step["standard_time"]) == {
                "min_minutes",
                "max_minutes",
            }
            assert isinstance(step["number"], int)
            assert isinstance(step["activity"], str)
            assert step["completeness"] is None or isinstance(step["completeness"], str)
            assert step["output"] is None or isinstance(step["output"], str)
        title, expected = SEED[sop["code"]]
        assert sop["title"] == title
        assert [(s["role"], s["decision"]) for s in sop["steps"]] == [
            (role, dec) for role, dec, _ in expected
        ]
    backup = data[0]["steps"][1]
    assert backup["standard_time"] == {"min_minutes": 10, "max_minutes": 30}
    assert data[3]["steps"][4]["standard_time"] == {"min_minutes": 2880, "max_minutes": 2880}
    assert "Kependudukan" in result.stdout  # ensure_ascii=False keeps the text readable


def test_sops_text_lists_every_title():
    result = _piak("sops")
    assert result.returncode == 0, result.stderr
    for title, _ in SEED.values():
        assert title in result.stdout
    assert "10 - 30 Menit" in result.stdout
    assert result.stdout.count("◊") >= 7  # the six decisions and the legend


def _broken_copy(tmp_path: Path, code: str, old: str, new: str) -> Path:
    folder = tmp_path / "sops"
    shutil.copytree(registry.SOPS_DIR, folder)
    path = folder / f"{code}.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return folder


@pytest.mark.parametrize(
    ("code", "old", "new", "field"),
    [
        ("helpdesk", "role: kasi", "role: kasih", "steps[1].role"),
        ("helpdesk", "role: petugas", "role: kadis", "steps[4].role"),
        ("backup_database", "    time: 5 menit\n", "", "steps[2].time"),
        ("backup_database", "number: 3", "number: 4", "steps[2].number"),
        ("helpdesk", "time: 1 hari", "time: sehari", "steps[4].time"),
        ("helpdesk", "decision: true", "decision: ya", "steps[1].decision"),
        ("helpdesk", "code: helpdesk", "code: bantuan", "code"),
        (
            "helpdesk",
            "    output: Jawaban\n",
            "    output: Jawaban\n    owner: x\n",
            "steps[1].owner",
        ),
        ("helpdesk", "title: Prosedur", "judul: Prosedur", "title"),
        ("helpdesk", "number: 2", "number: '2'", "steps[1].number"),
        ("helpdesk", "number: 2", "number: 2.0", "steps[1].number"),
        ("helpdesk", "number: 6", "number: 7", "steps[5].number"),
        ("helpdesk", "time: 2 Menit", "time: 2", "steps[3].time"),
        ("helpdesk", "output: Jawaban/Disposisi", "output: 5", "steps[2].output"),
        ("helpdesk", "activity: Arsip", "activity: ''", "steps[5].activity"),
        ("helpdesk", "    role: jfu\n", "    role: jfu\n    role: kasi\n", "ditulis dua kali"),
        (
            "helpdesk",
            "  petugas: Petugas",
            "  petugas: Petugas\n  camat: Camat",
            "performers.camat",
        ),
        ("helpdesk", "  - step: 1\n", "  - step: 9\n", "fixes[0].step"),
        ("helpdesk", "  - step: 1\n    fix:", "  - step: 1\n    why:", "fixes[0].fix"),
        ("helpdesk", "order: 3", "order: 2", "order"),
        ("helpdesk", "steps:", "steps: [", "bukan YAML"),
    ],
)
def test_malformed_registry_file_names_file_and_field(tmp_path, code, old, new, field):
    folder = _broken_copy(tmp_path, code, old, new)
    with pytest.raises(RegistryError) as error:
        registry.load_registry(folder)
    message = str(error.value)
    assert message.startswith(f"{code}.yaml: "), message
    assert field in message, message


def test_unknown_sop_and_step_are_clear_errors():
    with pytest.raises(RegistryError, match="SOP tidak dikenal: 'backup'"):
        registry.get_sop("backup")
    with pytest.raises(RegistryError, match="tidak punya langkah 9"):
        registry.get_sop("backup_database").step(9)
