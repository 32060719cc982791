"""The database engines behind a backup set, chosen by ``engine`` in ``config/backup.yaml``:
the embedded SQLite (``piak.engines.sqlite_backup``) or Oracle Data Pump over SSH
(``piak.engines.oracle_export``).

One place that makes a set of the configured database - the nightly backup and the safety set
taken before a production recovery both call it - encrypted to the office's keys when
encryption is on.
"""

from __future__ import annotations

from pathlib import Path

from piak.engines import encryption
from piak.engines.backup_config import BackupConfig


def make_set(config: BackupConfig, set_name: str) -> Path:
    """Export the configured database into the set ``set_name`` in ``config.backup_dir``."""
    recipients = encryption.recipients_for(config)
    if config.engine == "sqlite":
        from piak.engines import sqlite_backup

        return sqlite_backup.backup(
            config.sqlite_database,
            config.backup_dir,
            set_name,
            database=config.sqlite_database.name,
            recipients=recipients,
        )
    from piak.engines import oracle_export

    return oracle_export.export(config, set_name, recipients=recipients)
