"""Oracle Data Pump over real SSH (a real sshd on loopback) against a TEST STAND-IN expdp
(tests/oracle_standin/expdp) that writes Data Pump's documented log lines and exit codes.
No Oracle server can be installed here; this proves everything around expdp for real."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import paramiko
import pytest
from oracle_helpers import PASSWORD, scenario, with_oracle

from piak.core.errors import PiakError
from piak.engines import backupset, oracle_export


def test_export_over_ssh_builds_a_verified_set_and_hides_the_password(
    oracle_config, oracle_server_dir, oracle_connections, tmp_path
):
    scenario(oracle_server_dir, "success")
    folder = oracle_export.export(oracle_config, "siak_20261124T2300")  # through the SSH Connection
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
    assert not list(oracle_server_dir.glob(".*.par"))
    for path in folder.iterdir():
        assert PASSWORD not in path.read_text(errors="replace"), path.name
    assert not list(oracle_server_dir.glob("*.dmp")), "dump files are moved into the set"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("errors", r"kode keluar 5.*selesai dengan 1 galat(.|\n)*ORA-31693"),
        ("ora_fatal", r"kode keluar 1(.|\n)*ORA-01555"),
        ("ude", "log Data Pump tidak ditemukan"),
        ("nolog", "log Data Pump tidak ditemukan"),
        ("existing", "ORA-27038"),
    ],
)
def test_failed_exports_fail_with_the_lines_that_say_why(
    oracle_config, oracle_server_dir, ssh_client, name, expected
):
    scenario(oracle_server_dir, name)
    with pytest.raises(PiakError, match=expected) as error:
        oracle_export.export(oracle_config, "siak_20261124T2300", ssh_client=ssh_client)
    assert PASSWORD not in str(error.value)
    assert not (oracle_config.backup_dir / "siak_20261124T2300").exists()
    assert not list(oracle_config.backup_dir.glob(".*partial"))  # none when there is no folder
    assert not list(oracle_server_dir.glob(".*.par"))


def test_a_hanging_export_is_stopped_by_the_timeout(oracle_config, oracle_server_dir, ssh_client):
    scenario(oracle_server_dir, "hang")
    hanging = with_oracle(oracle_config, timeout=timedelta(seconds=3))
    with pytest.raises(PiakError, match="tidak selesai dalam"):
        oracle_export.export(hanging, "siak_20261124T2300", ssh_client=ssh_client)
    assert not list(oracle_server_dir.glob(".*.par"))


def test_a_rerun_after_a_failure_cleans_leftovers_and_succeeds(
    oracle_config, oracle_server_dir, ssh_client
):
    scenario(oracle_server_dir, "ora_fatal")
    with pytest.raises(PiakError):
        oracle_export.export(oracle_config, "siak_20261124T2300", ssh_client=ssh_client)
    assert list(oracle_server_dir.glob("*.dmp"))  # the failed try left dump files behind
    scenario(oracle_server_dir, "success")
    folder = oracle_export.export(oracle_config, "siak_20261124T2300", ssh_client=ssh_client)
    assert backupset.verify_set(folder).ok
    shutil.rmtree(folder)


def test_offsite_copy_to_sftp_is_verified_and_resumes(oracle_config, ssh_client, tmp_path):
    from piak.engines import demo_db, offsite, sqlite_backup
    from piak.engines.sftp_target import SftpTarget

    source = tmp_path / "siak.db"
    demo_db.generate(source, residents=300)
    folder = sqlite_backup.backup(source, tmp_path / "server", "siak_20261124T2300", database="s")
    remote_root = tmp_path / "nas"
    target = SftpTarget(
        conn_id=None, root=str(remote_root), name="nas", client=ssh_client.open_sftp()
    )
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
    sshd, ssh_client, tmp_path, monkeypatch
):
    from piak.engines import demo_db, offsite, sqlite_backup
    from piak.engines.sftp_target import SftpTarget

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
                    ssh_client.get_transport().close()
                sent[0] += len(data)
                return original(data)

            handle.write = write
            return handle

    dropping = DroppingLink(
        conn_id=None, root=str(remote_root), name="nas", client=ssh_client.open_sftp()
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
