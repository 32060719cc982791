"""Oracle sets encrypted on the database server, over the real loopback sshd against the TEST
STAND-IN expdp/impdp and Debian's real `age`: the dump files are encrypted there before any copy
and their plaintext removed; an encrypted set imports (decrypted on the way to the server)."""

from __future__ import annotations

import hashlib

import pytest
from oracle_helpers import with_oracle

from piak.core.errors import PiakError
from piak.engines import backends as engines
from piak.engines import backupset, encryption, oracle_import

SET = "siak_20261124T2300"


def test_dump_files_leave_the_server_only_encrypted(
    oracle_config, oracle_server_dir, oracle_connections
):
    folder = engines.make_set(oracle_config, SET)  # the office keys from the Connection
    manifest = backupset.load_manifest(folder)
    assert manifest.encrypted and len(manifest.recipients) == 2
    names = {p.name for p in folder.iterdir()}
    assert names == {f"{SET}.log", f"{SET}_01.dmp.age", f"{SET}_02.dmp.age", "manifest.json"}
    for entry in manifest.files:
        if entry.encrypted:
            assert b"PIAK-STANDIN-DUMP" not in (folder / entry.name).read_bytes()
            opened = folder.parent / "opened.dmp"
            encryption.decrypt_file(
                folder / entry.name,
                opened,
                encryption.identities_of_connection("piak_backup_identity"),
                plain_sha256=entry.plain_sha256,
            )
            assert hashlib.sha256(opened.read_bytes()).hexdigest() == entry.plain_sha256
            opened.unlink()
    assert backupset.verify_set(folder).ok
    assert not [p.name for p in oracle_server_dir.iterdir() if ".dmp" in p.name], "nothing left"


def test_an_encrypted_set_imports_into_scratch(
    oracle_config, oracle_server_dir, oracle_connections, tmp_path
):
    folder = engines.make_set(oracle_config, SET)
    result = oracle_import.import_set(
        oracle_config, folder, target="scratch", run_key="uji", evidence_dir=tmp_path / "bukti"
    )
    assert result.row_counts == backupset.load_manifest(folder).row_counts
    assert not [p for p in oracle_server_dir.iterdir() if p.name.endswith((".dmp", ".part"))]


def test_without_a_key_nothing_reaches_the_server(
    oracle_config, oracle_server_dir, oracle_connections, monkeypatch, tmp_path
):
    folder = engines.make_set(oracle_config, SET)
    monkeypatch.delenv("AIRFLOW_CONN_PIAK_BACKUP_IDENTITY")
    before = sorted(p.name for p in oracle_server_dir.iterdir())
    with pytest.raises(PiakError, match="terenkripsi, tetapi tidak ada kunci privat"):
        oracle_import.import_set(
            oracle_config, folder, target="scratch", run_key="uji", evidence_dir=tmp_path / "b"
        )
    assert sorted(p.name for p in oracle_server_dir.iterdir()) == before


def test_a_server_without_age_fails_clearly_and_keeps_no_set(
    oracle_config, oracle_server_dir, oracle_connections
):
    config = oracle_config.model_copy(
        update={"encryption": oracle_config.encryption.model_copy(update={"age": "/tidak/ada/age"})}
    )
    with pytest.raises(PiakError, match="enkripsi di server gagal"):
        engines.make_set(config, SET)
    assert not (config.backup_dir / SET).exists()
    plain_left = {p.name for p in oracle_server_dir.iterdir() if p.name.endswith(".dmp")}
    assert plain_left == {f"{SET}_01.dmp", f"{SET}_02.dmp"}  # a rerun cleans and re-exports
    folder = engines.make_set(with_oracle(oracle_config), SET)
    assert backupset.load_manifest(folder).encrypted
