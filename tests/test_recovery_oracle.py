"""The backup and recovery DAGs' step code with ``engine: oracle``, as the tasks run it: Data Pump
over a real sshd on loopback (Airflow Connections from the environment) against the TEST
STAND-INs expdp/impdp in tests/oracle_standin. No Oracle server is involved."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from oracle_helpers import EXPDP, IMPDP, PASSWORD

from piak.core.errors import PiakError
from piak.engines import backup_config, backupset
from piak.sops import backup, recovery

WIB = ZoneInfo("Asia/Jakarta")
SET = "siak_20261120T2300"


@pytest.fixture
def home(tmp_path, monkeypatch, oracle_server_dir, oracle_connections) -> Path:
    monkeypatch.setenv("PIAK_HOME", str(tmp_path))
    config = tmp_path / "backup.yaml"
    config.write_text(
        f"""
label: siak
schedule: null
engine: oracle
backup_dir: backups
targets:
  - {{name: flashdisk, type: path, path: media/flashdisk/piak}}
recovery: {{evidence_dir: recovery}}
oracle:
  ssh_conn_id: siak_server
  db_conn_id: siak_oracle
  directory: DATA_PUMP_DIR
  server_dir: {oracle_server_dir}
  schemas: [SIAKOFF]
  timeout: 1m
  expdp: {EXPDP}
  impdp: {IMPDP}
  scratch_schema: SIAKOFF_SCRATCH
  table_exists_action: TRUNCATE
"""
    )
    monkeypatch.setenv("PIAK_BACKUP_FILE", str(config))
    (tmp_path / "media" / "flashdisk").mkdir(parents=True)
    ctx = {"logical_date": datetime(2026, 11, 20, 23, 0, tzinfo=WIB)}
    for step in (backup.prepare, backup.export, backup.place, backup.copy_offsite):
        step(ctx)
    return tmp_path


def run_recovery(**params) -> tuple[dict, Path]:
    ctx = {"logical_date": datetime(2026, 11, 21, 9, 30, tzinfo=WIB), "params": params}
    results = {}
    for step in ("prepare", "verify", "dry_run", "safety_export", "import_set", "validate"):
        results[step] = getattr(recovery, step)(ctx)
    results["summary"] = recovery.summarize(ctx)
    return results, recovery.run_dir(ctx, backup_config.load())


def test_oracle_recovery_into_scratch_validates_against_the_manifest(home):
    results, evidence = run_recovery(set_name=SET)
    manifest = backupset.load_manifest(home / "backups" / SET)
    report = json.loads((evidence / "validation.json").read_text())
    assert {r["table"]: r["actual"] for r in report["tables"]} == manifest.row_counts
    assert 'imported "SIAKOFF_SCRATCH".' in (evidence / "impdp-scratch.log").read_text()
    assert Path(results["dry_run"]["output_ref"]).is_file()  # the SQLFILE DDL, kept as evidence
    for path in evidence.rglob("*"):
        if path.is_file():
            assert PASSWORD not in path.read_text(errors="replace"), path


def test_oracle_recovery_into_production_exports_a_safety_set_first(home):
    results, _ = run_recovery(set_name=SET, target="production", confirmation="SIAKOFF")
    safety = home / "backups" / "siak_pra_pulih_20261121T0930"
    assert backupset.verify_set(safety).ok
    assert backupset.load_manifest(safety).engine == "oracle-datapump"
    assert "sama dengan manifest" in results["validate"]["note"]


def test_an_oracle_recovery_with_import_errors_fails_at_the_import(home, oracle_server_dir):
    from oracle_helpers import scenario

    ctx = {"logical_date": datetime(2026, 11, 21, 9, 30, tzinfo=WIB), "params": {"set_name": SET}}
    for step in ("prepare", "verify", "dry_run", "safety_export"):
        getattr(recovery, step)(ctx)
    scenario(oracle_server_dir, "errors")
    with pytest.raises(PiakError, match="ORA-") as failure:
        recovery.import_set(ctx)
    assert PASSWORD not in str(failure.value)
    with pytest.raises(PiakError, match="belum selesai"):
        recovery.validate(ctx)
