"""The backup DAG's step functions on the embedded default, run as its tasks run them: reruns,
two runs for the same date, an unplugged disk, retention that keeps what is not safe to delete."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from backup_helpers import embedded_home, night

from piak.core.errors import PiakError
from piak.engines import backupset, catalogue, sqlite_backup
from piak.sops import backup

WIB = ZoneInfo("Asia/Jakarta")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    return embedded_home(tmp_path, monkeypatch, residents=400, seed=3, daily=2)


context = night


def nightly(day: int) -> str:
    ctx = context(day)
    for step in (backup.prepare, backup.export, backup.place, backup.copy_offsite):
        step(ctx)
    backup.apply_retention(ctx)
    backup.handover_evidence(ctx)
    return backup.record_handover(ctx)["output_ref"]


def test_a_night_produces_a_verified_set_on_server_and_flash_disk(home):
    name = nightly(20)
    assert name == "siak_20261120T2300"
    assert backupset.verify_set(home / "backups" / name).ok
    assert backupset.verify_set(home / "media" / "flashdisk" / "piak" / name).ok
    assert catalogue.read(home / "backups", name)["verified_targets"].keys() == {"flashdisk"}


def test_a_rerun_of_the_same_date_makes_nothing_twice(home):
    ctx = context(21)
    backup.prepare(ctx)
    first = backup.export(ctx)
    before = (home / "backups" / "siak_20261121T2300" / "manifest.json").read_bytes()
    again = backup.export(ctx)
    assert "tidak dibuat lagi" in again["note"]
    assert first["output_ref"] == again["output_ref"]
    assert (home / "backups" / "siak_20261121T2300" / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in (home / "backups").iterdir()) == ["siak_20261121T2300"]


def test_a_damaged_set_of_the_same_date_is_not_overwritten(home):
    ctx = context(22)
    backup.export(ctx)
    damaged = home / "backups" / "siak_20261122T2300" / sqlite_backup.SEALED_NAME
    damaged.write_bytes(damaged.read_bytes()[:-10])
    with pytest.raises(PiakError, match="sudah ada tetapi rusak"):
        backup.export(ctx)
    with pytest.raises(PiakError, match="ukuran"):
        backup.place(ctx)


def test_an_unplugged_disk_stops_the_run_before_exporting(home):
    (home / "media" / "flashdisk").rmdir()
    with pytest.raises(PiakError, match="disk belum terpasang"):
        backup.prepare(context(23))
    assert not (home / "backups").exists() or not list((home / "backups").iterdir())


def test_a_failed_copy_keeps_the_set_and_retention_deletes_nothing_unsafe(home):
    old = [nightly(day) for day in (10, 11, 12)]
    assert sorted(p.name for p in (home / "backups").iterdir() if p.name != ".catalogue") == [
        old[1],
        old[2],
    ], "daily: 2 keeps the two newest verified sets"
    # The next night the flash disk is pulled out after the export: its copy fails.
    ctx = context(13)
    backup.prepare(ctx)
    backup.export(ctx)
    backup.place(ctx)
    (home / "media" / "flashdisk" / "piak").rename(home / "media" / "elsewhere")
    (home / "media" / "flashdisk").rmdir()
    with pytest.raises(PiakError, match="salinan offsite gagal: flashdisk"):
        backup.copy_offsite(ctx)
    # Retention (which a failed run never reaches) would still keep the unverified newest set
    # and both verified ones: nothing unsafe is ever deleted.
    (home / "media" / "flashdisk").mkdir()
    (home / "media" / "elsewhere").rename(home / "media" / "flashdisk" / "piak")
    backup.apply_retention(ctx)
    names = sorted(p.name for p in (home / "backups").iterdir() if p.name != ".catalogue")
    assert names == [old[1], old[2], "siak_20261113T2300"]


def test_the_failure_notifier_is_configuration(home, monkeypatch):
    from piak.engines import backup_config
    from piak.workflow import notify

    path = Path(backup_config.config_file())
    assert backup_config.load().notifier == "piak.workflow.notify:OfficeNotifier"
    assert isinstance(
        notify.build("piak.workflow.notify:OfficeNotifier", title="x"), notify.OfficeNotifier
    )
    path.write_text(path.read_text() + "notifier: kirim email\n")
    with pytest.raises(PiakError, match="notifier"):
        backup_config.load()
    with pytest.raises(TypeError, match="not an Airflow BaseNotifier"):
        notify.build("piak.core.errors:PiakError")


def test_the_freshness_check_alerts_when_the_newest_verified_set_gets_old(home):
    from datetime import UTC, datetime, timedelta

    from piak.engines import backup_config

    with pytest.raises(PiakError, match="BASI: belum ada set cadangan terverifikasi"):
        backup.check_freshness({})
    name = nightly(20)
    status = backup.check_freshness({})
    assert status["set"] == name and not status["stale"] and status["max_age_hours"] == 26
    old = (datetime.now(UTC) - timedelta(hours=27)).isoformat()
    catalogue.update(home / "backups", name, exported_at=old)
    with pytest.raises(PiakError, match=f"BASI: set terverifikasi terbaru {name} berumur 27"):
        backup.check_freshness({})
    config = backup_config.load()
    assert catalogue.freshness(config)["stale"]
    # a set that never reached the flash disk does not count as a verified backup
    ctx = context(21)
    for step in (backup.prepare, backup.export, backup.place):
        step(ctx)
    assert catalogue.freshness(config)["set"] == name


def test_the_hand_over_rechecks_every_copy_against_the_server_manifest(home):
    name = nightly(20)
    ctx = context(20)
    evidence = backup.handover_evidence(ctx)
    assert evidence["set"] == name and evidence["rows"] > 0
    assert [t["name"] for t in evidence["targets"]] == ["flashdisk"]
    assert all(len(f["sha256"]) == 64 for f in evidence["files"])
    copy = home / "media" / "flashdisk" / "piak" / name / sqlite_backup.SEALED_NAME
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(PiakError, match=r"flashdisk: .*database\.sqlite3\.age rusak"):
        backup.handover_evidence(ctx)
    bad = {**ctx, "params": {"set_name": "../../etc"}}
    from piak.core.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match="set_name"):
        backup.handover_evidence(bad)
