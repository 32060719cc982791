"""Airflow DAG serving SOP Prosedur Backup database: is the newest verified set fresh enough?

Hourly (``freshness.schedule``): fails - and so alerts through the configured notifier - when
the newest set verified on the server and every offsite target is older than
``freshness.max_age`` (default 26 hours), whatever stopped the nightly backups."""

from __future__ import annotations

from airflow.providers.standard.operators.python import PythonOperator

from piak.engines import backup_config
from piak.sops import backup
from piak.workflow import notify
from piak.workflow.dagkit import CHECK_TIMEOUT, sop_dag

CONFIG = backup_config.load()

with sop_dag(
    "backup_database",
    dag_id="backup_freshness",
    schedule=CONFIG.freshness.schedule,
    tags=["backup", "monitoring"],
    failure_notifier=notify.build(CONFIG.notifier, title="Kesegaran backup SIAK"),
):
    PythonOperator(
        task_id="check_backup_freshness",
        python_callable=backup.check_freshness,
        execution_timeout=CHECK_TIMEOUT,
        doc_md=(
            "Set cadangan terverifikasi terbaru harus lebih muda dari batas "
            "`freshness.max_age` di `config/backup.yaml`; bila tidak, pemberitahuan dikirim."
        ),
    )
