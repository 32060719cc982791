"""Oracle Data Pump import (recovery) over real SSH (a real sshd on loopback) against a TEST
STAND-IN impdp (tests/oracle_standin/impdp) with Data Pump's documented log lines and exit codes.
The input set is made by the real export code against the expdp stand-in. No Oracle server can
be installed here; this proves everything around impdp for real."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from oracle_helpers import PASSWORD, scenario, with_oracle

from piak.core.errors import PiakError
from piak.engines import (
    backup_config,
    backupset,
    datapump,
    oracle_export,
    oracle_import,
    oracle_ssh,
)

SET = "siak_20261124T2300"
RUN = "database_recovery/manual__2026-11-25T02:00:00+07:00"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def oracle_set(oracle_config, oracle_server_dir, ssh_client) -> Path:
    """A set made by the real export code (through the expdp stand-in)."""
    scenario(oracle_server_dir, "success")
    return oracle_export.export(oracle_config, SET, ssh_client=ssh_client)


@pytest.fixture
def evidence(tmp_path) -> Path:
    return tmp_path / "evidence"


def restore(config, folder, evidence, client=None, *, target="scratch", **options):
    """``oracle_import.import_set`` of this module's run; ``client`` None = the SSH Connection."""
    return oracle_import.import_set(
        config,
        folder,
        target=target,
        run_key=RUN,
        evidence_dir=evidence,
        ssh_client=client,
        **options,
    )


def production(config: backup_config.BackupConfig, action: str = "TRUNCATE"):
    return with_oracle(config, table_exists_action=action)


def recorded(server_dir: Path) -> dict:
    """The parameters the impdp stand-in read (USERID left out by the stand-in)."""
    return json.loads((server_dir / ".standin_impdp_params.json").read_text())


def database(server_dir: Path) -> dict[str, int]:
    """The stand-in's "database": rows of the tables that exist."""
    path = server_dir / ".standin_db.json"
    return json.loads(path.read_text()) if path.exists() else {}


def assert_clean_server(server_dir: Path) -> None:
    """No dump file, upload, upload list, half-sent file or parameter file left behind."""
    left = [p.name for p in server_dir.iterdir() if p.name.endswith((".dmp", ".part", ".par"))]
    left += [p.name for p in server_dir.glob(".*.uploads")]
    assert left == []


def assert_no_password(*places: Path | str) -> None:
    for place in places:
        if isinstance(place, str):
            assert PASSWORD not in place
            continue
        for path in [place] if place.is_file() else place.rglob("*"):
            if path.is_file():
                assert PASSWORD not in path.read_text(errors="replace"), path


def test_scratch_import_restores_the_manifest_counts_and_hides_the_password(
    oracle_config, oracle_server_dir, ssh_client, oracle_set, evidence
):
    manifest = backupset.load_manifest(oracle_set)
    result = restore(oracle_config, oracle_set, evidence, ssh_client)
    assert result.row_counts == manifest.row_counts  # REMAP mapped back to SIAKOFF
    assert set(database(oracle_server_dir)) == {
        "SIAKOFF_SCRATCH.BIODATA_WNI",
        "SIAKOFF_SCRATCH.DATA_KELUARGA",
        "SIAKOFF_SCRATCH.SETUP_KEL",
    }
    params = recorded(oracle_server_dir)
    assert params["REMAP_SCHEMA"] == ["SIAKOFF:SIAKOFF_SCRATCH"]
    assert params["TABLE_EXISTS_ACTION"] == "TRUNCATE"
    assert params["SCHEMAS"] == "SIAKOFF" and "TABLES" not in params
    assert params["DUMPFILE"] == f"{SET}_01.dmp,{SET}_02.dmp"
    assert params["USERID_GIVEN"] is True and params["JOB_NAME"].startswith("PIAK_IMP_")
    assert (oracle_server_dir / ".standin_impdp_parfile_mode").read_text() == "0o600"
    argv = (oracle_server_dir / ".standin_impdp_argv").read_text().split()
    assert len(argv) == 2 and argv[1].startswith("PARFILE=")
    assert result.log_file == evidence / "impdp-scratch.log"
    assert result.log_file.read_text() == result.log_text
    assert "successfully completed" in result.log_text
    assert_clean_server(oracle_server_dir)
    assert_no_password(oracle_server_dir, evidence, result.log_text, repr(result))
    assert backupset.verify_set(oracle_set).ok, "the set itself is never touched"

    # the scratch tables exist now: TRUNCATE, then load
    again = restore(oracle_config, oracle_set, evidence, ssh_client)
    assert again.row_counts == manifest.row_counts
    assert "has been truncated" in again.log_text


def test_production_import_uses_the_configured_table_exists_action(
    oracle_config, oracle_server_dir, ssh_client, oracle_set, evidence, oracle_connections
):
    (oracle_server_dir / ".standin_db.json").write_text(json.dumps({"SIAKOFF.SETUP_KEL": 5}))
    # through the Airflow SSH Connection this time
    result = restore(
        production(oracle_config),
        oracle_set,
        evidence,
        target="production",
        tables=["SIAKOFF.SETUP_KEL"],
    )
    assert result.row_counts == {"SIAKOFF.SETUP_KEL": 72}
    assert database(oracle_server_dir) == {"SIAKOFF.SETUP_KEL": 72}
    params = recorded(oracle_server_dir)
    assert params["TABLES"] == "SIAKOFF.SETUP_KEL" and "SCHEMAS" not in params
    assert params["TABLE_EXISTS_ACTION"] == "TRUNCATE" and params["REMAP_SCHEMA"] == []
    assert result.log_file == evidence / "impdp-production.log"
    assert_clean_server(oracle_server_dir)
    assert_no_password(oracle_server_dir, evidence)


def test_an_identical_dump_already_on_the_server_is_used_and_left_in_place(
    oracle_config, oracle_server_dir, ssh_client, oracle_set, evidence
):
    first = oracle_server_dir / f"{SET}_01.dmp"
    shutil.copy2(oracle_set / first.name, first)
    inode = first.stat().st_ino
    damaged = oracle_server_dir / f"{SET}_02.dmp"
    damaged.write_bytes(b"not the file of the manifest")
    restore(oracle_config, oracle_set, evidence, ssh_client)
    assert first.stat().st_ino == inode, "identical: not uploaded again, not ours to remove"
    assert not damaged.exists(), "a different file of that name was replaced, used and removed"


@pytest.mark.parametrize(
    ("config_change", "target", "expected"),
    [
        ({}, "production", "oracle.table_exists_action belum diisi"),
        (
            {"scratch_table_exists_action": "REPLACE"},
            "scratch",
            "REMAP_SCHEMA bersama TABLE_EXISTS_ACTION=REPLACE ditolak",
        ),
        ({"scratch_schema": None}, "scratch", "scratch_schema belum diisi"),
        ({"scratch_schema": "SIAKOFF"}, "scratch", "bukan skema scratch itu sendiri"),
        ({"table_exists_action": "DROP"}, "production", "bukan salah satu dari"),
        ({}, "produksi", "tujuan pemulihan 'produksi' tidak dikenal"),
    ],
)
def test_unsafe_or_incomplete_requests_are_refused_before_anything_is_uploaded(
    oracle_config,
    oracle_server_dir,
    ssh_client,
    oracle_set,
    evidence,
    config_change,
    target,
    expected,
):
    before = sorted(p.name for p in oracle_server_dir.iterdir())
    with pytest.raises(PiakError, match=expected):
        restore(
            with_oracle(oracle_config, **config_change),
            oracle_set,
            evidence,
            ssh_client,
            target=target,
        )
    assert sorted(p.name for p in oracle_server_dir.iterdir()) == before
    assert not evidence.exists()


@pytest.mark.parametrize(
    ("tables", "expected"),
    [(["NOPE"], "tabel 'NOPE' tidak ada di set"), (["SIAKOFF.X;DROP"], "tidak ada di set")],
)
def test_unknown_tables_are_refused_before_anything_is_uploaded(
    oracle_config, oracle_server_dir, ssh_client, oracle_set, evidence, tables, expected
):
    before = sorted(p.name for p in oracle_server_dir.iterdir())
    with pytest.raises(PiakError, match=expected):
        oracle_import.import_set(
            oracle_config,
            oracle_set,
            target="dryrun",
            run_key=RUN,
            evidence_dir=evidence,
            tables=tables,
            ssh_client=ssh_client,
        )
    assert sorted(p.name for p in oracle_server_dir.iterdir()) == before


@pytest.mark.parametrize(
    ("name", "expected", "imported"),
    [
        (
            "errors",
            r"kode keluar 5, selesai dengan 1 galat(.|\n)*ORA-31693(.|\n)*ORA-00001",
            ["SIAKOFF.BIODATA_WNI", "SIAKOFF.DATA_KELUARGA"],
        ),
        ("ora_fatal", r"kode keluar 1(.|\n)*ORA-39126(.|\n)*ORA-01653", ["SIAKOFF.BIODATA_WNI"]),
        ("ude", r"log Data Pump tidak ditemukan\nUDI-00018", []),
        ("nolog", r"kode keluar 0(.|\n)*log Data Pump tidak ditemukan", []),
        ("interrupted", r"terhenti tanpa kode", ["SIAKOFF.BIODATA_WNI"]),
    ],
)
def test_failed_imports_say_why_and_what_must_be_redone(
    oracle_config, oracle_server_dir, ssh_client, oracle_set, evidence, name, expected, imported
):
    scenario(oracle_server_dir, name)
    manifest = backupset.load_manifest(oracle_set)
    with pytest.raises(datapump.DataPumpError, match=expected) as error:
        restore(oracle_config, oracle_set, evidence, ssh_client)
    message = str(error.value)
    pending = [t for t in sorted(manifest.row_counts) if t not in imported]
    assert f"Sudah diimpor ({len(imported)} dari 3 tabel): {', '.join(imported) or '-'}" in message
    assert f"Belum diimpor ({len(pending)}): {', '.join(pending)}" in message
    assert "Yang harus diulang: jalankan ulang tugas impor" in message
    assert (evidence / "impdp-scratch.log").exists(), "the log (or the output) is kept"
    assert_clean_server(oracle_server_dir)
    assert_no_password(oracle_server_dir, evidence, message)

    scenario(oracle_server_dir, "success")  # a rerun of the same run completes
    result = restore(oracle_config, oracle_set, evidence, ssh_client)
    assert result.row_counts == manifest.row_counts
    assert_clean_server(oracle_server_dir)


def test_skip_or_append_in_production_says_to_restore_only_the_missing_tables(
    oracle_config, oracle_server_dir, ssh_client, oracle_set, evidence
):
    scenario(oracle_server_dir, "interrupted")
    with pytest.raises(datapump.DataPumpError, match="pulihkan hanya tabel yang belum diimpor"):
        restore(
            production(oracle_config, "APPEND"),
            oracle_set,
            evidence,
            ssh_client,
            target="production",
        )


def test_a_dump_file_gone_from_the_server_fails_with_ora_31640(
    oracle_config, oracle_server_dir, ssh_client, oracle_set, evidence, monkeypatch
):
    run_tool = oracle_ssh.run_tool

    def vanishing(*args, **kwargs):
        (oracle_server_dir / f"{SET}_02.dmp").unlink()
        return run_tool(*args, **kwargs)

    monkeypatch.setattr(oracle_ssh, "run_tool", vanishing)
    with pytest.raises(datapump.DataPumpError, match=r"ORA-39001(.|\n)*ORA-31640"):
        restore(oracle_config, oracle_set, evidence, ssh_client)
    assert_clean_server(oracle_server_dir)


def test_a_hanging_import_is_stopped_by_the_timeout_and_names_the_job(
    oracle_config, oracle_server_dir, ssh_client, oracle_set, evidence
):
    scenario(oracle_server_dir, "hang")
    with pytest.raises(PiakError, match=r"tidak selesai dalam 0:00:03(.|\n)*KILL_JOB") as error:
        restore(
            with_oracle(oracle_config, timeout=timedelta(seconds=3)),
            oracle_set,
            evidence,
            ssh_client,
        )
    assert "Belum diimpor (3)" in str(error.value)
    assert_clean_server(oracle_server_dir)


def test_dry_run_returns_the_ddl_and_executes_nothing(
    oracle_config, oracle_server_dir, ssh_client, oracle_set, evidence
):
    ddl = oracle_import.import_set(
        oracle_config,
        oracle_set,
        target="dryrun",
        run_key=RUN,
        evidence_dir=evidence,
        ssh_client=ssh_client,
    ).ddl_file
    assert ddl == evidence / "impdp-dryrun.sql"
    text = ddl.read_text()
    assert 'CREATE TABLE "SIAKOFF"."BIODATA_WNI"' in text
    assert "IDENTIFIED BY VALUES '********'" in text and "S:5FB7" not in text
    params = recorded(oracle_server_dir)
    assert params["SQLFILE"].endswith(".sql")
    assert "TABLE_EXISTS_ACTION" not in params and params["REMAP_SCHEMA"] == []
    assert database(oracle_server_dir) == {}, "nothing was executed"
    assert "successfully completed" in (evidence / "impdp-dryrun.log").read_text()
    assert not list(oracle_server_dir.glob("*.sql"))
    assert_clean_server(oracle_server_dir)
    assert_no_password(oracle_server_dir, evidence)


def test_a_killed_import_task_leaves_leftovers_that_a_rerun_cleans_and_completes(
    oracle_config, oracle_server_dir, oracle_set, evidence, oracle_connections, tmp_path
):
    """The worker running the import is SIGKILLed while impdp runs: parameter file, uploads and
    upload list stay on the server; the rerun of the same run removes them and completes."""
    scenario(oracle_server_dir, "hang")
    oracle = oracle_config.oracle
    settings = {
        "label": "siak",
        "engine": "oracle",
        "backup_dir": str(oracle_config.backup_dir),
        "oracle": {
            **{k: getattr(oracle, k) for k in ("ssh_conn_id", "db_conn_id", "directory")},
            **{k: getattr(oracle, k) for k in ("server_dir", "impdp", "scratch_schema")},
            "schemas": list(oracle.schemas),
            "timeout": "30m",
        },
    }
    (tmp_path / "backup.yaml").write_text(json.dumps(settings))  # JSON is YAML
    script = (
        "from pathlib import Path\n"
        "from piak.engines import backup_config, oracle_import\n"
        f"config = backup_config.load(Path({str(tmp_path / 'backup.yaml')!r}))\n"
        f"oracle_import.import_set(config, Path({str(oracle_set)!r}), target='scratch',\n"
        f"    run_key={RUN!r}, evidence_dir=Path({str(evidence)!r}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "include")}
    worker = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.monotonic() + 60
        while not (oracle_server_dir / ".standin_impdp_pid").exists():
            assert worker.poll() is None and time.monotonic() < deadline, "impdp never started"
            time.sleep(0.1)
        worker.kill()
    finally:
        worker.wait(10)
    standin = int((oracle_server_dir / ".standin_impdp_pid").read_text())
    os.kill(standin, signal.SIGKILL)  # the DBA stops the job on the server
    left = {p.name for p in oracle_server_dir.iterdir()}
    assert any(name.endswith(".par") for name in left), "the killed try left its parfile"
    assert {f"{SET}_01.dmp", f"{SET}_02.dmp"} <= left

    scenario(oracle_server_dir, "success")
    result = restore(oracle_config, oracle_set, evidence)
    assert result.row_counts == backupset.load_manifest(oracle_set).row_counts
    assert_clean_server(oracle_server_dir)
    assert_no_password(oracle_server_dir, evidence)


def test_import_parameter_file_and_log_reading():
    text = datapump.import_parfile(
        userid=None,
        directory="data_pump_dir",
        dumpfiles=["a_01.dmp", "a_02.dmp"],
        logfile="imp.log",
        tables=["siakoff.biodata_wni"],
        remap_schema={"SIAKOFF": "SIAKOFF_SCRATCH"},
        table_exists_action="truncate",
        job_name="PIAK_IMP_1",
    )
    assert text.splitlines() == [
        "DIRECTORY=DATA_PUMP_DIR",
        "DUMPFILE=a_01.dmp,a_02.dmp",
        "LOGFILE=imp.log",
        "TABLES=SIAKOFF.BIODATA_WNI",
        "REMAP_SCHEMA=SIAKOFF:SIAKOFF_SCRATCH",
        "TABLE_EXISTS_ACTION=TRUNCATE",
        "JOB_NAME=PIAK_IMP_1",
    ]
    with pytest.raises(PiakError, match="REMAP_SCHEMA bersama TABLE_EXISTS_ACTION=REPLACE"):
        datapump.import_parfile(
            userid=None,
            directory="D",
            dumpfiles=["a.dmp"],
            logfile="l.log",
            schemas=["A"],
            remap_schema={"A": "B"},
            table_exists_action="REPLACE",
        )
    for bad in [{"dumpfiles": ["../x.dmp"]}, {"tables": ['A."B"']}, {"userid": "u/p\nFULL=Y"}]:
        with pytest.raises(PiakError):
            datapump.import_parfile(
                **{"userid": None, "directory": "D", "dumpfiles": ["a.dmp"], "logfile": "l.log"}
                | {"schemas": None if "tables" in bad else ["A"]}
                | bad
            )
    log = (
        '. . imported "SH"."SALES":"Q1"                 1.412 MB   43687 rows\n'
        '. . imported "SH"."SALES":"Q2"                 1.100 MB   30000 rows\n'
        '. . imported "HR"."EMPLOYEES"                  17.08 KB     107 rows\n'
        '. . exported "HR"."JOBS"                       7.10 KB      19 rows\n'
    )
    assert datapump.table_rows(log) == {"SH.SALES": 73687, "HR.EMPLOYEES": 107}
    assert datapump.table_rows(log, "exported") == {"HR.JOBS": 19}


def test_the_configuration_checks_the_recovery_keys(tmp_path):
    base = (ROOT / "config" / "backup.yaml").read_text().replace("engine: sqlite", "engine: oracle")
    path = tmp_path / "backup.yaml"
    path.write_text(base)
    oracle = backup_config.load(path).oracle
    assert oracle.impdp == "impdp" and oracle.scratch_schema == "SIAKOFF_SCRATCH"
    assert oracle.table_exists_action is None and oracle.scratch_table_exists_action == "TRUNCATE"
    for old, new, expected in [
        (
            "scratch_table_exists_action: TRUNCATE",
            "scratch_table_exists_action: replace",
            "REPLACE",
        ),
        ("# table_exists_action: TRUNCATE", "table_exists_action: wipe", "bukan salah satu dari"),
        ("scratch_schema: SIAKOFF_SCRATCH", "scratch_schema: siakoff", "skema produksi"),
        ("scratch_schema: SIAKOFF_SCRATCH", 'scratch_schema: "x; y"', "bukan identifier Oracle"),
    ]:
        assert old in base
        path.write_text(base.replace(old, new, 1))
        with pytest.raises(PiakError, match=expected):
            backup_config.load(path)
