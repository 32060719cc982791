"""SOP "Recovery Database" and the weekly restore drill: the code of their steps.

A recovery restores one verified backup set into the scratch database (default) or, with the
production database's name typed as confirmation, into production. Each run keeps its evidence in
its own folder (``recovery.evidence_dir/<dag_id>/<run time>``): the request, which copy of the set
was used, the dry run, the import log and the validation report. Later steps read what earlier
ones wrote there, so tasks may run on different workers that share the storage.

Order of the run: check the request -> verify the set (or an intact offsite copy) -> dry run ->
production only: the Kasi's and then the Kabid's permission, then a safety export -> import ->
row counts against the manifest -> reports to the Kasi and the Kabid -> agenda.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from piak.core.errors import InvalidRequest, PiakError
from piak.core.files import write_text_atomic
from piak.engines import backends as engines
from piak.engines import backup_config, backupset, catalogue, encryption, offsite, sqlite_backup
from piak.workflow.steps import run_date

log = logging.getLogger(__name__)

RECOVERY_DAG = "database_recovery"
TARGETS = {"scratch": "scratch (basis data uji, aman)", "production": "produksi"}
SAFETY_LABEL = "pra_pulih"
_TABLE = re.compile(r"^[A-Za-z][A-Za-z0-9_$#]{0,127}(\.[A-Za-z][A-Za-z0-9_$#]{0,127})?$")

#: The recovery DAG's trigger form (Airflow Params JSON schema; labels in Bahasa Indonesia).
TRIGGER_FORM: dict[str, dict[str, Any]] = {
    "set_name": {
        "type": "string",
        "pattern": backupset.SET_NAME.pattern,
        "title": "Nama set cadangan",
        "description": "Contoh siak_20261124T2300 (lihat: python -m piak backups). Bukan path.",
    },
    "target": {
        "type": "string",
        "enum": list(TARGETS),
        "title": "Tujuan pemulihan",
        "description": "scratch = basis data uji (bawaan); production = basis data produksi.",
    },
    "tables": {
        "type": "array",
        "items": {"type": "string"},
        "title": "Tabel yang dipulihkan",
        "description": "Kosong = semua tabel di set. Contoh: BIODATA_WNI",
    },
    "confirmation": {
        "type": "string",
        "title": "Konfirmasi produksi",
        "description": "Untuk tujuan production: ketik persis nama basis data produksi.",
    },
}
TRIGGER_DEFAULTS: dict[str, Any] = {"target": "scratch", "tables": [], "confirmation": ""}


@dataclass(frozen=True)
class Request:
    """What one run restores, where to, and which tables (manifest keys; empty = all)."""

    set_name: str
    target: str
    tables: tuple[str, ...] = ()

    def label(self) -> str:
        return f"set {self.set_name} -> {TARGETS[self.target]}"


# -- the request ---------------------------------------------------------------------------


def parse_request(params: Any, config: backup_config.BackupConfig) -> Request:
    """Check a recovery request; every refusal names the field and why, before any change."""
    params = dict(params or {})
    raw_name = params.get("set_name")
    if not isinstance(raw_name, str) or not raw_name:
        raise InvalidRequest("set_name: nama set cadangan wajib diisi")
    try:
        name = backupset.validate_set_name(raw_name)
    except PiakError as exc:
        raise InvalidRequest(f"set_name: {exc}") from None
    if not is_catalogued(config, name):
        raise InvalidRequest(
            f"set_name: set {name} tidak ada di katalog set terverifikasi "
            "(lihat: python -m piak backups)"
        )
    target = params.get("target") or "scratch"
    if target not in TARGETS:
        raise InvalidRequest(f"target: 'scratch' atau 'production', bukan {target!r}")
    if target == "production":
        typed = params.get("confirmation") or ""
        if typed != config.production_name:
            raise InvalidRequest(
                "confirmation: pemulihan ke produksi harus dikonfirmasi dengan mengetik persis "
                f"{config.production_name!r}" + (f" (tertulis {typed!r})" if typed else "")
            )
    manifest = sound_manifest(config, name)
    tables = resolve_tables(params.get("tables") or [], manifest.row_counts)
    return Request(name, target, tables)


def resolve_tables(wanted: Any, row_counts: dict[str, int]) -> tuple[str, ...]:
    """Map requested table names (``TABLE`` or ``SCHEMA.TABLE``) onto the manifest's keys."""
    if not isinstance(wanted, list) or not all(isinstance(t, str) for t in wanted):
        raise InvalidRequest("tables: harus daftar nama tabel")
    resolved = []
    for table in wanted:
        if not _TABLE.match(table):
            raise InvalidRequest(f"tables: {table!r} bukan nama tabel yang sah")
        upper = table.upper()
        matches = [k for k in row_counts if k.upper() == upper or k.upper().endswith("." + upper)]
        if not matches:
            raise InvalidRequest(f"tables: tabel {table} tidak ada di set cadangan ini")
        if len(matches) > 1:
            raise InvalidRequest(f"tables: {table} ambigu ({', '.join(matches)}); sebut skemanya")
        resolved.append(matches[0])
    return tuple(dict.fromkeys(resolved))


def is_catalogued(config: backup_config.BackupConfig, name: str) -> bool:
    """Known to the catalogue as verified on the server or on an offsite target."""
    if not catalogue.path(config.backup_dir, name).exists():
        return False
    entry = catalogue.read(config.backup_dir, name)
    return bool(entry.get("server_verified_at") or entry.get("verified_targets"))


def sound_manifest(config: backup_config.BackupConfig, name: str) -> backupset.Manifest:
    """The set's manifest from the first place where it is intact: the server, then targets."""
    problems = []
    try:
        return backupset.load_manifest(config.backup_dir / name)
    except backupset.ManifestError as exc:
        problems.append(f"server: {exc}")
    for target in config.targets:
        opened = offsite.open_target(target)
        path = f"{name}/{backupset.MANIFEST}"
        try:
            if not opened.exists(path):
                raise backupset.ManifestError(f"{name}: tidak ada {backupset.MANIFEST}")
            with opened.open_read(path) as handle:
                return backupset.parse_manifest(handle.read().decode("utf-8"), name)
        except (backupset.ManifestError, OSError, UnicodeDecodeError) as exc:
            problems.append(f"{target.name}: {exc}")
    raise InvalidRequest(
        f"set_name: manifest set {name} tidak utuh di mana pun: " + "; ".join(problems)
    )


# -- the run's folder ----------------------------------------------------------------------


def run_dir(context: Any, config: backup_config.BackupConfig) -> Path:
    """This run's evidence folder, keyed to the DAG and the run's date (WIB)."""
    dag_id = context["ti"].dag_id if context.get("ti") else RECOVERY_DAG
    recovery = _recovery_config(config)
    return recovery.evidence_dir / dag_id / f"{run_date(context):%Y%m%dT%H%M%S}"


def _recovery_config(config: backup_config.BackupConfig) -> backup_config.RecoveryConfig:
    if config.recovery is None:
        raise PiakError("konfigurasi recovery tidak ada di backup.yaml")
    return config.recovery


def _write_json(folder: Path, name: str, data: Any) -> Path:
    return write_text_atomic(folder / name, json.dumps(data, indent=2, ensure_ascii=False))


def _read_json(folder: Path, name: str, step: str) -> Any:
    path = folder / name
    if not path.exists():
        raise PiakError(f"{path} belum ada: langkah '{step}' belum selesai pada run ini")
    return json.loads(path.read_text(encoding="utf-8"))


def load_request(folder: Path) -> Request:
    data = _read_json(folder, "request.json", "persiapan")
    return Request(data["set_name"], data["target"], tuple(data["tables"]))


def target_path(config: backup_config.BackupConfig, request: Request) -> Path:
    """The SQLite file a request restores into."""
    if request.target == "production":
        return config.sqlite_database
    return _recovery_config(config).scratch_sqlite


# -- steps ---------------------------------------------------------------------------------


def prepare(context: Any) -> dict[str, Any]:
    """Step 1: check the request and show what will be restored where."""
    config = backup_config.load()
    request = parse_request(context.get("params"), config)
    return _start(context, config, request)


def prepare_drill(context: Any) -> dict[str, Any]:
    """Drill step 1: the newest set verified on the server and on every target, into scratch."""
    config = backup_config.load()
    name = catalogue.newest_verified_set(config)
    if name is None:
        raise PiakError("belum ada set cadangan terverifikasi untuk diuji pulihkan")
    return _start(context, config, Request(name, "scratch"))


def _start(context: Any, config: backup_config.BackupConfig, request: Request) -> dict[str, Any]:
    folder = run_dir(context, config)
    manifest = sound_manifest(config, request.set_name)
    _write_json(folder, "request.json", asdict(request))
    tables = request.tables or tuple(manifest.row_counts)
    where = target_path(config, request) if config.engine == "sqlite" else request.target
    note = (
        f"{request.label()} ({where}); {manifest.total_size / 1e6:.1f} MB, diekspor "
        f"{manifest.finished_at}; {len(tables)} tabel, "
        f"{sum(manifest.row_counts.get(t, 0) for t in tables)} baris"
    )
    return {
        "output_ref": request.set_name,
        "note": note,
        "target": request.target,
        # what the production sign-offs show before anything is touched
        "tables": [{"table": t, "rows": manifest.row_counts.get(t, 0)} for t in tables],
        "safety_set": safety_set_name(config, context) if request.target == "production" else None,
    }


def production_target(context: Any) -> bool:
    """Whether this run restores into production (its sign-offs come before the restore)."""
    config = backup_config.load()
    return load_request(run_dir(context, config)).target == "production"


def safety_set_name(config: backup_config.BackupConfig, context: Any) -> str:
    """The safety set a production restore makes first (named by the run's date)."""
    return backupset.set_name_for(f"{config.label}_{SAFETY_LABEL}", run_date(context))


def verify(context: Any) -> dict[str, Any]:
    """Step 5: the set's files against its manifest; a damaged server set falls back to an
    intact offsite copy, and the run says which file was wrong."""
    config = backup_config.load()
    folder = run_dir(context, config)
    request = load_request(folder)
    source, where, problems = locate_intact_copy(config, request.set_name, folder)
    _write_json(folder, "source.json", {"path": str(source), "where": where, "problems": problems})
    note = f"set utuh di {where}: {source}"
    if problems:
        note = "; ".join(problems) + f". Dipakai salinan utuh di {where}"
        log.warning("Set %s: %s", request.set_name, note)
    return {"output_ref": str(source), "note": note}


def locate_intact_copy(
    config: backup_config.BackupConfig, name: str, work_dir: Path
) -> tuple[Path, str, list[str]]:
    """The first intact copy of set ``name``: the server's, else a target's (an SFTP copy is
    fetched into ``work_dir`` and verified there). Raises when no copy is intact."""
    problems: list[str] = []
    server = config.backup_dir / name
    keys = encryption.identities_for(config)
    check = backupset.verify_set(server, identities=keys) if server.is_dir() else None
    if check is not None and check.ok:
        return server, "server", []
    problems.append(
        f"server: {'; '.join(check.problems)}" if check else f"server: set {name} tidak ada"
    )
    reference, digest = _reference_manifest(config, name)
    for target in config.targets:
        opened = offsite.open_target(target)
        found = offsite.verify_copy(opened, name, reference, expected_digest=digest)
        if found:
            problems.append("; ".join(found))
            continue
        if target.type == "path":
            return Path(target.path) / name, target.name, problems
        local = fetch_copy(opened, name, work_dir / "source")
        return local, target.name, problems
    raise PiakError(f"tidak ada salinan utuh set {name}: " + " | ".join(problems))


def _reference_manifest(
    config: backup_config.BackupConfig, name: str
) -> tuple[backupset.Manifest | None, str | None]:
    """What an offsite copy is checked against: the server's manifest while it is intact (even
    when a dump file is damaged), else the manifest checksum the catalogue recorded."""
    try:
        return backupset.load_manifest(config.backup_dir / name), None
    except backupset.ManifestError:
        return None, catalogue.read(config.backup_dir, name).get("manifest_sha256")


def fetch_copy(target: offsite.Target, name: str, dest: Path) -> Path:
    """Bring a verified remote copy into ``dest/name`` and verify it there."""
    folder = dest / name
    if folder.exists() and backupset.verify_set(folder).ok:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    offsite.copy_set_from(target, name, folder)
    backupset.verify_set(folder, contents=False).raise_for_problems()
    return folder


def source_dir(folder: Path) -> Path:
    return Path(_read_json(folder, "source.json", "verifikasi set")["path"])


def dry_run(context: Any) -> dict[str, Any]:
    """Steps 2-4: open the set with the import tool without changing anything."""
    config = backup_config.load()
    folder = run_dir(context, config)
    request, source = load_request(folder), source_dir(folder)
    if config.engine == "sqlite":
        result = sqlite_backup.integrity_check(source, encryption.identities_for(config))
        if result != "ok":
            raise PiakError(f"set {request.set_name}: integrity_check gagal: {result}")
        return {"output_ref": str(source), "note": "integrity_check: ok (tidak ada yang diubah)"}
    from piak.engines import oracle_import

    ddl = oracle_import.import_set(
        config,
        source,
        target="dryrun",
        run_key=folder.name,
        evidence_dir=folder,
        tables=list(request.tables) or None,
    ).ddl_file
    return {"output_ref": str(ddl), "note": "impdp SQLFILE (tidak ada yang dijalankan)"}


def safety_export(context: Any) -> dict[str, Any]:
    """Production only: a fresh backup set of the current database, so a wrong recovery can be
    undone (made with the backup DAG's own code; a rerun reuses an intact one)."""
    config = backup_config.load()
    folder = run_dir(context, config)
    request = load_request(folder)
    if request.target != "production":
        return {"output_ref": None, "note": "tidak diperlukan: tujuan scratch"}
    name = safety_set_name(config, context)
    existing = config.backup_dir / name
    if existing.is_dir() and backupset.verify_set(existing).ok:
        return {"output_ref": str(existing), "note": f"set pengaman {name} sudah ada dan utuh"}
    if existing.exists():
        raise PiakError(f"set pengaman {name} ada tetapi rusak; pindahkan dulu lalu ulangi")
    made = engines.make_set(config, name)
    catalogue.update(config.backup_dir, name, server_verified_at=_now(), safety_for=True)
    return {"output_ref": str(made), "note": f"set pengaman {name} dibuat sebelum pemulihan"}


def import_set(context: Any) -> dict[str, Any]:
    """Step 6: restore the set into the target (SQLite: atomically; Oracle: impdp over SSH)."""
    config = backup_config.load()
    folder = run_dir(context, config)
    request, source = load_request(folder), source_dir(folder)
    if config.engine == "sqlite":
        target = target_path(config, request)
        counts = sqlite_backup.restore(
            source,
            target,
            tables=request.tables or None,
            identities=encryption.identities_for(config),
        )
        _write_json(folder, "imported.json", {"target": str(target), "row_counts": counts})
        return {"output_ref": str(target), "note": f"{len(counts)} tabel dipulihkan ke {target}"}
    from piak.engines import oracle_import

    result = oracle_import.import_set(
        config,
        source,
        target=request.target,
        run_key=folder.name,
        evidence_dir=folder,
        tables=list(request.tables) or None,
    )
    _write_json(folder, "imported.json", {"target": request.target, "log": str(result.log_file)})
    _write_json(folder, "imported_counts.json", result.row_counts)
    return {"output_ref": str(result.log_file), "note": f"impdp selesai: {request.label()}"}


def validate(context: Any) -> dict[str, Any]:
    """Step 6: row counts per table after the import equal the manifest's; a mismatch fails."""
    config = backup_config.load()
    folder = run_dir(context, config)
    request, source = load_request(folder), source_dir(folder)
    manifest = backupset.load_manifest(source)
    expected = {t: manifest.row_counts[t] for t in (request.tables or manifest.row_counts)}
    actual = restored_counts(config, request, folder, list(expected))
    rows = [
        {"table": t, "expected": n, "actual": actual.get(t), "ok": actual.get(t) == n}
        for t, n in expected.items()
    ]
    report = {"set": request.set_name, "target": request.target, "tables": rows}
    _write_json(folder, "validation.json", report)
    wrong = [r for r in rows if not r["ok"]]
    if wrong:
        detail = ", ".join(f"{r['table']}: {r['actual']} bukan {r['expected']}" for r in wrong)
        raise PiakError(f"validasi gagal, jumlah baris tidak sama dengan manifest: {detail}")
    total = sum(expected.values())
    return {
        "output_ref": str(folder / "validation.json"),
        "note": f"{len(rows)} tabel, {total} baris: sama dengan manifest",
        "tables": rows,
    }


def restored_counts(
    config: backup_config.BackupConfig, request: Request, folder: Path, tables: list[str]
) -> dict[str, int]:
    if config.engine == "sqlite":
        return sqlite_backup.count_rows(target_path(config, request), tables)
    return _read_json(folder, "imported_counts.json", "impor")


def summarize(context: Any) -> dict[str, Any]:
    """Step 9: the recovery in the agenda: set, target, validation, where the evidence lies."""
    config = backup_config.load()
    folder = run_dir(context, config)
    request = load_request(folder)
    report = _read_json(folder, "validation.json", "validasi")
    ok = sum(1 for r in report["tables"] if r["ok"])
    note = f"{request.label()}: {ok}/{len(report['tables'])} tabel sesuai manifest; bukti {folder}"
    return {"output_ref": request.set_name, "note": note}


def mark_restore_tested(context: Any) -> dict[str, Any]:
    """Drill: the set restored and validated; the catalogue says so (restore-tested)."""
    config = backup_config.load()
    folder = run_dir(context, config)
    request = load_request(folder)
    _read_json(folder, "validation.json", "validasi")
    catalogue.update(
        config.backup_dir, request.set_name, restore_tested_at=_now(), restore_evidence=str(folder)
    )
    return {"output_ref": request.set_name, "note": f"set {request.set_name} lulus uji pulih"}


def recovery_idle(context: Any) -> bool:
    """True when no recovery of the database is running (the nightly backup waits for one)."""
    running = context["ti"].get_dr_count(dag_id=RECOVERY_DAG, states=["running"])
    if running:
        log.info("Pemulihan basis data sedang berjalan (%s run); backup menunggu", running)
    return running == 0


def _now() -> str:
    return datetime.now(UTC).isoformat()
