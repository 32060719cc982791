"""SOP "Prosedur Backup database": the code of its operational steps.

Every function takes the task context and is idempotent: the set name comes from the run's date
(WIB), a finished and verified set is never made twice, copies resume, and nothing is deleted on a
failed run.
"""

from __future__ import annotations

import json
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from piak import backup_config, backupset, offsite, sqlite_backup
from piak.errors import PiakError
from piak.files import write_text_atomic
from piak.steps import run_date

log = logging.getLogger(__name__)
CATALOGUE = ".catalogue"
SPACE_MARGIN = 1.1


# -- catalogue: what is known about each set beyond its manifest ---------------------------


def catalogue_path(backup_dir: Path, set_name: str) -> Path:
    return backup_dir / CATALOGUE / f"{set_name}.json"


def read_catalogue(backup_dir: Path, set_name: str) -> dict[str, Any]:
    path = catalogue_path(backup_dir, set_name)
    if not path.exists():
        return {"set": set_name, "verified_targets": {}, "restore_tested_at": None}
    return json.loads(path.read_text(encoding="utf-8"))


def update_catalogue(backup_dir: Path, set_name: str, **changes: Any) -> dict[str, Any]:
    entry = read_catalogue(backup_dir, set_name)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(entry.get(key), dict):
            entry[key].update(value)
        else:
            entry[key] = value
    write_text_atomic(catalogue_path(backup_dir, set_name), json.dumps(entry, indent=2))
    return entry


# -- targets -------------------------------------------------------------------------------


def open_target(target: backup_config.TargetConfig) -> offsite.Target:
    if target.type == "path":
        return offsite.LocalTarget(Path(target.path), name=target.name)
    from piak.sftp_target import SftpTarget

    return SftpTarget(conn_id=target.conn_id, root=target.path, name=target.name)


def check_target_ready(target: backup_config.TargetConfig) -> None:
    """A mounted target must exist already: a missing mount point is an unplugged disk."""
    if target.type == "path" and not Path(target.path).parent.is_dir():
        raise PiakError(
            f"target {target.name}: {Path(target.path).parent} tidak ada (disk belum terpasang?)"
        )


# -- steps ---------------------------------------------------------------------------------


def set_name(context: Any, config: backup_config.BackupConfig) -> str:
    return backupset.set_name_for(config.label, run_date(context))


def newest_set_size(backup_dir: Path) -> int | None:
    for folder in reversed(list(backupset.list_sets(backup_dir))):
        try:
            return backupset.load_manifest(folder).total_size
        except backupset.ManifestError:
            continue
    return None


def prepare(context: Any) -> dict[str, Any]:
    """Step 1: the set name of this run and enough free space everywhere, before exporting."""
    config = backup_config.load()
    name = set_name(context, config)
    if config.engine == "sqlite" and not config.sqlite_database.is_file():
        raise PiakError(f"basis data sumber tidak ditemukan: {config.sqlite_database}")
    needed = newest_set_size(config.backup_dir)
    if needed is None and config.engine == "sqlite":
        needed = config.sqlite_database.stat().st_size
    needed = int((needed or 0) * SPACE_MARGIN)
    config.backup_dir.mkdir(parents=True, exist_ok=True)
    places = {"server": shutil.disk_usage(config.backup_dir).free}
    for target in config.targets:
        check_target_ready(target)
        if target.type == "path":
            Path(target.path).mkdir(parents=True, exist_ok=True)
        free = open_target(target).free_bytes()
        if free is not None:
            places[target.name] = free
    short = {where: free for where, free in places.items() if free < needed}
    if short:
        detail = ", ".join(f"{w}: sisa {free / 1e6:.0f} MB" for w, free in short.items())
        raise PiakError(
            f"ruang tidak cukup untuk set {name} (perlu ~{needed / 1e6:.0f} MB): {detail}"
        )
    return {"output_ref": name, "note": f"set {name}; perkiraan ukuran {needed / 1e6:.1f} MB"}


def export(context: Any) -> dict[str, Any]:
    """Step 2: export the database into its dated set folder (the manifest makes it a set)."""
    config = backup_config.load()
    name = set_name(context, config)
    final = config.backup_dir / name
    if final.exists():
        check = backupset.verify_set(final)
        if check.ok:
            return {
                "output_ref": str(final),
                "note": f"set {name} sudah ada dan utuh; tidak dibuat lagi",
            }
        raise PiakError(
            f"set {name} sudah ada tetapi rusak ({'; '.join(check.problems)}); "
            "periksa lalu pindahkan folder itu sebelum mengulang"
        )
    if config.engine == "sqlite":
        folder = sqlite_backup.backup(
            config.sqlite_database, config.backup_dir, name, database=config.sqlite_database.name
        )
    else:
        from piak import oracle_export

        folder = oracle_export.export(config, name)
    manifest = backupset.load_manifest(folder)
    return {
        "output_ref": str(folder),
        "note": f"{len(manifest.files)} berkas, {manifest.total_size / 1e6:.1f} MB",
    }


def place(context: Any) -> dict[str, Any]:
    """Steps 3-4: the set in its own folder, checked against its manifest."""
    config = backup_config.load()
    name = set_name(context, config)
    folder = config.backup_dir / name
    backupset.verify_set(folder).raise_for_problems()
    manifest = backupset.load_manifest(folder)
    update_catalogue(
        config.backup_dir,
        name,
        server_verified_at=_now(),
        size=manifest.total_size,
        exported_at=manifest.finished_at,
        manifest_sha256=manifest.digest,
    )
    return {
        "output_ref": str(folder),
        "note": f"set {name} utuh: {len(manifest.files)} berkas, {manifest.total_size} byte",
        "set": name,
        "size": manifest.total_size,
        "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in manifest.files],
    }


def copy_offsite(context: Any) -> dict[str, Any]:
    """Step 5: copy the set to every target and verify it there."""
    config = backup_config.load()
    name = set_name(context, config)
    folder = config.backup_dir / name
    if not config.targets:
        raise PiakError("tidak ada target salinan (targets) di konfigurasi backup")
    done, failed = [], []
    for target in config.targets:
        try:
            check_target_ready(target)
            report = offsite.copy_set(folder, open_target(target))
        except Exception as exc:
            log.error("Salinan ke %s gagal: %s", target.name, exc)
            failed.append(f"{target.name}: {exc}")
            continue
        update_catalogue(config.backup_dir, name, verified_targets={target.name: _now()})
        counts = f"{len(report.copied)} disalin, {len(report.skipped)} sudah ada"
        done.append(f"{target.name} ({counts})")
    if failed:
        raise PiakError("salinan offsite gagal: " + "; ".join(failed))
    where = ", ".join(f"{t.name}: {t.path}" for t in config.targets)
    return {"output_ref": where, "note": "terverifikasi di " + ", ".join(done)}


def apply_retention(context: Any) -> dict[str, Any]:
    """Retention: keep the policy's daily/weekly/monthly sets; delete others (server and targets).

    Never the newest verified set, never a set whose offsite copies are not all verified. Runs
    only after every earlier step succeeded.
    """
    config = backup_config.load()
    verified = _verified_sets(config)
    keep = keep_by_policy(verified, config.retention)
    if verified:
        keep.add(verified[-1])
    deleted = []
    for name in verified:
        if name in keep:
            continue
        for target in config.targets:
            opened = open_target(target)
            if opened.exists(name):
                opened.rmtree(name)
                deleted.append(f"{target.name}:{name}")
        shutil.rmtree(config.backup_dir / name)
        catalogue_path(config.backup_dir, name).unlink(missing_ok=True)
        deleted.append(f"server:{name}")
    note = ("dihapus: " + ", ".join(deleted)) if deleted else "tidak ada set yang dihapus"
    log.info("Retensi: %s", note)
    return {"output_ref": f"{len(keep)} set disimpan", "note": note}


def _verified_sets(config: backup_config.BackupConfig) -> list[str]:
    """Sets on the server with a valid manifest whose copies on every target are verified."""
    names = []
    targets = {t.name for t in config.targets}
    for folder in backupset.list_sets(config.backup_dir):
        try:
            backupset.load_manifest(folder)
        except backupset.ManifestError:
            continue
        entry = read_catalogue(config.backup_dir, folder.name)
        if targets <= set(entry.get("verified_targets", {})):
            names.append(folder.name)
    return sorted(names, key=_set_time)


def _set_time(name: str) -> str:
    return name.rsplit("_", 1)[1]


def keep_by_policy(names: list[str], retention: backup_config.Retention) -> set[str]:
    """Newest set of each of the last N days, W ISO weeks and M months."""
    ordered = sorted(names, key=_set_time, reverse=True)

    def newest_per(key_of, count: int) -> set[str]:
        chosen: dict[str, str] = {}
        for name in ordered:
            key = key_of(datetime.strptime(_set_time(name), "%Y%m%dT%H%M"))
            if key not in chosen and len(chosen) < count:
                chosen[key] = name
        return set(chosen.values())

    return (
        newest_per(lambda d: d.strftime("%Y%m%d"), retention.daily)
        | newest_per(lambda d: "{}-{:02d}".format(*d.isocalendar()[:2]), retention.weekly)
        | newest_per(lambda d: d.strftime("%Y%m"), retention.monthly)
    )


def summarize(context: Any) -> dict[str, Any]:
    """Step 8: the hand-over in the agenda: set, size, checksums, where the copies lie."""
    config = backup_config.load()
    name = set_name(context, config)
    manifest = backupset.load_manifest(config.backup_dir / name)
    entry = read_catalogue(config.backup_dir, name)
    sums = ", ".join(f"{f.name} sha256={f.sha256[:16]}…" for f in manifest.files)
    places = ", ".join(sorted(entry.get("verified_targets", {})))
    return {
        "output_ref": name,
        "note": f"{manifest.total_size} byte; {sums}; salinan terverifikasi: {places}",
    }


def _now() -> str:
    return datetime.now(UTC).isoformat()
