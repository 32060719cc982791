"""Backup configuration (``config/backup.yaml`` or ``PIAK_BACKUP_FILE``): its typed model.

Relative paths are under ``PIAK_HOME``. Credentials are never here: Oracle and SFTP targets name
Airflow Connections. A bad file ends in one message naming the file, the key and what was
expected (:mod:`piak.core.config`).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from piak.core import settings
from piak.core.config import Duration, HomePath, Strict, checked, home_path, load_model
from piak.engines import datapump

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]
OracleIdentifier = Annotated[str, checked(lambda v: datapump.identifier(v, "nilai"))]
ExistsAction = Annotated[str, checked(lambda v: datapump.exists_action(v, "nilai"))]


class TargetConfig(Strict):
    """An offsite target: a mounted folder (``path``) or an SFTP server (``sftp``)."""

    name: Name
    type: Literal["path", "sftp"]
    path: str
    conn_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _resolve(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("type") == "path" and "path" in data:
            return {**data, "path": str(home_path(data["path"]))}
        return data

    @model_validator(mode="after")
    def _sftp_needs_connection(self) -> TargetConfig:
        if self.type == "sftp" and not (self.conn_id and self.path.startswith("/")):
            raise ValueError("target sftp perlu conn_id dan path absolut di server")
        return self


class Retention(Strict):
    """How many sets to keep: the newest of each of the last N days, weeks and months."""

    daily: Annotated[int, Field(ge=1)] = 7
    weekly: Annotated[int, Field(ge=0)] = 4
    monthly: Annotated[int, Field(ge=0)] = 6


class Freshness(Strict):
    """The freshness check: an alert when the newest verified set is older than ``max_age``."""

    max_age: Duration = timedelta(hours=26)
    schedule: str | None = "15 * * * *"  # cron, WIB


class EncryptionConfig(Strict):
    """Encrypted sets (``encryption:``; :mod:`piak.engines.encryption`). Keys are Airflow
    Connections: ``recipients_conn_id`` holds the office's public keys (extra ``recipients``,
    earlier ones in ``retired``), ``identity_conn_id`` the restore drill's private key (optional:
    without it the server cannot open its own sets, and the drill and recoveries need the key
    handed in)."""

    enabled: bool = True
    recipients_conn_id: str = "piak_backup_recipients"
    identity_conn_id: str | None = "piak_backup_identity"
    age: str = "age"  # the age executable on the Oracle database server (full path if not on PATH)


class SqliteConfig(Strict):
    database: HomePath


class OracleConfig(Strict):
    """Data Pump on the database server over SSH (the ``oracle:`` section).

    ``auth`` says how expdp/impdp log in - never as SYSDBA: ``connection`` (default) takes the
    dedicated backup user's login and password from the Airflow Connection ``db_conn_id``;
    ``wallet`` uses the secure external password store entry ``wallet_alias`` on the server;
    ``os`` an OS-authenticated account (``USERID=/``) of the server's OS user.
    """

    ssh_conn_id: str
    auth: Literal["connection", "wallet", "os"] = "connection"
    db_conn_id: str | None = None
    wallet_alias: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")] | None = None
    directory: OracleIdentifier
    server_dir: Annotated[str, Field(pattern=r"^/")]
    schemas: tuple[OracleIdentifier, ...] = ()
    full: bool = False
    filesize: Annotated[str, Field(pattern=r"^\d+[KMGT]?$")] = "4G"
    checksum: bool = False  # CHECKSUM=YES needs Oracle 21c or later
    logtime: Literal["none", "status", "logfile", "all"] = "none"  # LOGTIME=, 12.1 and later
    metrics: bool = False  # METRICS=YES (worker ids and timings in the log), 12.1 and later
    timeout: Duration = timedelta(hours=4)
    expdp: str = "expdp"
    impdp: str = "impdp"
    scratch_schema: OracleIdentifier | None = None  # REMAP_SCHEMA target of scratch restores
    table_exists_action: ExistsAction | None = None  # production restores; no default
    scratch_table_exists_action: ExistsAction = "TRUNCATE"

    @model_validator(mode="after")
    def _consistent(self) -> OracleConfig:
        if bool(self.schemas) == self.full:
            raise ValueError("pilih schemas atau full: true (salah satu)")
        if self.auth == "connection" and not self.db_conn_id:
            raise ValueError("auth: connection perlu db_conn_id (Connection pengguna backup)")
        if self.auth == "wallet" and not self.wallet_alias:
            raise ValueError("auth: wallet perlu wallet_alias (alias TNS di wallet server)")
        if self.scratch_table_exists_action == "REPLACE":
            raise ValueError(
                "scratch_table_exists_action: REPLACE ditolak (restore scratch memakai "
                "REMAP_SCHEMA); pakai TRUNCATE, APPEND atau SKIP"
            )
        if self.scratch_schema and self.scratch_schema in self.schemas:
            raise ValueError("scratch_schema tidak boleh sama dengan skema produksi")
        return self


class RecoveryConfig(Strict):
    """Recovery and the weekly restore drill (the ``recovery:`` section)."""

    scratch_sqlite: HomePath = Field("storage/scratch/siak_scratch.db", validate_default=True)
    evidence_dir: HomePath = Field("storage/recovery", validate_default=True)
    drill_schedule: str | None = "0 2 * * 0"  # cron, WIB
    production_name: Annotated[str, Field(min_length=1)] | None = None


class BackupConfig(Strict):
    """``config/backup.yaml``."""

    label: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,29}$")]
    schedule: str | None = "0 23 * * *"  # cron, WIB
    engine: Literal["sqlite", "oracle"]
    sqlite: SqliteConfig | None = None
    backup_dir: HomePath
    targets: tuple[TargetConfig, ...] = ()
    retention: Retention = Retention()
    oracle: OracleConfig | None = None
    notifier: Annotated[str, Field(pattern=r"^[\w.]+:\w+$")] = "piak.workflow.notify:OfficeNotifier"
    recovery: RecoveryConfig = Field(default_factory=dict, validate_default=True)
    freshness: Freshness = Freshness()
    encryption: EncryptionConfig = EncryptionConfig()

    @model_validator(mode="after")
    def _engine_section(self) -> BackupConfig:
        if self.engine == "sqlite" and self.sqlite is None:
            raise ValueError("engine sqlite perlu bagian sqlite: {database: ...}")
        if self.engine == "oracle" and self.oracle is None:
            raise ValueError("engine oracle perlu bagian oracle:")
        if len({t.name for t in self.targets}) != len(self.targets):
            raise ValueError("targets: nama target harus unik")
        return self

    @property
    def sqlite_database(self) -> Path | None:
        return self.sqlite.database if self.sqlite else None

    @property
    def production_name(self) -> str:
        """The name a production restore must be confirmed with (shown in the trigger form)."""
        if self.recovery.production_name:
            return self.recovery.production_name
        if self.engine == "sqlite" and self.sqlite_database:
            return self.sqlite_database.name
        return ",".join(self.oracle.schemas) if self.oracle and self.oracle.schemas else "FULL"


def config_file() -> Path:
    return settings.config_file("PIAK_BACKUP_FILE", "backup.yaml")


def load(path: Path | None = None) -> BackupConfig:
    """Read and check the backup configuration; errors name the file and the key."""
    path = path or config_file()
    config = load_model(path, BackupConfig, "backup")
    if config.engine == "sqlite":  # the oracle: section is documentation for the embedded engine
        return config.model_copy(update={"oracle": None})
    return config
