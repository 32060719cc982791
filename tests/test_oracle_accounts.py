"""How Data Pump logs in, over the real loopback sshd against the TEST STAND-INs: never as SYSDBA,
a dedicated backup user whose password may hold any character Oracle allows, a wallet or OS
authentication as options; and exports in the log formats of modern releases (LOGTIME=ALL,
METRICS=YES, documented warnings)."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from oracle_helpers import PASSWORD, scenario, with_oracle

from piak.core.errors import PiakError
from piak.engines import backup_config, backupset, datapump, oracle_export

ROOT = Path(__file__).resolve().parents[1]
SET = "siak_20261124T2300"
SPECIAL = sorted(set(string.punctuation + " ") - {'"'})


def oracle_connection(monkeypatch, password: str, login: str = "PIAK_BACKUP") -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIAK_ORACLE",
        json.dumps(
            {
                "conn_type": "oracle",
                "host": "db.siak.local",
                "port": 1521,
                "login": login,
                "password": password,
                "schema": "SIAK",
            }
        ),
    )


def logged_in(server_dir: Path) -> dict:
    return json.loads((server_dir / ".standin_login").read_text())


@pytest.mark.parametrize("char", SPECIAL, ids=lambda c: f"U+{ord(c):04X}")
def test_a_password_with_any_special_character_logs_in(
    oracle_config, oracle_server_dir, ssh_client, monkeypatch, char
):
    password = f"Ab1{char}x{char}@/9"
    oracle_connection(monkeypatch, password)
    (oracle_server_dir / ".standin_password").write_text(password, encoding="utf-8")
    folder = oracle_export.export(oracle_config, SET, ssh_client=ssh_client)
    assert backupset.verify_set(folder).ok
    login = logged_in(oracle_server_dir)
    assert login == {"user": "PIAK_BACKUP", "connect": "db.siak.local:1521/SIAK",
                     "sysdba": False, "os_or_wallet": False}  # fmt: skip
    for path in folder.iterdir():
        assert password not in path.read_text(errors="replace")


def test_a_wrong_password_fails_with_oracles_login_error(
    oracle_config, oracle_server_dir, ssh_client
):
    (oracle_server_dir / ".standin_password").write_text("lain-" + PASSWORD)
    with pytest.raises(PiakError, match="ORA-01017") as error:
        oracle_export.export(oracle_config, SET, ssh_client=ssh_client)
    assert PASSWORD not in str(error.value)


@pytest.mark.parametrize(
    ("password", "expected"),
    [('ab"cd', "tanda petik ganda"), ("ab\ncd", "karakter kendali"), ("ab\tcd", "kendali")],
)
def test_a_password_oracle_cannot_take_is_refused_before_anything_runs(
    oracle_config, oracle_server_dir, ssh_client, monkeypatch, password, expected
):
    oracle_connection(monkeypatch, password)
    with pytest.raises(PiakError, match=expected) as error:
        oracle_export.export(oracle_config, SET, ssh_client=ssh_client)
    assert password not in str(error.value)
    assert list(oracle_server_dir.iterdir()) == []  # not even a parameter file was written


@pytest.mark.parametrize(
    ("changes", "userid"),
    [({"auth": "wallet", "wallet_alias": "SIAK_BACKUP"}, "/@SIAK_BACKUP"), ({"auth": "os"}, "/")],
)
def test_wallet_and_os_authentication_send_no_password(
    oracle_config, oracle_server_dir, ssh_client, changes, userid
):
    config = with_oracle(oracle_config, db_conn_id=None, **changes)
    oracle_export.export(config, SET, ssh_client=ssh_client)
    assert logged_in(oracle_server_dir)["os_or_wallet"] is True
    assert logged_in(oracle_server_dir)["sysdba"] is False


def test_the_shipped_configuration_never_logs_in_as_sysdba(tmp_path):
    text = (ROOT / "config" / "backup.yaml").read_text().replace("engine: sqlite", "engine: oracle")
    path = tmp_path / "backup.yaml"
    path.write_text(text)
    oracle = backup_config.load(path).oracle
    assert oracle.auth == "connection" and oracle.db_conn_id
    assert "sysdba" not in text.lower().split("#")[0]
    path.write_text(text.replace("db_conn_id: siak_oracle", "db_conn_id: null"))
    with pytest.raises(PiakError, match="auth: connection perlu db_conn_id"):
        backup_config.load(path)


def test_a_modern_log_with_logtime_and_metrics_makes_a_verified_set(
    oracle_config, oracle_server_dir, ssh_client
):
    config = with_oracle(oracle_config, logtime="all", metrics=True)
    folder = oracle_export.export(config, SET, ssh_client=ssh_client)
    log = (folder / f"{SET}.log").read_text()
    assert ": W-1 . . exported" in log and "using direct_path" in log  # what the log looks like
    manifest = backupset.load_manifest(folder)
    assert manifest.row_counts["SIAKOFF.BIODATA_WNI"] == 1000000
    assert len(manifest.files) == 3 and backupset.verify_set(folder).ok


def test_a_documented_warning_is_kept_in_the_manifest_not_a_failure(
    oracle_config, oracle_server_dir, ssh_client
):
    scenario(oracle_server_dir, "warning")
    folder = oracle_export.export(oracle_config, SET, ssh_client=ssh_client)
    warnings = backupset.load_manifest(folder).extra["datapump_warnings"]
    assert warnings and warnings[0].startswith("ORA-39173")
    assert set(datapump.WARNINGS) >= {w.split(":")[0] for w in warnings}
