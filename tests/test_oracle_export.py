"""Oracle Data Pump over real SSH (a real sshd on loopback) against a TEST STAND-IN expdp
(tests/oracle_standin/expdp) that writes Data Pump's documented log lines and exit codes.
No Oracle server can be installed here; this proves everything around expdp for real."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import paramiko
import pytest

from piak import backup_config, backupset, oracle_export
from piak.errors import PiakError

STANDIN = Path(__file__).resolve().parent / "oracle_standin" / "expdp"
PASSWORD = "Rahasia-Sekali-123"


@pytest.fixture
def server_dir(tmp_path) -> Path:
    folder = tmp_path / "dpdump"
    folder.mkdir()
    return folder


@pytest.fixture
def config(tmp_path, server_dir) -> backup_config.BackupConfig:
    return backup_config.BackupConfig(
        label="siak",
        schedule=None,
        engine="oracle",
        backup_dir=tmp_path / "backups",
        targets=(),
        retention=backup_config.Retention(),
        oracle=backup_config.OracleConfig(
            ssh_conn_id="siak_server",
            db_conn_id="siak_oracle",
            directory="DATA_PUMP_DIR",
            server_dir=str(server_dir),
            schemas=("SIAKOFF",),
            full=False,
            filesize="4G",
            checksum=False,
            timeout=timedelta(seconds=20),
            expdp=str(STANDIN),
        ),
    )


@pytest.fixture
def connections(monkeypatch, sshd):
    """Airflow Connections as environment variables, as a deployment would set them."""
    key = Path(sshd["key_file"]).read_text()
    ssh = {
        "conn_type": "ssh",
        "host": sshd["host"],
        "port": sshd["port"],
        "login": sshd["user"],
        "extra": {"private_key": key, "host_key": " ".join(sshd["host_key"])},
    }
    oracle = {
        "conn_type": "oracle",
        "host": "db.siak.local",
        "port": 1521,
        "login": "BACKUP_OP",
        "password": PASSWORD,
        "schema": "SIAK",
    }
    monkeypatch.setenv("AIRFLOW_CONN_SIAK_SERVER", json.dumps(ssh))
    monkeypatch.setenv("AIRFLOW_CONN_SIAK_ORACLE", json.dumps(oracle))


@pytest.fixture
def client(sshd, connections):
    ssh = paramiko.SSHClient()
    ssh.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    ssh.connect(
        sshd["host"], port=sshd["port"], username=sshd["user"], key_filename=sshd["key_file"]
    )
    yield ssh
    ssh.close()


def scenario(server_dir: Path, name: str) -> None:
    (server_dir / ".standin_scenario").write_text(name)


def test_export_over_ssh_builds_a_verified_set_and_hides_the_password(
    config, server_dir, connections, tmp_path
):
    scenario(server_dir, "success")
    folder = oracle_export.export(config, "siak_20261124T2300")  # through the SSH Connection
    manifest = backupset.load_manifest(folder)
    assert backupset.verify_set(folder).ok
    assert [f.name for f in manifest.files] == [
        "siak_20261124T2300.log",
        "siak_20261124T2300_01.dmp",
        "siak_20261124T2300_02.dmp",
    ]
    assert manifest.row_counts["SIAKOFF.BIODATA_WNI"] == 1000000
    assert manifest.engine == "oracle-datapump"
    # the parameter file was owner-only, is gone, and the command line carried no secret
    assert Path("/tmp/standin-expdp/last_parfile_mode").read_text() == "0o600"
    argv = Path("/tmp/standin-expdp/last_argv").read_text()
    assert "PARFILE=" in argv and PASSWORD not in argv
    assert not list(server_dir.glob(".*.par"))
    for path in folder.iterdir():
        assert PASSWORD not in path.read_text(errors="replace"), path.name
    assert not list(server_dir.glob("*.dmp")), "dump files are moved into the set"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("errors", r"kode keluar 5.*selesai dengan 2 galat(.|\n)*ORA-31693"),
        ("ora_fatal", r"kode keluar 1(.|\n)*ORA-01555"),
        ("ude", "log Data Pump tidak ditemukan"),
        ("nolog", "log Data Pump tidak ditemukan"),
        ("existing", "ORA-27038"),
    ],
)
def test_failed_exports_fail_with_the_lines_that_say_why(
    config, server_dir, client, name, expected
):
    scenario(server_dir, name)
    with pytest.raises(PiakError, match=expected) as error:
        oracle_export.export(config, "siak_20261124T2300", ssh_client=client)
    assert PASSWORD not in str(error.value)
    assert not (config.backup_dir / "siak_20261124T2300").exists()
    assert not list(config.backup_dir.glob(".*partial")) if config.backup_dir.exists() else True
    assert not list(server_dir.glob(".*.par"))


def test_a_hanging_export_is_stopped_by_the_timeout(config, server_dir, client):
    scenario(server_dir, "hang")
    short = backup_config.OracleConfig(
        **{**config.oracle.__dict__, "timeout": timedelta(seconds=3)}
    )
    hanging = backup_config.BackupConfig(**{**config.__dict__, "oracle": short})
    with pytest.raises(PiakError, match="tidak selesai dalam"):
        oracle_export.export(hanging, "siak_20261124T2300", ssh_client=client)
    assert not list(server_dir.glob(".*.par"))


def test_a_rerun_after_a_failure_cleans_leftovers_and_succeeds(config, server_dir, client):
    scenario(server_dir, "ora_fatal")
    with pytest.raises(PiakError):
        oracle_export.export(config, "siak_20261124T2300", ssh_client=client)
    assert list(server_dir.glob("*.dmp"))  # the failed try left dump files behind
    scenario(server_dir, "success")
    folder = oracle_export.export(config, "siak_20261124T2300", ssh_client=client)
    assert backupset.verify_set(folder).ok
    shutil.rmtree(folder)


def test_offsite_copy_to_sftp_is_verified_and_resumes(config, client, tmp_path):
    from piak import demo_db, offsite, sqlite_backup
    from piak.sftp_target import SftpTarget

    source = tmp_path / "siak.db"
    demo_db.generate(source, residents=300)
    folder = sqlite_backup.backup(source, tmp_path / "server", "siak_20261124T2300", database="s")
    remote_root = tmp_path / "nas"
    target = SftpTarget(conn_id=None, root=str(remote_root), name="nas", client=client.open_sftp())
    report = offsite.copy_set(folder, target)
    assert report.copied == ["database.sqlite3"]
    assert backupset.verify_set(remote_root / folder.name).ok
    assert offsite.verify_copy(target, folder.name) == []
    assert offsite.copy_set(folder, target).skipped == ["database.sqlite3"]

    data = bytearray((remote_root / folder.name / "database.sqlite3").read_bytes())
    data[100] ^= 1
    (remote_root / folder.name / "database.sqlite3").write_bytes(bytes(data))
    assert offsite.verify_copy(target, folder.name) == [
        f"nas: {folder.name}/database.sqlite3 rusak"
    ]
    assert offsite.copy_set(folder, target).copied == ["database.sqlite3"]
    target.rmtree(folder.name)
    assert not (remote_root / folder.name).exists()


def test_ssh_connection_lost_mid_transfer_leaves_no_copy_and_a_rerun_completes(
    sshd, client, tmp_path, monkeypatch
):
    from piak import demo_db, offsite, sqlite_backup
    from piak.sftp_target import SftpTarget

    source = tmp_path / "siak.db"
    demo_db.generate(source, residents=20000)
    folder = sqlite_backup.backup(source, tmp_path / "server", "siak_20261124T2300", database="s")
    remote_root = tmp_path / "nas"

    class DroppingLink(SftpTarget):
        """The SSH connection dies after the first megabyte has gone over the wire."""

        def open_write(self, path):
            handle = super().open_write(path)
            original, sent = handle.write, [0]

            def write(data):
                if sent[0] > 1024 * 1024:
                    client.get_transport().close()
                sent[0] += len(data)
                return original(data)

            handle.write = write
            return handle

    dropping = DroppingLink(
        conn_id=None, root=str(remote_root), name="nas", client=client.open_sftp()
    )
    monkeypatch.setattr(offsite, "CHUNK", 256 * 1024)  # several writes for a small file
    with pytest.raises((OSError, EOFError, paramiko.SSHException)):
        offsite.copy_set(folder, dropping)
    final = remote_root / folder.name / "database.sqlite3"
    assert not final.exists(), "nothing unverified ever carries the final name"
    assert not (remote_root / folder.name / "manifest.json").exists()

    fresh = paramiko.SSHClient()
    fresh.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    fresh.connect(
        sshd["host"], port=sshd["port"], username=sshd["user"], key_filename=sshd["key_file"]
    )
    try:
        target = SftpTarget(
            conn_id=None, root=str(remote_root), name="nas", client=fresh.open_sftp()
        )
        assert offsite.copy_set(folder, target).copied == ["database.sqlite3"]
        assert backupset.verify_set(remote_root / folder.name).ok
        assert not list((remote_root / folder.name).glob("*.partial"))
    finally:
        fresh.close()
