"""Who may answer a sign-off (``piak.core.approvers``): the assigned ids and their windows, the
reasons a refusal gives, and the assignment with separation of duties, exceptions and deputies
(the auth managers' side runs against real API servers in tests/e2e and tests/distributed)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from piak.core import access, approvers
from piak.core.approvers import Previous

OPENED = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # 09:00 WIB
CONFIG = {
    "users": {
        "budi": {"name": "Budi", "roles": ["administrator"]},
        "sari": {"name": "Sari", "roles": ["kasi"]},
        "rudi": {"name": "Rudi", "roles": ["kabid"]},
        "wati": {"name": "Wati", "roles": ["administrator", "kasi", "kabid"]},
        "dodi": {"name": "Dodi", "roles": ["kadis"]},
    },
    "dags": {
        "database_recovery": {"trigger": ["administrator"], "view": ["kasi", "kabid"]},
        "network_maintenance": {"trigger": ["kasi"], "view": ["kabid"]},
    },
}


def config(**changes) -> access.AccessConfig:
    return access.parse({**CONFIG, **changes}, "access.yaml")


def ids(assigned) -> list[str]:
    return [a.id for a in assigned]


def test_ids_carry_when_and_why_not():
    start, end = OPENED, OPENED + timedelta(days=3)
    window = approvers.timed_id("wakil", start, end)
    assert window == "wakil~2026-12-02T02:00:00Z..2026-12-05T02:00:00Z"
    assert approvers.may_answer([window], "wakil", start)
    assert not approvers.may_answer([window], "wakil", end)
    early = approvers.refusal([window], "wakil", start - timedelta(days=1))
    assert early and "mulai 02-12-2026 09:00 WIB" in early
    assert "sudah berakhir (05-12-2026 09:00 WIB)" in approvers.refusal([window], "wakil", end)
    refused = approvers.refusal(["kasi", "wati!pemicu"], "wati", start)
    assert refused and refused.startswith("Anda memicu run ini")
    twice = approvers.refusal(["wati!berurutan"], "wati", start)
    assert twice and "dua tanda tangan berurutan" in twice
    assert approvers.refusal(["kasi"], "jfu", start) == "Anda (jfu) bukan penandatangan langkah ini"
    assert not approvers.may_answer(["kabid~kapan-saja"], "kabid", start)  # unreadable: never
    assert not approvers.may_answer(["kabid~..x"], "kabid", start)


def test_the_holders_of_the_role_answer_and_the_next_role_up_from_its_moment():
    escalate = OPENED + timedelta(days=1)
    assigned = approvers.assign(
        config(),
        dag_id="database_recovery",
        role="kasi",
        opened_at=OPENED,
        escalation=("kabid", escalate),
    )
    assert ids(assigned) == ["sari", "wati", "rudi~2026-12-03T02:00:00Z"]
    assert assigned[2].name == "Rudi (eskalasi, mulai 03-12-2026 09:00 WIB)"
    assert approvers.answerable(assigned)


def test_whoever_triggered_the_run_does_not_answer_another_roles_sign_off():
    assigned = approvers.assign(
        config(), dag_id="database_recovery", role="kasi", opened_at=OPENED, triggering_user="wati"
    )
    assert ids(assigned) == ["sari", "wati!pemicu"]
    assert assigned[1].name == "Wati (tidak boleh menjawab: memicu run ini)"
    assert "Tidak boleh menjawab (pemisahan tugas)" in approvers.assignment_text(assigned)
    # the performer's own step (a role that triggers this DAG) stays theirs
    own = approvers.assign(
        config(),
        dag_id="network_maintenance",
        role="kasi",
        opened_at=OPENED,
        triggering_user="wati",
    )
    assert ids(own) == ["sari", "wati"]


def test_nobody_gives_two_successive_sign_offs_of_different_roles():
    kasi_signed = Previous("wati", "kasi", "permit_production_restore_kasi")
    assigned = approvers.assign(
        config(), dag_id="database_recovery", role="kabid", opened_at=OPENED, previous=kasi_signed
    )
    assert ids(assigned) == ["rudi", "wati!berurutan"]
    same_role = approvers.assign(
        config(), dag_id="database_recovery", role="kasi", opened_at=OPENED, previous=kasi_signed
    )
    assert ids(same_role) == ["sari", "wati"]


def test_an_exception_lifts_the_rule_for_its_dates_and_is_noted():
    exception = {"user": "wati", "allow": ["successive"], "dags": ["database_recovery"],
                 "from": date(2026, 12, 1), "to": date(2026, 12, 3),
                 "reason": "Plt. Kabid merangkap Kasi"}  # fmt: skip
    granted = config(exceptions=[exception])
    previous = Previous("wati", "kasi", "report_to_kasi")
    assigned = approvers.assign(
        granted, dag_id="database_recovery", role="kabid", opened_at=OPENED, previous=previous
    )
    assert ids(assigned) == ["rudi", "wati~2026-11-30T17:00:00Z..2026-12-03T17:00:00Z"]
    wati = assigned[1]
    assert wati.capacity == "exception" and "Plt. Kabid merangkap Kasi" in wati.note
    assert approvers.matching(assigned, "wati", OPENED) == wati
    # not for another rule, nor another DAG
    still = approvers.assign(
        granted, dag_id="database_recovery", role="kabid", opened_at=OPENED, triggering_user="wati"
    )
    assert ids(still) == ["rudi", "wati!pemicu"]


def test_a_deputy_answers_on_behalf_of_the_absent_approver_within_the_dates():
    delegation = {"absent": "rudi", "deputy": "dodi", "title": "Plh.", "from": date(2026, 12, 1),
                  "to": date(2026, 12, 14), "reason": "cuti tahunan"}  # fmt: skip
    assigned = approvers.assign(
        config(delegations=[delegation]), dag_id="database_recovery", role="kabid", opened_at=OPENED
    )
    assert ids(assigned) == [
        "rudi",
        "wati",
        "dodi~2026-11-30T17:00:00Z..2026-12-14T17:00:00Z",
    ]
    deputy = assigned[2]
    assert deputy.name == "Dodi (Plh. Kepala Bidang PIAK, a.n. Rudi, 01-12-2026 s.d. 14-12-2026)"
    assert (deputy.capacity, deputy.on_behalf_of) == ("deputy", "rudi")
    assert approvers.matching(assigned, "dodi", OPENED).on_behalf_of == "rudi"
    stored = [approvers.Assignee.from_dict(a.to_dict()) for a in assigned]
    assert stored == assigned
    ended = approvers.assign(
        config(delegations=[delegation]),
        dag_id="database_recovery",
        role="kabid",
        opened_at=datetime(2026, 12, 20, tzinfo=UTC),
    )
    assert ids(ended) == ["rudi", "wati"]


def test_a_sign_off_nobody_may_answer_is_said_so():
    alone = config(users={"budi": CONFIG["users"]["budi"], "rudi": CONFIG["users"]["rudi"],
                          "sari": CONFIG["users"]["sari"]})  # fmt: skip
    assigned = approvers.assign(
        alone,
        dag_id="database_recovery",
        role="kabid",
        opened_at=OPENED,
        previous=Previous("rudi", "kasi", "x"),
    )
    assert ids(assigned) == ["rudi!berurutan"]
    assert not approvers.answerable(assigned)
