"""SOP "Pelayanan Penyajian Data Kependudukan": the code of its operational steps.

Each request has one folder, ``requests_dir/<request number>/``, keyed to the run's date: the
checked request, the extracted data with its manifest (:mod:`piak.engines.provision`), the draft
and the final letter, the hand-over package, and, when the run ends early, why. Later steps read
what earlier ones wrote there (tasks may run on different workers that share the storage).
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from piak.core import letters, sealed, settings
from piak.core.errors import PiakError
from piak.core.files import write_text_atomic
from piak.engines import siak_db
from piak.engines.provision.config import Office, load_settings
from piak.workflow.steps import ANSWER_XCOM, run_date, run_key

REQUEST_FILE = "permohonan.json"
DATA_DIR = "data"
DRAFT_LETTER = "surat_balasan_draf.pdf"
FINAL_LETTER = "surat_balasan.pdf"
CLOSED_FILE = "ditutup.json"
NUMBER = re.compile(r"^PD-\d{8}-\d{6}-[0-9a-f]{6}$")


@dataclass(frozen=True)
class ProvisionConfig:
    conn_id: str
    requests_dir: Path
    archive_dir: Path
    floor: int
    pseudonym_conn_id: str
    office: Office


def load_config(path: Path | None = None) -> ProvisionConfig:
    """``config/provision.yaml`` (or ``PIAK_PROVISION_FILE``), checked; paths under PIAK_HOME."""
    settings_ = load_settings(path)
    return ProvisionConfig(
        conn_id=settings_.conn_id,
        requests_dir=settings_.folder("requests_dir"),
        archive_dir=settings_.folder("archive_dir"),
        floor=settings_.suppression_floor,
        pseudonym_conn_id=settings_.pseudonym_conn_id,
        office=settings_.office,
    )


def request_number(context: Any) -> str:
    """``PD-20261125-093012-1a2b3c``."""
    return run_key(context, "PD")


def request_dir(context: Any, config: ProvisionConfig) -> Path:
    return config.requests_dir / request_number(context)


def folder_of(number: str, config: ProvisionConfig | None = None) -> Path:
    """The folder of request ``number`` (refused unless it is a request number)."""
    if not isinstance(number, str) or not NUMBER.match(number):
        raise PiakError("nomor permohonan tidak sah")
    return (config or load_config()).requests_dir / number


def read_request(folder: Path) -> dict[str, Any]:
    path = folder / REQUEST_FILE
    if not path.exists():
        raise PiakError(f"{path.name} belum ada: permohonan belum dicatat pada run ini")
    return json.loads(path.read_text(encoding="utf-8"))


def _checked(params: dict[str, Any], conn: Any, config: ProvisionConfig) -> Any:
    from piak.engines import provision

    return provision.validate_request(
        params, region_lookup=lambda: provision.load_regions(conn), floor=config.floor
    )


#: Sign-off body parts (Jinja, rendered by the sign-off task): what is approved, the earlier
#: decisions with their notes, and - once extracted - the figures, never a resident's data.
SHOW_REQUEST = (
    "{% set r = ti.xcom_pull(task_ids='record_request') %}"
    "**Permohonan {{ r['number'] }}** - yang Anda setujui:\n\n"
    "{% for line in r['summary'] %}- {{ line[0] }}: {{ line[1] }}\n{% endfor %}\n"
    "[Buka ringkasan, angka, draf surat dan berkas rilis]({{ r['pages'] }})\n"
)
SHOW_DATA = (
    "\n{% set d = ti.xcom_pull(task_ids='prepare_data') %}**Data yang disiapkan**: "
    "{{ d['note'] }}\n\n| Berkas | Baris | SHA-256 |\n|---|---|---|\n{% for f in d['files'] %}"
    "| {{ f['name'] }} | {{ f['rows'] }} | `{{ f['sha256'][:16] }}…` |\n{% endfor %}\n"
    "SHA-256 manifest.json: `{{ d['manifest_sha256'] }}`\n\n"
    "[Angka/tabel]({{ r['pages'] }}angka) · [Draf surat (PDF)]({{ r['pages'] }}surat) · "
    "[Berkas rilis]({{ r['pages'] }}#berkas)\n"
)


def show_decisions(earlier: list[tuple[str, str]]) -> str:
    """A sign-off body part listing the answers of ``earlier`` sign-offs (task id, label)."""
    steps = ", ".join(f"({task_id!r}, {label!r})" for task_id, label in earlier)
    return (
        "\n**Keputusan sebelumnya:**\n\n"
        f"{{% for t, label in [{steps}] %}}"
        "{% set a = ti.xcom_pull(task_ids=t, key='answer') %}{% if a %}"
        "- {{ label }}: *{{ a['chosen_options'] | join(', ') }}* oleh "
        "{{ a['responded_by_user']['name'] }}"
        "{% if a['params_input'].get('catatan') %} - catatan: {{ a['params_input']['catatan'] }}"
        "{% endif %}\n{% endif %}{% endfor %}"
    )


#: The sign-offs of the DAG in their order, with how the body names them to later approvers.
SIGNOFFS = [
    ("dispose_request", "Langkah 2, Sekretaris (disposisi)"),
    ("review_request", "Langkah 3, Kabid (telaah)"),
    ("decide_request", "Langkah 4, Kasi (keputusan)"),
    ("check_data", "Langkah 6, Kasi (pemeriksaan data)"),
    ("initial_by_kabid", "Langkah 7, Kabid (paraf)"),
    ("initial_by_sekretaris", "Langkah 8, Sekretaris (paraf)"),
    ("sign_by_kadis", "Langkah 9, Kadis (tanda tangan)"),
    ("number_letter", "Langkah 10, JFU (nomor surat)"),
    ("record_password_delivery", "Langkah 10, JFU (kata sandi paket)"),
]
#: The decisions that can close a request.
DECISIONS = [task_id for task_id, _ in SIGNOFFS[:7]]


def signoff_show(task_id: str, data: bool = False) -> str:
    """What sign-off ``task_id`` shows: the request, the earlier decisions, and the data."""
    earlier = SIGNOFFS[: [t for t, _ in SIGNOFFS].index(task_id)]
    parts = [SHOW_REQUEST, show_decisions(earlier) if earlier else "", SHOW_DATA if data else ""]
    return "".join(parts)


def summary_text(lines: list[list[str]] | list[tuple[str, str]]) -> str:
    """The summary as one line of text (the agenda's note)."""
    return "; ".join(f"{label}: {value}" for label, value in lines)


# -- step 1 --------------------------------------------------------------------------------


def record_request(context: Any) -> dict[str, Any]:
    """Step 1: check the request (refused before any step runs), estimate its size, record it.

    Returns the summary every sign-off shows - what is asked, never a resident's data."""
    from piak.engines import provision
    from piak.engines.provision.output import summary_lines
    from piak.engines.provision.source import fetch_all
    from piak.engines.provision.sql import count_query

    config = load_config()
    params = {k: v for k, v in dict(context["params"]).items() if v not in (None, "", [])}
    conn = siak_db.connect(config.conn_id)
    try:
        request = _checked(params, conn, config)
        regions = provision.load_regions(conn)
        scope = provision.describe_scope(request, regions)
        dialect = provision.source.dialect_of(conn)
        estimated = int(fetch_all(conn, count_query(request, dialect))[0][0])
    finally:
        conn.close()
    number = request_number(context)
    lines = summary_lines(request, scope, estimated)
    record = {
        "nomor": number,
        "run_id": context["run_id"],
        "params": request.to_params(),
        "cakupan": scope,
        "perkiraan_baris": estimated,
        "ringkasan": lines,
        "pks": request.agreement.as_record() if request.agreement else None,
    }
    folder = request_dir(context, config)
    write_text_atomic(folder / REQUEST_FILE, json.dumps(record, indent=2, ensure_ascii=False))
    return {
        "output_ref": number,
        "note": f"{number}: {summary_text(lines)}",
        "number": number,
        "summary": [list(line) for line in lines],
        "estimated_rows": estimated,
        "pages": pages_url(number),
    }


def pages_url(number: str) -> str:
    """Where the request's figures, draft letter and release open in the Airflow UI."""
    return f"{settings.airflow_base_url()}{settings.RELEASE_PAGES}/{number}/"


# -- step 5 --------------------------------------------------------------------------------


def prepare_data(context: Any) -> dict[str, Any]:
    """Step 5: extract the data into the request's folder (files + manifest); a rerun reuses a
    complete extract of the same request. Returns counts, checksums and k-anonymity only."""
    from piak.engines import provision
    from piak.engines.provision.pseudonym import Pseudonymiser, office_secret

    config = load_config()
    folder = request_dir(context, config)
    record = read_request(folder)
    conn = siak_db.connect(config.conn_id)
    try:
        request = _checked(record["params"], conn, config)
        pseudonyms = None
        if request.pseudonymised:
            secret = office_secret(config.pseudonym_conn_id)
            pseudonyms = Pseudonymiser(secret, record["nomor"])
        result = provision.prepare_data(request, conn, folder / DATA_DIR, pseudonyms=pseudonyms)
    finally:
        conn.close()
    manifest = provision.load_manifest(folder / DATA_DIR)
    files = [
        {"name": f["name"], "rows": f.get("rows"), "sha256": f["sha256"]} for f in result["files"]
    ]
    k = manifest.get("k_anonymity")
    suppression = manifest["suppression"]
    note = f"{len(files)} berkas, {sum(result['row_counts'].values())} baris"
    if request.kind == "agregat":
        note += (
            f"; {suppression['cells']} sel disensor ({suppression['primary']} sel kecil, "
            f"{suppression['secondary']} sel pendamping), ambang {suppression['threshold']}"
        )
    if k:
        note += f"; {kanon_text(k)}"
    return {
        "output_ref": result["out_dir"],
        "note": note,
        "files": files,
        "row_counts": result["row_counts"],
        "suppressed_cells": result["suppressed_cells"],
        "suppression": {
            key: suppression[key] for key in ("threshold", "cells", "primary", "secondary")
        },
        "k_anonymity": k,
        "manifest_sha256": file_sha256(folder / DATA_DIR / provision.engine.MANIFEST),
    }


def kanon_text(k: dict[str, Any]) -> str:
    """The k-anonymity of a release in words."""
    if k.get("k") is None:
        return "k-anonimitas: tidak ada kolom kuasi-identitas"
    return (
        f"k-anonimitas {k['k']} atas {', '.join(k['quasi_identifiers'])}: "
        f"{k['classes_below_threshold']} kelompok < {k['threshold']} "
        f"({k['rows_below_threshold']} dari {k['rows']} baris), {k['unique_rows']} baris unik"
    )


# -- steps 6 and 10: letters -----------------------------------------------------------------


def _facts(folder: Path) -> letters.LetterFacts:
    from piak.engines import provision

    record = read_request(folder)
    params = record["params"]
    manifest = provision.load_manifest(folder / DATA_DIR)
    agreement = record.get("pks")
    return letters.LetterFacts(
        request_number=record["nomor"],
        applicant=params["nama_pemohon"],
        institution=params["instansi"],
        letter_number=params["nomor_surat"],
        letter_date=date.fromisoformat(params["tanggal_surat"]),
        purpose=params["keperluan"],
        kind=params["jenis_data"],
        as_of=date.fromisoformat(params["tanggal_data"]),
        scope=record["cakupan"],
        files=[(f["name"], int(f.get("rows") or 0), f["sha256"]) for f in manifest["files"]],
        pks=(f"{agreement['number']} tanggal {agreement['signed']}" if agreement else None),
        summary=[(label, value) for label, value in record["ringkasan"]],
        manifest_sha256=file_sha256(folder / DATA_DIR / provision.engine.MANIFEST),
    )


def draft_letter(context: Any) -> dict[str, Any]:
    """Step 6: the draft notification letter (PDF, marked DRAF, no number yet)."""
    config = load_config()
    folder = request_dir(context, config)
    facts = _facts(folder)
    path = letters.render(
        folder / DRAFT_LETTER,
        office=config.office,
        facts=facts,
        dated=run_date(context).date(),
        number=None,
    )
    return {
        "output_ref": str(path),
        "note": f"draf surat balasan dibuat; SHA-256 manifest {facts.manifest_sha256}",
    }


def _answer(context: Any, task_id: str) -> dict[str, Any]:
    answer = context["ti"].xcom_pull(task_ids=task_id, key=ANSWER_XCOM)
    if not answer:
        raise PiakError(f"jawaban langkah {task_id} belum ada pada run ini")
    return answer


def pack_release(context: Any, number_task: str) -> dict[str, Any]:
    """Step 10: the final letter with the outgoing number, and the hand-over package."""
    config = load_config()
    outgoing = str(_answer(context, number_task)["params_input"]["nomor_surat_keluar"]).strip()
    return hand_over(request_dir(context, config), config, outgoing, run_date(context).date())


def hand_over(folder: Path, config: ProvisionConfig, outgoing: str, dated: date) -> dict[str, Any]:
    """Check every data file against the manifest - a file changed, missing or added since
    step 5 stops the hand-over before anything is written - then the final letter (with the
    manifest's SHA-256) and the package (zip of the data, its manifest and the letter)."""
    from piak.engines import provision

    problems = provision.verify_output(folder / DATA_DIR)
    if problems:
        raise PiakError(
            "data tidak cocok dengan manifest, paket tidak dibuat: " + "; ".join(problems)
        )
    facts = _facts(folder)
    letter = letters.render(
        folder / FINAL_LETTER, office=config.office, facts=facts, dated=dated, number=outgoing
    )
    package, sealing = _package(folder, letter, read_request(folder))
    digest = file_sha256(package)
    write_text_atomic(package.with_name(package.name + ".sha256"), f"{digest}  {package.name}\n")
    write_text_atomic(
        folder / PACKAGE_FILE,
        json.dumps({"name": package.name, "sha256": digest, "sealing": sealing}),
    )
    return {
        "output_ref": str(package),
        "note": (
            f"surat nomor {outgoing}; {len(facts.files)} berkas diperiksa ulang terhadap manifest "
            f"(SHA-256 manifest {facts.manifest_sha256}); paket {package.name} "
            f"({SEALINGS[sealing]}) sha256={digest}"
        ),
        "sha256": digest,
        "manifest_sha256": facts.manifest_sha256,
        "password": sealing == "7z-aes256",
    }


#: How a package is protected (as the agenda and the letter say it).
SEALINGS = {
    "none": "data agregat, tanpa enkripsi",
    "age": "terenkripsi untuk kunci publik lembaga penerima",
    "7z-aes256": "7z AES-256 berkata sandi; kata sandi disampaikan terpisah",
}
PACKAGE_FILE = "package.json"
#: The file (owner-only) holding a 7z package's password - its name, not a secret.
PASSWORD_FILE = ".kata-sandi-paket"  # ruff: ignore[hardcoded-password-string]


def _package(folder: Path, letter: Path, request: dict[str, Any]) -> tuple[Path, str]:
    """The hand-over package of a request: aggregate data as a plain zip; individual data
    encrypted to the institution's age key when its PKS names one, else a 7z archive with
    AES-256 (names encrypted too) under a generated password kept owner-only for the JFU."""
    if request["params"].get("jenis_data") != "perseorangan":
        package = folder / f"{folder.name}.zip"
        _zip(package, folder / DATA_DIR, letter)
        return package, "none"
    recipient = (request.get("pks") or {}).get("recipient")
    if recipient:
        from piak.engines import encryption

        inner = folder / f".{folder.name}.zip"
        _zip(inner, folder / DATA_DIR, letter)
        package = folder / f"{folder.name}.zip.age"
        tmp = package.with_name(f".{package.name}.tmp")
        try:
            encryption.encrypt_file(inner, tmp, [encryption.recipient(recipient)])
            tmp.replace(package)
        finally:
            inner.unlink(missing_ok=True)
            tmp.unlink(missing_ok=True)
        return package, "age"
    package = folder / f"{folder.name}.7z"
    _seven_zip(package, folder / DATA_DIR, letter, _password(folder))
    return package, "7z-aes256"


def _password(folder: Path) -> str:
    """The package's password: made once per request (a rerun keeps it), owner-only."""
    import secrets

    from piak.core.files import write_secret

    path = folder / PASSWORD_FILE
    if not path.exists():
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
        write_secret(path, "".join(secrets.choice(alphabet) for _ in range(20)))
    return path.read_text(encoding="utf-8").strip()


def package_password(folder: Path) -> str | None:
    """The password of a request's 7z package (for the JFU's page), None when it has none."""
    path = folder / PASSWORD_FILE
    return path.read_text(encoding="utf-8").strip() if path.exists() else None


def _seven_zip(package: Path, data_dir: Path, letter: Path, password: str) -> None:
    import py7zr

    filters = [{"id": py7zr.FILTER_DEFLATE}, {"id": py7zr.FILTER_CRYPTO_AES256_SHA256}]
    tmp = package.with_name(f".{package.name}.tmp")
    try:
        with py7zr.SevenZipFile(
            tmp, "w", password=password, filters=filters, header_encryption=True
        ) as archive:
            for path in sorted(data_dir.iterdir()):
                archive.write(path, f"data/{path.name}")
            archive.write(letter, letter.name)
        with py7zr.SevenZipFile(tmp, "r", password=password) as archive:
            if archive.testzip() is not None:
                raise PiakError("paket 7z rusak saat ditulis; diulang nanti")
        tmp.replace(package)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def package_of(folder: Path) -> Path:
    """The hand-over package step 10 made for a request."""
    path = folder / PACKAGE_FILE
    if not path.exists():
        raise PiakError(f"paket {folder.name} belum ada: langkah 10 belum selesai")
    return folder / json.loads(path.read_text(encoding="utf-8"))["name"]


def _zip(package: Path, data_dir: Path, letter: Path) -> None:
    tmp = package.with_name(f".{package.name}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(data_dir.iterdir()):
                archive.write(path, f"data/{path.name}")
            archive.write(letter, letter.name)
        with zipfile.ZipFile(tmp) as archive:
            broken = archive.testzip()
        if broken is not None:
            raise PiakError(f"paket rusak saat ditulis ({broken}); diulang nanti")
        tmp.replace(package)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def file_sha256(path: Path) -> str:
    return sealed.sha256_file(path)[1]


# -- step 11 -------------------------------------------------------------------------------


def archive_release(context: Any) -> dict[str, Any]:
    """Step 11: the package copied to the archive and verified there (SHA-256)."""
    config = load_config()
    number = request_number(context)
    package = package_of(request_dir(context, config))
    if not package.exists():
        raise PiakError(f"paket {package} belum ada: langkah 10 belum selesai")
    expected = file_sha256(package)
    target = config.archive_dir / number[3:7] / package.name
    if not (target.exists() and file_sha256(target) == expected):
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(package, tmp)
        if file_sha256(tmp) != expected:
            tmp.unlink()
            raise PiakError(f"salinan arsip {target} tidak cocok dengan paket; diulang nanti")
        tmp.replace(target)
    return {"output_ref": str(target), "note": f"diarsipkan dan terverifikasi (sha256 {expected})"}


def close_request(context: Any, decision_tasks: list[str]) -> dict[str, Any]:
    """A rejection or return ends the run here: recorded with its note; nothing is released."""
    config = load_config()
    folder = request_dir(context, config)
    ti = context["ti"]
    closing = None
    for task_id in decision_tasks:
        answer = ti.xcom_pull(task_ids=task_id, key=ANSWER_XCOM)
        if answer:
            closing = (task_id, answer)
    if closing is None:
        raise PiakError("tidak ada keputusan yang menutup permohonan ini")
    task_id, answer = closing
    user = (answer.get("responded_by_user") or {}).get("id") or "-"
    note = str((answer.get("params_input") or {}).get("catatan") or "").strip()
    choice = ", ".join(answer.get("chosen_options") or [])
    outcome = "returned" if choice.lower().startswith("kembalikan") else "rejected"
    record = {"langkah": task_id, "oleh": user, "pilihan": choice, "catatan": note}
    if folder.exists():
        write_text_atomic(folder / CLOSED_FILE, json.dumps(record, indent=2, ensure_ascii=False))
    return {
        "output_ref": request_number(context),
        "outcome": outcome,
        "note": f"{choice} oleh {user} pada {task_id}: {note}; tidak ada data yang diserahkan",
    }


def password_to_deliver(context: Any) -> bool:
    """Whether step 10's package has a password the JFU must deliver (a 7z package)."""
    return bool((context["ti"].xcom_pull(task_ids="pack_release") or {}).get("password"))


def password_delivery_show() -> str:
    """What the JFU sees when asked to deliver a package's password: the request, the earlier
    decisions, and where the password is (never the password itself)."""
    return signoff_show("record_password_delivery") + (
        "\n{% set p = ti.xcom_pull(task_ids='pack_release') %}"
        "Paket `{{ p['output_ref'].split('/')[-1] }}` (SHA-256 `{{ p['sha256'] }}`) dikunci "
        "dengan kata sandi. Buka [kata sandinya]({{ r['pages'] }}kata-sandi) (hanya JFU dan Kasi), "
        "sampaikan kepada penerima **lewat saluran lain dari paketnya** (telepon, SMS, atau "
        "langsung), lalu catat di sini cara dan kepada siapa. Kata sandi tidak pernah ditulis "
        "di sini, di agenda, atau di surat."
    )
