"""Backup configuration (``config/backup.yaml`` or ``PIAK_BACKUP_FILE``), validated.

Relative paths are under ``PIAK_HOME``. Credentials are never here: Oracle and SFTP targets name
Airflow Connections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from piak import datapump, settings
from piak.errors import PiakError
from piak.timeouts import parse_duration

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class TargetConfig:
    name: str
    type: str  # "path" or "sftp"
    path: str
    conn_id: str | None = None


@dataclass(frozen=True)
class Retention:
    daily: int = 7
    weekly: int = 4
    monthly: int = 6


@dataclass(frozen=True)
class OracleConfig:
    ssh_conn_id: str
    db_conn_id: str | None
    directory: str
    server_dir: str
    schemas: tuple[str, ...]
    full: bool
    filesize: str
    checksum: bool
    timeout: timedelta
    expdp: str = "expdp"
    impdp: str = "impdp"
    scratch_schema: str | None = None  # REMAP_SCHEMA target of scratch restores
    table_exists_action: str | None = None  # production restores; required there, no default
    scratch_table_exists_action: str = "TRUNCATE"  # scratch restores; REPLACE is refused


@dataclass(frozen=True)
class RecoveryConfig:
    """Recovery and the weekly restore drill (the ``recovery:`` section)."""

    scratch_sqlite: Path  # embedded engine: where scratch restores go
    evidence_dir: Path  # per-run folders: dry-run DDL, import logs, validation reports
    drill_schedule: str | None = "0 2 * * 0"  # cron, WIB
    production_name: str | None = None  # what a production restore must be confirmed with


@dataclass(frozen=True)
class BackupConfig:
    label: str
    schedule: str | None
    engine: str
    backup_dir: Path
    targets: tuple[TargetConfig, ...]
    retention: Retention
    sqlite_database: Path | None = None
    oracle: OracleConfig | None = None
    notifier: str = "piak.notify:LogNotifier"
    source: Path = field(default=Path("."))
    recovery: RecoveryConfig | None = None

    @property
    def production_name(self) -> str:
        """The name a production restore must be confirmed with (shown in the trigger form)."""
        if self.recovery and self.recovery.production_name:
            return self.recovery.production_name
        if self.engine == "sqlite" and self.sqlite_database:
            return self.sqlite_database.name
        return ",".join(self.oracle.schemas) if self.oracle and self.oracle.schemas else "FULL"


def config_file() -> Path:
    return settings.config_file("PIAK_BACKUP_FILE", "backup.yaml")


def _path(value: Any, where: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise PiakError(f"{where}: harus path")
    path = Path(value)
    return path if path.is_absolute() else settings.home() / path


def _recovery(raw: Any, where: Any) -> RecoveryConfig:
    if not isinstance(raw, dict):
        raise PiakError(f"{where('recovery')}: harus berupa mapping")
    name = raw.get("production_name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise PiakError(f"{where('recovery.production_name')}: harus teks")
    return RecoveryConfig(
        scratch_sqlite=_path(
            raw.get("scratch_sqlite", "storage/scratch/siak_scratch.db"),
            where("recovery.scratch_sqlite"),
        ),
        evidence_dir=_path(
            raw.get("evidence_dir", "storage/recovery"), where("recovery.evidence_dir")
        ),
        drill_schedule=raw.get("drill_schedule", "0 2 * * 0"),
        production_name=name,
    )


def _oracle_import(oracle: dict[str, Any], where: Any) -> dict[str, Any]:
    """The ``oracle:`` keys of recovery (impdp): checked here so a bad value stops the load."""
    found: dict[str, Any] = {"impdp": str(oracle.get("impdp", "impdp"))}
    try:
        if oracle.get("scratch_schema") is not None:
            found["scratch_schema"] = datapump.identifier(
                oracle["scratch_schema"], "scratch_schema"
            )
        if oracle.get("table_exists_action") is not None:
            found["table_exists_action"] = datapump.exists_action(
                oracle["table_exists_action"], "table_exists_action"
            )
        scratch = datapump.exists_action(
            oracle.get("scratch_table_exists_action", "TRUNCATE"), "scratch_table_exists_action"
        )
    except PiakError as exc:
        raise PiakError(f"{where('oracle')}: {exc}") from None
    if scratch == "REPLACE":
        raise PiakError(
            f"{where('oracle.scratch_table_exists_action')}: REPLACE ditolak (restore scratch "
            "memakai REMAP_SCHEMA); pakai TRUNCATE, APPEND atau SKIP"
        )
    schemas = {str(s).upper() for s in oracle.get("schemas") or ()}
    if found.get("scratch_schema") in schemas:
        raise PiakError(f"{where('oracle.scratch_schema')}: tidak boleh sama dengan skema produksi")
    return {**found, "scratch_table_exists_action": scratch}


def load(path: Path | None = None) -> BackupConfig:
    """Read and check the backup configuration; errors name the file and the field."""
    path = path or config_file()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise PiakError(f"{path}: berkas konfigurasi backup tidak ditemukan") from None
    except yaml.YAMLError as exc:
        raise PiakError(f"{path}: bukan YAML yang sah: {exc}") from None

    def where(name: str) -> str:
        return f"{path}: {name}"

    label = data.get("label")
    if not isinstance(label, str) or not re.match(r"^[a-z][a-z0-9_]{0,29}$", label):
        raise PiakError(f"{where('label')}: huruf kecil/angka/garis bawah, contoh 'siak'")
    engine = data.get("engine")
    if engine not in ("sqlite", "oracle"):
        raise PiakError(f"{where('engine')}: 'sqlite' atau 'oracle', bukan {engine!r}")
    targets = []
    for i, raw in enumerate(data.get("targets") or []):
        name = raw.get("name") if isinstance(raw, dict) else None
        if not isinstance(name, str) or not _NAME.match(name):
            raise PiakError(f"{where(f'targets[{i}].name')}: nama target tidak sah")
        kind = raw.get("type")
        if kind == "path":
            local = _path(raw.get("path"), where(f"targets[{i}].path"))
            targets.append(TargetConfig(name, kind, str(local)))
        elif kind == "sftp":
            conn_id, remote = raw.get("conn_id"), raw.get("path")
            if not (
                isinstance(conn_id, str) and isinstance(remote, str) and remote.startswith("/")
            ):
                raise PiakError(f"{where(f'targets[{i}]')}: sftp perlu conn_id dan path absolut")
            targets.append(TargetConfig(name, kind, remote, conn_id))
        else:
            raise PiakError(f"{where(f'targets[{i}].type')}: 'path' atau 'sftp', bukan {kind!r}")
    if len({t.name for t in targets}) != len(targets):
        raise PiakError(f"{where('targets')}: nama target harus unik")
    raw_retention = data.get("retention") or {}
    try:
        retention = Retention(**{k: int(v) for k, v in raw_retention.items()})
    except (TypeError, ValueError) as exc:
        raise PiakError(f"{where('retention')}: daily/weekly/monthly harus bilangan bulat") from exc
    if min(retention.daily, retention.weekly, retention.monthly) < 0 or retention.daily < 1:
        raise PiakError(f"{where('retention')}: daily minimal 1, lainnya tidak negatif")
    notifier = data.get("notifier", "piak.notify:LogNotifier")
    if not isinstance(notifier, str) or not re.match(r"^[\w.]+:\w+$", notifier):
        raise PiakError(f"{where('notifier')}: 'modul:Kelas', contoh piak.notify:LogNotifier")
    config = BackupConfig(
        recovery=_recovery(data.get("recovery") or {}, where),
        notifier=notifier,
        label=label,
        schedule=data.get("schedule", "0 23 * * *"),
        engine=engine,
        backup_dir=_path(data.get("backup_dir"), where("backup_dir")),
        targets=tuple(targets),
        retention=retention,
        source=path,
    )
    if engine == "sqlite":
        sqlite = data.get("sqlite") or {}
        database = _path(sqlite.get("database"), where("sqlite.database"))
        return BackupConfig(**{**config.__dict__, "sqlite_database": database})
    oracle = data.get("oracle") or {}
    try:
        oracle_config = OracleConfig(
            ssh_conn_id=str(oracle["ssh_conn_id"]),
            db_conn_id=oracle.get("db_conn_id"),
            directory=str(oracle["directory"]),
            server_dir=str(oracle["server_dir"]),
            schemas=tuple(oracle.get("schemas") or ()),
            full=bool(oracle.get("full", False)),
            filesize=str(oracle.get("filesize", "4G")),
            checksum=bool(oracle.get("checksum", False)),
            timeout=parse_duration(oracle.get("timeout", "4h")),
            expdp=str(oracle.get("expdp", "expdp")),
            **_oracle_import(oracle, where),
        )
    except KeyError as exc:
        raise PiakError(f"{where(f'oracle.{exc.args[0]}')}: wajib ada") from None
    if bool(oracle_config.schemas) == oracle_config.full:
        raise PiakError(f"{where('oracle')}: pilih schemas atau full: true (salah satu)")
    return BackupConfig(**{**config.__dict__, "oracle": oracle_config})
