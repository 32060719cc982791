"""Population data provision end to end on the embedded demo database: the approval chain
answered through the REST API by the right users (approve path, rejection at step 2, return at
step 4, Kadis return at step 9, and an individual request under a PKS), the files, manifest,
letter, package and agenda checked; no resident's NIK or name anywhere outside the release (task
logs, XCom, rendered fields, sign-off details, agenda); the request's pages behind Airflow's own
login (plugin), showing every approver the earlier decisions.

The five requests run at the same time (each waits for people, so together they take the time
of the longest)."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

# the figures are compared with the SIAK demo database as it was when they were extracted
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("usual_siak")]

DAG = "data_provision"
REQUEST = {
    "nama_pemohon": "Budi Santoso",
    "instansi": "Badan Pusat Statistik Kabupaten Contoh",
    "nomor_surat": "005/BPS/XI/2026",
    "tanggal_surat": "2026-11-20",
    "keperluan": "penyusunan publikasi Kabupaten Contoh Dalam Angka",
    "kontak": "0812-3456-7890",
    "jenis_data": "agregat",
    "kecamatan": ["99.01.01", "99.01.02"],
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

INDIVIDUAL = {
    "nama_pemohon": "Prof. Wibisana Kartohadiprodjo",
    "instansi": "Universitas Contoh / Fakultas Kesehatan",
    "nomor_surat": "470/77/UC/2026",
    "tanggal_surat": "2026-11-20",
    "keperluan": "penelitian gizi balita tingkat desa",
    "kontak": "peneliti@contoh.ac.id",
    "jenis_data": "perseorangan",
    "nomor_pks": "PKS/001/DUKCAPIL/2025",
    "kolom": ["NIK", "NO_KK", "NAMA_LGKP", "JENIS_KLMIN", "TGL_LHR", "NO_KEC", "NO_KEL"],
    "kecamatan": ["99.01.03"],
    "tanggal_data": "2026-06-30",
    "format": "csv",
}
NOTES = {"dispose_request": "cek PKS dan kolomnya", "check_data": "sesuai PKS pasal 3"}
INDIVIDUAL_CHAIN = [
    *(
        (task, user, option, {"catatan": NOTES[task]} if task in NOTES else fields)
        for task, user, option, fields in CHAIN
    ),
    # a password-protected pack: the JFU records how its password went to the applicant
    (
        "record_password_delivery",
        "jfu",
        None,
        {"disampaikan_melalui": "telepon", "disampaikan_kepada": "Prof. Wibisana"},
    ),
]
PAGES = "/piak/penyajian-data"


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


@pytest.fixture(scope="module")
def finished(airflow) -> dict[str, str]:
    """Five requests driven to their end at once: name -> run id."""
    runs = {
        name: airflow.trigger(DAG, REQUEST, user="jfu") for name in ("approve", "r2", "r4", "r9")
    }
    runs["individual"] = airflow.trigger(DAG, INDIVIDUAL, user="jfu")
    scripts = {
        "individual": INDIVIDUAL_CHAIN,
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
    with ThreadPoolExecutor(max_workers=5) as pool:
        states = dict(
            zip(
                runs,
                pool.map(lambda name: drive(airflow, runs[name], scripts[name]), runs),
                strict=True,
            )
        )
    assert states == dict.fromkeys(runs, "success")
    return runs


def test_the_approval_chain_and_its_endings(airflow, finished):
    runs = finished
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
    # no small count anywhere in the release, kecamatan tables included
    for path in (folder / "data").glob("*.csv"):
        for line in path.read_text(encoding="utf-8-sig").splitlines()[1:]:
            counts = [c for c in line.split(",")[2:] if c.isdigit()]
            assert all(int(c) == 0 or int(c) >= 5 for c in counts), (path.name, line)
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
    manifest_sha = hashlib.sha256((folder / "data" / "manifest.json").read_bytes()).hexdigest()
    assert manifest_sha in by_task["pack_release"].note  # re-verified before the zip
    assert "Ambang sel kecil: 5" in by_task["record_request"].note  # the summary, in the agenda
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


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"jenis_data": "perseorangan"}, "PKS"),  # individual data without a PKS
        ({**INDIVIDUAL, "nomor_pks": "PKS/404/DUKCAPIL/2026"}, "tidak terdaftar"),
        ({**INDIVIDUAL, "kolom": ["NIK", "ALAMAT"]}, "ALAMAT tidak diizinkan oleh PKS"),
    ],
)
def test_a_bad_request_is_refused_before_any_step(airflow, change, reason):
    run_id = airflow.trigger(DAG, {**REQUEST, **change}, user="jfu")
    airflow.wait_task(DAG, run_id, "record_request", {"failed"}, timeout=120)
    log = airflow.task_log(DAG, run_id, "record_request")
    assert reason in log
    assert airflow.task_state(DAG, run_id, "dispose_request") in ("upstream_failed", None)
    assert not [e for e in airflow.agenda(run_id) if e.outcome != "failed"]


def test_a_region_that_is_not_the_office_s_is_refused_by_the_form(airflow):
    """The form offers the office's regions only (config/regions.yaml); a code typed past it
    through the API is refused before a run exists."""
    before = airflow.api("admin", "GET", f"/dags/{DAG}/dagRuns").json()["total_entries"]
    conf = {**REQUEST, "kecamatan": ["99.01.99"]}
    body = {"logical_date": None, "conf": conf}
    response = airflow.api("jfu", "POST", f"/dags/{DAG}/dagRuns", json=body)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(
        'Isian "Kecamatan": berisi pilihan yang tidak ada di daftar.'
    )
    assert airflow.api("admin", "GET", f"/dags/{DAG}/dagRuns").json()["total_entries"] == before


# --- no personal data outside the release -----------------------------------------------------


def residents(airflow) -> tuple[set[str], set[str]]:
    """Every demo NIK / Nomor KK, and every resident's full name."""
    with sqlite3.connect(airflow.piak_home / "siak_demo.db") as db:
        rows = db.execute("SELECT NIK, NO_KK, NAMA_LGKP, NAMA_LGKP_IBU FROM BIODATA_WNI").fetchall()
    return {v for r in rows for v in r[:2]}, {v for r in rows for v in r[2:] if v}


def everything_outside_the_release(airflow, run_id: str) -> dict[str, str]:
    """Where: text of task logs (every try), XCom values, rendered fields, sign-off details
    and the agenda of one run."""
    found: dict[str, str] = {}
    tis = airflow.api("admin", "GET", f"/dags/{DAG}/dagRuns/{run_id}/taskInstances").json()
    for ti in tis["task_instances"]:
        task = ti["task_id"]
        detail = airflow.api("admin", "GET", f"/dags/{DAG}/dagRuns/{run_id}/taskInstances/{task}")
        found[f"rendered:{task}"] = json.dumps(detail.json().get("rendered_fields"))
        for attempt in range(1, (ti["try_number"] or 0) + 1):
            log = airflow.api(
                "admin", "GET",
                f"/dags/{DAG}/dagRuns/{run_id}/taskInstances/{task}/logs/{attempt}",
                params={"full_content": "true"},
            )  # fmt: skip
            found[f"log:{task}:{attempt}"] = log.text
        entries = airflow.api(
            "admin", "GET", f"/dags/{DAG}/dagRuns/{run_id}/taskInstances/{task}/xcomEntries"
        ).json()["xcom_entries"]
        for entry in entries:
            value = airflow.api(
                "admin", "GET",
                f"/dags/{DAG}/dagRuns/{run_id}/taskInstances/{task}/xcomEntries/{entry['key']}",
                params={"map_index": entry["map_index"], "stringify": "true"},
            )  # fmt: skip
            found[f"xcom:{task}:{entry['key']}"] = value.text
    hitl = airflow.api("admin", "GET", f"/dags/{DAG}/dagRuns/{run_id}/hitlDetails")
    found["hitl"] = hitl.text
    found["agenda"] = json.dumps(
        [[e.output_ref, e.note, e.actor] for e in airflow.agenda(run_id)], ensure_ascii=False
    )
    return found


def test_no_resident_data_outside_the_release(airflow, finished):
    identifiers, names = residents(airflow)
    assert INDIVIDUAL["nama_pemohon"].upper() not in names  # the applicant is not a resident
    for name in ("individual", "approve"):
        run_id = finished[name]
        places = everything_outside_the_release(airflow, run_id)
        assert len([p for p in places if p.startswith("log:")]) >= 11
        assert any(p.startswith("xcom:") for p in places) and "Surat permohonan" in places["hitl"]
        for place, text in places.items():
            upper = text.upper()
            leaked = set(re.findall(r"\d{16}", text)) & identifiers
            assert not leaked, f"{name} {place}: {sorted(leaked)[:3]}"
            named = [n for n in names if n in upper]
            assert not named, f"{name} {place}: {named[:3]}"
    # ... while the release itself holds them (pseudonymised identifiers, names per the PKS)
    folder = request_folder(airflow, finished["individual"])
    data = (folder / "data" / "perseorangan.csv").read_text(encoding="utf-8-sig")
    assert not set(re.findall(r"\d{16}", data)) & identifiers
    assert any(n in data for n in names)


def test_every_approver_sees_what_is_approved_and_the_earlier_decisions(airflow, finished):
    run_id = finished["individual"]
    details = airflow.api("admin", "GET", f"/dags/{DAG}/dagRuns/{run_id}/hitlDetails").json()
    bodies = {d["task_instance"]["task_id"]: d["body"] for d in details["hitl_details"]}
    for task, body in bodies.items():
        for shown in ("Prof. Wibisana", "Data perseorangan", "Nama Lengkap",
                      "Identitas dibuka: tidak ada", "PKS/001/DUKCAPIL/2025",
                      "Ambang sel kecil: 5", "Perkiraan jumlah", "CSV (UTF-8)", PAGES):  # fmt: skip
            assert shown in body, (task, shown)
    assert NOTES["dispose_request"] not in bodies["dispose_request"]
    for task in ("review_request", "sign_by_kadis", "number_letter"):
        assert NOTES["dispose_request"] in bodies[task] and "oleh sekretaris" in bodies[task]
    kadis = bodies["sign_by_kadis"]
    assert NOTES["check_data"] in kadis and "k-anonimitas" in kadis
    assert "SHA-256 manifest.json" in kadis


def test_the_request_pages_open_only_for_the_sops_role_holders(airflow, finished):
    folder = request_folder(airflow, finished["individual"])
    base = f"{airflow.url}{PAGES}/{folder.name}/"

    def get(path: str = "", user: str | None = "kasi", cookie: bool = False) -> requests.Response:
        if user is None:
            return requests.get(base + path, timeout=30)
        token = airflow.token(user)
        if cookie:  # the UI's session: the same JWT in the `_token` cookie
            return requests.get(base + path, cookies={"_token": token}, timeout=30)
        return requests.get(base + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    page = get()
    assert page.status_code == 200, page.text
    assert "Prof. Wibisana" in page.text and NOTES["check_data"] in page.text
    assert "k-anonimitas" in page.text and "perseorangan.csv" in page.text
    assert get(cookie=True).status_code == 200
    assert get(user=None).status_code == 401
    assert get(user="petugas").status_code == 403  # no role in this SOP
    assert get(user="admin").status_code == 403
    letter = get("surat")
    assert letter.status_code == 200 and letter.content.startswith(b"%PDF")
    manifest = get("berkas/manifest.json")
    assert (
        manifest.status_code == 200 and manifest.json()["request"]["jenis_data"] == "perseorangan"
    )
    for bad in ("berkas/permohonan.json", "berkas/..%2Fpermohonan.json", "berkas/%2Fetc%2Fpasswd"):
        assert get(bad).status_code == 404, bad
    assert requests.get(f"{airflow.url}{PAGES}/..%2F..%2Fetc/", timeout=30).status_code in (
        401,
        404,
    )
    figures = get("angka")
    assert figures.status_code == 200 and "tidak ditampilkan" in figures.text
    secret = get("kata-sandi", user="jfu")
    assert secret.status_code == 200 and "Kata sandi paket" in secret.text
    assert get("kata-sandi", user="kabid").status_code == 403  # only the JFU and the Kasi
    packed = (folder / f"{folder.name}.7z").read_bytes()
    assert b"NAMA_LGKP" not in packed and b"Nama Lengkap" not in packed  # names encrypted too
    delivered = {e.task_id: e for e in airflow.agenda(finished["individual"])}
    entry = delivered["record_password_delivery:kata-sandi"]
    assert entry.actor == "jfu" and "telepon" in entry.output_ref
    assert airflow.task_state(DAG, finished["approve"], "record_password_delivery") == "skipped"
    aggregate = request_folder(airflow, finished["approve"]).name
    tables = requests.get(
        f"{airflow.url}{PAGES}/{aggregate}/angka",
        headers={"Authorization": f"Bearer {airflow.token('kadis')}"},
        timeout=30,
    )
    assert tables.status_code == 200 and "Penduduk menurut Agama" in tables.text
