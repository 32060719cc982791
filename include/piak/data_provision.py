"""SOP "Pelayanan Penyajian Data Kependudukan": the code of its operational steps.

Each request has one folder, ``requests_dir/<request number>/``, keyed to the run's date: the
checked request, the extracted data with its manifest (:mod:`piak.provision`), the draft and the
final letter, the hand-over package, and, when the run ends early, why. Later steps read what
earlier ones wrote there (tasks may run on different workers that share the storage).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from piak import letters, settings
from piak.errors import PiakError
from piak.files import write_text_atomic
from piak.steps import ANSWER_XCOM, run_date, run_key

REQUEST_FILE = "permohonan.json"
DATA_DIR = "data"
DRAFT_LETTER = "surat_balasan_draf.pdf"
CLOSED_FILE = "ditutup.json"


@dataclass(frozen=True)
class ProvisionConfig:
    conn_id: str
    requests_dir: Path
    archive_dir: Path
    suppression_threshold: int
    office: letters.Office


def config_file() -> Path:
    return settings.config_file("PIAK_PROVISION_FILE", "provision.yaml")


def load_config(path: Path | None = None) -> ProvisionConfig:
    """``config/provision.yaml`` (or ``PIAK_PROVISION_FILE``), checked; paths under PIAK_HOME."""
    path = path or config_file()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        office = letters.Office(**data["office"])
        conn_id = str(data["conn_id"])
        threshold = int(data.get("suppression_threshold", 5))
    except FileNotFoundError:
        raise PiakError(f"{path}: berkas konfigurasi tidak ditemukan") from None
    except (KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise PiakError(f"{path}: konfigurasi tidak sah: {exc}") from None

    def under_home(key: str) -> Path:
        value = Path(str(data.get(key) or ""))
        if not str(value) or str(value) == ".":
            raise PiakError(f"{path}: {key} wajib diisi")
        return value if value.is_absolute() else settings.home() / value

    return ProvisionConfig(
        conn_id, under_home("requests_dir"), under_home("archive_dir"), threshold, office
    )


def request_number(context: Any) -> str:
    """``PD-20261125-093012-1a2b3c``."""
    return run_key(context, "PD")


def request_dir(context: Any, config: ProvisionConfig) -> Path:
    return config.requests_dir / request_number(context)


def _read_request(folder: Path) -> dict[str, Any]:
    path = folder / REQUEST_FILE
    if not path.exists():
        raise PiakError(f"{path} belum ada: permohonan belum dicatat pada run ini")
    return json.loads(path.read_text(encoding="utf-8"))


def _checked(params: dict[str, Any], conn: Any) -> Any:
    from piak import provision

    return provision.validate_request(
        params, region_lookup=lambda: provision.load_regions(conn), today=None
    )


# -- step 1 --------------------------------------------------------------------------------


def record_request(context: Any) -> dict[str, Any]:
    """Step 1: check the request (refused before any step runs) and record it."""
    from piak import provision

    config = load_config()
    params = {k: v for k, v in dict(context["params"]).items() if v not in (None, "", [])}
    params.setdefault("ambang_sel_kecil", config.suppression_threshold)
    conn = provision.connect(config.conn_id)
    try:
        request = _checked(params, conn)
        scope = provision.describe_scope(request, provision.load_regions(conn))
    finally:
        conn.close()
    number = request_number(context)
    folder = request_dir(context, config)
    record = {"nomor": number, "params": request.to_params(), "cakupan": scope}
    write_text_atomic(folder / REQUEST_FILE, json.dumps(record, indent=2, ensure_ascii=False))
    return {
        "output_ref": number,
        "note": (
            f"{number}: {request.applicant} ({request.institution}), data {request.kind}, "
            f"{scope}, posisi {request.as_of.isoformat()}"
        ),
        "number": number,
        "applicant": request.applicant,
        "institution": request.institution,
        "letter": f"{request.letter_number} tanggal {request.letter_date.isoformat()}",
        "purpose": request.purpose,
        "kind": request.kind,
        "scope": scope,
        "as_of": request.as_of.isoformat(),
        "format": request.format,
        "pks": request.pks_number,
    }


# -- step 5 --------------------------------------------------------------------------------


def prepare_data(context: Any) -> dict[str, Any]:
    """Step 5: extract the data into the request's folder (files + manifest); a rerun reuses a
    complete extract of the same request."""
    from piak import provision

    config = load_config()
    folder = request_dir(context, config)
    record = _read_request(folder)
    conn = provision.connect(config.conn_id)
    try:
        request = _checked(record["params"], conn)
        result = provision.prepare_data(request, conn, folder / DATA_DIR)
    finally:
        conn.close()
    files = [
        {"name": f["name"], "rows": f.get("rows"), "sha256": f["sha256"]} for f in result["files"]
    ]
    return {
        "output_ref": result["out_dir"],
        "note": (
            f"{len(files)} berkas, {sum(result['row_counts'].values())} baris; "
            f"{result['suppressed_cells']} sel kecil disembunyikan"
        ),
        "files": files,
        "row_counts": result["row_counts"],
        "suppressed_cells": result["suppressed_cells"],
        "preview": preview(folder / DATA_DIR, files),
    }


def preview(folder: Path, files: list[dict[str, Any]], rows: int = 6) -> str:
    """The first rows of the first data file, as a Markdown table (for the Kasi's check)."""
    if not files:
        return "(tidak ada berkas)"
    first = folder / files[0]["name"]
    table = _head(first, rows)
    if not table:
        return f"`{first.name}`"
    lines = [
        "| " + " | ".join(str(c) for c in table[0]) + " |",
        "|" + "---|" * len(table[0]),
    ]
    lines += [
        "| " + " | ".join("" if c is None else str(c) for c in row) + " |" for row in table[1:]
    ]
    return f"`{first.name}`\n\n" + "\n".join(lines)


def _head(path: Path, rows: int) -> list[list[Any]]:
    if path.suffix == ".csv":
        import csv

        with path.open(encoding="utf-8-sig", newline="") as handle:
            return [row for _, row in zip(range(rows), csv.reader(handle), strict=False)]
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.ParquetFile(path).read_row_group(0).slice(0, rows - 1).to_pylist()
        return [list(table[0])] + [list(r.values()) for r in table] if table else []
    if path.suffix == ".xlsx":
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True)
        try:
            sheet = book.worksheets[1] if len(book.worksheets) > 1 else book.worksheets[0]
            return [
                list(r)
                for _, r in zip(range(rows), sheet.iter_rows(values_only=True), strict=False)
            ]
        finally:
            book.close()
    return []


# -- steps 6 and 10: letters -----------------------------------------------------------------


def _facts(folder: Path) -> letters.LetterFacts:
    from piak import provision

    record = _read_request(folder)
    params = record["params"]
    manifest = provision.load_manifest(folder / DATA_DIR)
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
        pks=(
            f"{params['nomor_pks']} tanggal {params['tanggal_pks']}"
            if params.get("nomor_pks")
            else None
        ),
    )


def draft_letter(context: Any) -> dict[str, Any]:
    """Step 6: the draft notification letter (PDF, marked DRAF, no number yet)."""
    config = load_config()
    folder = request_dir(context, config)
    path = letters.render(
        folder / DRAFT_LETTER,
        office=config.office,
        facts=_facts(folder),
        dated=run_date(context).date(),
        number=None,
    )
    return {"output_ref": str(path), "note": "draf surat balasan dibuat"}


def _answer(context: Any, task_id: str) -> dict[str, Any]:
    answer = context["ti"].xcom_pull(task_ids=task_id, key=ANSWER_XCOM)
    if not answer:
        raise PiakError(f"jawaban langkah {task_id} belum ada pada run ini")
    return answer


def pack_release(context: Any, number_task: str) -> dict[str, Any]:
    """Step 10: the final letter with the outgoing number, and the hand-over package (zip of
    the data, its manifest and the letter) with its SHA-256."""
    config = load_config()
    folder = request_dir(context, config)
    outgoing = str(_answer(context, number_task)["params_input"]["nomor_surat_keluar"]).strip()
    letter = letters.render(
        folder / "surat_balasan.pdf",
        office=config.office,
        facts=_facts(folder),
        dated=run_date(context).date(),
        number=outgoing,
    )
    package = folder / f"{request_number(context)}.zip"
    _zip(package, folder / DATA_DIR, letter)
    digest = _sha256(package)
    write_text_atomic(package.with_suffix(".zip.sha256"), f"{digest}  {package.name}\n")
    return {
        "output_ref": str(package),
        "note": f"surat nomor {outgoing}; paket {package.name} sha256={digest}",
        "sha256": digest,
    }


def _zip(package: Path, data_dir: Path, letter: Path) -> None:
    tmp = package.with_name(f".{package.name}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(data_dir.iterdir()):
                archive.write(path, f"data/{path.name}")
            archive.write(letter, letter.name)
        tmp.replace(package)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(4 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


# -- step 11 -------------------------------------------------------------------------------


def archive_release(context: Any) -> dict[str, Any]:
    """Step 11: the package copied to the archive and verified there (SHA-256)."""
    config = load_config()
    number = request_number(context)
    package = request_dir(context, config) / f"{number}.zip"
    if not package.exists():
        raise PiakError(f"paket {package} belum ada: langkah 10 belum selesai")
    expected = _sha256(package)
    target = config.archive_dir / number[3:7] / package.name
    if not (target.exists() and _sha256(target) == expected):
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(package, tmp)
        if _sha256(tmp) != expected:
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
