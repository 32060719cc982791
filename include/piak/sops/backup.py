"""SOP "Prosedur Backup database": the code of its operational steps.

Every function takes the task context and is idempotent: the set name comes from the run's date
(WIB), a finished and verified set is never made twice, copies resume, and nothing is deleted on a
failed run.
"""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from piak.core.errors import InvalidRequest, PiakError
from piak.engines import backends as engines
from piak.engines import backup_config, backupset, catalogue, encryption, offsite
from piak.workflow.steps import run_date

log = logging.getLogger(__name__)
SPACE_MARGIN = 1.1


# -- targets -------------------------------------------------------------------------------


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
        free = offsite.open_target(target).free_bytes()
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
    folder = engines.make_set(config, name)
    manifest = backupset.load_manifest(folder)
    sealed = "terenkripsi" if manifest.encrypted else "TIDAK terenkripsi"
    return {
        "output_ref": str(folder),
        "note": f"{len(manifest.files)} berkas {sealed}, {manifest.total_size / 1e6:.1f} MB",
    }


def place(context: Any) -> dict[str, Any]:
    """Steps 3-4: the set in its own folder, checked against its manifest."""
    config = backup_config.load()
    name = set_name(context, config)
    folder = config.backup_dir / name
    check = backupset.verify_set(folder, identities=encryption.identities_for(config))
    check.raise_for_problems()
    manifest = backupset.load_manifest(folder)
    catalogue.update(
        config.backup_dir,
        name,
        server_verified_at=_now(),
        size=manifest.total_size,
        exported_at=manifest.finished_at,
        manifest_sha256=manifest.digest,
        recipients=manifest.recipients,
    )
    unchecked = f"; {'; '.join(check.unchecked)}" if check.unchecked else ""
    return {
        "output_ref": str(folder),
        "note": f"set {name} utuh: {len(manifest.files)} berkas, {manifest.total_size} byte"
        + unchecked,
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
            report = offsite.copy_set(folder, offsite.open_target(target))
        except Exception as exc:
            log.error("Salinan ke %s gagal: %s", target.name, exc)
            failed.append(f"{target.name}: {exc}")
            continue
        catalogue.update(config.backup_dir, name, verified_targets={target.name: _now()})
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
            opened = offsite.open_target(target)
            if opened.exists(name):
                opened.rmtree(name)
                deleted.append(f"{target.name}:{name}")
        shutil.rmtree(config.backup_dir / name)
        catalogue.forget(config.backup_dir, name)
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
        entry = catalogue.read(config.backup_dir, folder.name)
        if targets <= set(entry.get("verified_targets", {})):
            names.append(folder.name)
    return sorted(names, key=catalogue.set_time)


def keep_by_policy(names: list[str], retention: backup_config.Retention) -> set[str]:
    """Newest set of each of the last N days, W ISO weeks and M months."""
    ordered = sorted(names, key=catalogue.set_time, reverse=True)

    def newest_per(key_of, count: int) -> set[str]:
        chosen: dict[str, str] = {}
        for name in ordered:
            key = key_of(datetime.strptime(catalogue.set_time(name), "%Y%m%dT%H%M"))
            if key not in chosen and len(chosen) < count:
                chosen[key] = name
        return set(chosen.values())

    return (
        newest_per(lambda d: d.strftime("%Y%m%d"), retention.daily)
        | newest_per(lambda d: "{}-{:02d}".format(*d.isocalendar()[:2]), retention.weekly)
        | newest_per(lambda d: d.strftime("%Y%m"), retention.monthly)
    )


def handover_set(context: Any) -> str:
    """The set a hand-over run is about (its trigger form / the backup run that started it)."""
    name = (context.get("params") or {}).get("set_name")
    try:
        return backupset.validate_set_name(name)
    except PiakError as exc:
        raise InvalidRequest(f"set_name: {exc}") from None


def handover_evidence(context: Any) -> dict[str, Any]:
    """Before the hand-over: the set on the server and every offsite copy read again against the
    server's manifest (every file's SHA-256, the rows recorded from the source). What the Kasi
    and the Kabid see in their sign-offs is this evidence, not a command to run."""
    config = backup_config.load()
    name = handover_set(context)
    folder = config.backup_dir / name
    if not folder.is_dir():
        raise PiakError(f"set {name} tidak ada lagi di server (dihapus retensi?)")
    check = backupset.verify_set(folder, identities=encryption.identities_for(config))
    check.raise_for_problems()
    manifest = backupset.load_manifest(folder)
    problems: list[str] = []
    for target in config.targets:
        problems += offsite.verify_copy(offsite.open_target(target), name, manifest)
    if problems:
        raise PiakError(f"salinan set {name} tidak utuh: " + "; ".join(problems))
    checked_at = _now()
    catalogue.update(config.backup_dir, name, handover_verified_at=checked_at)
    rows = sum(manifest.row_counts.values())
    return {
        "output_ref": name,
        "note": f"diverifikasi ulang: server dan {len(config.targets)} salinan cocok; {rows} baris",
        "set": name,
        "size": manifest.total_size,
        "exported_at": manifest.finished_at,
        "checked_at": checked_at,
        "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in manifest.files],
        "tables": len(manifest.row_counts),
        "rows": rows,
        "row_counts": dict(sorted(manifest.row_counts.items())),
        "targets": [{"name": t.name, "path": t.path} for t in config.targets],
        "warnings": list(manifest.extra.get("datapump_warnings") or []),
        "encrypted": manifest.encrypted,
        "contents_checked": not check.unchecked,
    }


def record_handover(context: Any) -> dict[str, Any]:
    """Step 8: the hand-over in the agenda: set, size, checksums, where the copies lie."""
    config = backup_config.load()
    name = handover_set(context)
    manifest = backupset.load_manifest(config.backup_dir / name)
    entry = catalogue.update(config.backup_dir, name, handed_over_at=_now())
    sums = ", ".join(f"{f.name} sha256={f.sha256[:16]}…" for f in manifest.files)
    places = ", ".join(sorted(entry.get("verified_targets", {})))
    return {
        "output_ref": name,
        "note": f"{manifest.total_size} byte; {sums}; salinan terverifikasi: {places}",
    }


def check_freshness(context: Any) -> dict[str, Any]:
    """The freshness check: fails (and so alerts through the DAG's notifier) when the newest
    fully verified set is older than ``freshness.max_age``, whatever stopped the backups."""
    config = backup_config.load()
    status = catalogue.freshness(config)
    limit = f"{status['max_age_hours']:g} jam"
    if status["set"] is None:
        raise PiakError(f"BASI: belum ada set cadangan terverifikasi (batas {limit})")
    if status["stale"]:
        raise PiakError(
            f"BASI: set terverifikasi terbaru {status['set']} berumur {status['age_hours']} jam, "
            f"lebih dari batas {limit}: backup malam tidak berjalan atau tidak lengkap"
        )
    log.info("Set terverifikasi terbaru %s berumur %s jam", status["set"], status["age_hours"])
    return status


def _now() -> str:
    return datetime.now(UTC).isoformat()
