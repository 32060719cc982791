"""Population data provision end to end on the embedded demo database: the approval chain
answered through the REST API by the right users (approve path, rejection at step 2, return at
step 4, Kadis return at step 9), the files, manifest, letter, package and agenda checked.

The four requests run at the same time (each waits for people, so together they take the time
of the longest)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

DAG = "data_provision"
REQUEST = {
    "nama_pemohon": "Budi Santoso",
    "instansi": "Badan Pusat Statistik Kabupaten Contoh",
    "nomor_surat": "005/BPS/XI/2026",
    "tanggal_surat": "2026-11-20",
    "keperluan": "penyusunan publikasi Kabupaten Contoh Dalam Angka",
    "kontak": "0812-3456-7890",
    "jenis_data": "agregat",
    "kecamatan": ["01", "02"],
    "tanggal_data": "2026-06-30",
    "format": "csv",
}
CHAIN = [
    ("dispose_request", "sekretaris", "Disposisi ke Kabid", {}),
    ("review_request", "kabid", "Teruskan ke Kasi", {}),
    ("decide_request", "kasi", "Lanjutkan: siapkan data", {}),
    ("check_data", "kasi", "Sesuai: teruskan untuk paraf Kabid", {}),
    ("initial_by_kabid", "kabid", "Paraf", {}),
    ("initial_by_sekretaris", "sekretaris", "Paraf", {}),
    ("sign_by_kadis", "kadis", "Tandatangani", {}),
    ("number_letter", "jfu", None, {"nomor_surat_keluar": "470/123/DISDUKCAPIL/2026"}),
]


#: One answer at a time: the embedded default keeps Airflow's metadata in SQLite, where two
#: answers written in the same instant can fail with HTTP 500 (see the README).
ANSWERING = threading.Lock()


def drive(airflow, run_id: str, answers: list[tuple]) -> str:
    """Answer the run's sign-offs in order as the given users; return the run's end state."""
    for task_id, user, option, fields in answers:
        airflow.wait_task(DAG, run_id, task_id, {"awaiting_input"}, timeout=300)
        options = [option] if option else ["OK"]
        with ANSWERING:
            response = airflow.answer(user, DAG, run_id, task_id, options, fields)
        assert response.status_code == 200, (task_id, response.text)
    return airflow.wait_run(DAG, run_id, timeout=300)


def request_folder(airflow, run_id: str) -> Path:
    number = next(e for e in airflow.agenda(run_id) if e.task_id == "record_request").output_ref
    return airflow.piak_home / "storage" / "provision" / number


def test_the_approval_chain_and_its_endings(airflow):
    runs = {
        name: airflow.trigger(DAG, REQUEST, user="jfu") for name in ("approve", "r2", "r4", "r9")
    }
    scripts = {
        "approve": CHAIN,
        "r2": [("dispose_request", "sekretaris", "Tolak", {"catatan": "bukan kewenangan kami"})],
        "r4": [
            *CHAIN[:2],
            (
                "decide_request",
                "kasi",
                "Kembalikan ke pemohon untuk klarifikasi",
                {"catatan": "sebutkan tabel yang diperlukan"},
            ),
        ],
        "r9": [*CHAIN[:6], ("sign_by_kadis", "kadis", "Kembalikan", {"catatan": "perbaiki surat"})],
    }
    with ThreadPoolExecutor(max_workers=4) as pool:
        states = dict(
            zip(
                runs,
                pool.map(lambda name: drive(airflow, runs[name], scripts[name]), runs),
                strict=True,
            )
        )
    assert states == dict.fromkeys(runs, "success")
    check_released(airflow, runs["approve"])
    check_closed(airflow, runs["r2"], "dispose_request", "rejected", "bukan kewenangan kami")
    check_closed(airflow, runs["r4"], "decide_request", "returned", "sebutkan tabel")
    check_closed(airflow, runs["r9"], "sign_by_kadis", "returned", "perbaiki surat")


def check_released(airflow, run_id: str) -> None:
    folder = request_folder(airflow, run_id)
    manifest = json.loads((folder / "data" / "manifest.json").read_text())
    for entry in manifest["files"]:
        data = (folder / "data" / entry["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    # The aggregates equal plain SQL on the same database (active residents born and entered
    # by the as-of date, in the two kecamatan asked for).
    with sqlite3.connect(airflow.piak_home / "siak_demo.db") as db:
        counts = db.execute(
            "SELECT NO_KEC, JENIS_KLMIN, count(*) FROM BIODATA_WNI WHERE FLAG_STATUS = '0' "
            "AND TGL_LHR <= '2026-06-30' AND (TGL_ENTRI IS NULL OR TGL_ENTRI <= '2026-06-30') "
            "AND NO_KEC IN (1, 2) GROUP BY NO_KEC, JENIS_KLMIN"
        ).fetchall()
    by_kec = {(kec, sex): n for kec, sex, n in counts}
    table = (folder / "data" / "kecamatan_jenis_kelamin.csv").read_text(encoding="utf-8-sig")
    for kec in (1, 2):
        men, women = by_kec[kec, 1], by_kec[kec, 2]
        row = next(line for line in table.splitlines() if line.startswith(f"99.01.{kec:02d},"))
        assert row.endswith(f",{men},{women},{men + women}"), (row, men, women)

    letter = (folder / "surat_balasan.pdf").read_bytes()
    assert letter.startswith(b"%PDF") and (folder / "surat_balasan_draf.pdf").exists()
    package = folder / f"{folder.name}.zip"
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
    assert {"surat_balasan.pdf", "data/manifest.json"} <= names
    archived = airflow.piak_home / "storage" / "archive" / "provision" / folder.name[3:7]
    assert (archived / package.name).read_bytes() == package.read_bytes()

    entries = airflow.agenda(run_id)
    assert {e.step_number for e in entries} == set(range(1, 12))
    by_task = {e.task_id: e for e in entries}
    assert by_task["sign_by_kadis"].actor == "kadis"
    assert by_task["number_letter"].actor == "jfu"
    assert "470/123/DISDUKCAPIL/2026" in by_task["pack_release"].note
    assert airflow.task_state(DAG, run_id, "close_request") == "skipped"


def check_closed(airflow, run_id: str, task_id: str, outcome: str, note: str) -> None:
    by_task = {e.task_id: e for e in airflow.agenda(run_id)}
    assert by_task[task_id].outcome == outcome
    closing = by_task["close_request"]
    assert (closing.outcome, closing.step_number) == (outcome, 11)
    assert note in closing.note and "tidak ada data yang diserahkan" in closing.note
    assert airflow.task_state(DAG, run_id, "pack_release") == "skipped"
    assert "archive_release" not in by_task
    folder = request_folder(airflow, run_id)
    assert not (folder / f"{folder.name}.zip").exists()


def test_a_bad_request_is_refused_before_any_step(airflow):
    bad = {**REQUEST, "jenis_data": "perseorangan"}  # individual data without a PKS
    run_id = airflow.trigger(DAG, bad, user="jfu")
    airflow.wait_task(DAG, run_id, "record_request", {"failed"}, timeout=120)
    log = airflow.task_log(DAG, run_id, "record_request")
    assert "PKS" in log
    assert airflow.task_state(DAG, run_id, "dispose_request") in ("upstream_failed", None)
