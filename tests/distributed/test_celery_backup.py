"""The nightly backup on the production topology: CeleryExecutor, two workers, PostgreSQL
metadata and agenda, FAB logins; the hand-over run it starts, signed by the Kasi then the Kabid
via REST - started by ``serba`` (administrator, kasi, kabid: the hand-over carries him over as
its triggering user), so FAB refuses him both sign-offs, and ``plt`` (kasi, kabid), who receives
the Kasi's copy, may not receive the Kabid's too: each with its reason."""

from __future__ import annotations

import pytest

from piak.engines import backupset

pytestmark = [pytest.mark.distributed, pytest.mark.slow]

DAG = "backup_database"
HANDOVER = "backup_handover"


SELF = "Anda memicu run ini"
TWICE = "dua tanda tangan berurutan"


def _sign(airflow, run_id: str, task_id: str, user: str, intruders: dict[str, str]) -> None:
    """Every intruder is refused (403, with the reason given), then ``user`` approves."""
    airflow.wait_task(HANDOVER, run_id, task_id, {"awaiting_input"})
    for intruder, reason in intruders.items():
        refused = airflow.answer(intruder, HANDOVER, run_id, task_id, ["Setujui"])
        assert refused.status_code == 403, refused.text
        assert reason in refused.json()["detail"], refused.text
    ok = airflow.answer(user, HANDOVER, run_id, task_id, ["Setujui"], {"catatan": "diterima"})
    assert ok.status_code == 200, ok.text


def test_backup_runs_on_two_celery_workers_with_handover_signed_by_fab_users(
    distributed_airflow,
):
    airflow = distributed_airflow
    run_id = airflow.trigger(DAG, {}, user="serba")
    assert airflow.wait_run(DAG, run_id, timeout=300) == "success"
    placed = {e.task_id: e for e in airflow.agenda(run_id)}["place_backup_set"]
    handover = "handover__" + placed.output_ref.rsplit("/", 1)[-1]
    not_kasi = {"kabid": "baru boleh menjawab langkah ini mulai", "serba": SELF}  # escalation
    _sign(airflow, handover, "receive_copy_kasi", "plt", intruders=not_kasi)
    not_kabid = {"admin": "bukan penandatangan", "serba": SELF, "plt": TWICE}
    _sign(airflow, handover, "receive_copy_kabid", "kabid", intruders=not_kabid)
    assert airflow.wait_run(HANDOVER, handover, timeout=300) == "success"

    recorded = airflow.agenda(run_id) + airflow.agenda(handover)
    assert {e.step_number for e in recorded} == set(range(1, 9)), "every SOP step is in the agenda"
    entries = {e.task_id: e for e in recorded}
    assert (entries["receive_copy_kasi"].actor, entries["receive_copy_kabid"].actor) == (
        "plt",
        "kabid",
    )
    set_name = entries["record_handover"].output_ref
    storage = airflow.piak_home / "storage"
    assert backupset.verify_set(storage / "backups" / set_name).ok
    assert backupset.verify_set(storage / "offsite" / "flashdisk" / set_name).ok

    hosts = {**airflow.hostnames(DAG, run_id), **airflow.hostnames(HANDOVER, handover)}
    assert set(hosts.values()) == {"worker-a", "worker-b"}, hosts
