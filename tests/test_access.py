"""Who may do what (``config/access.yaml``, ``piak.core.access``): the file's model and its
refusals, the rule of who may start a run, what production's FAB roles and DAG permissions are made
of, the UI's Trigger button, and the README's "Siapa boleh apa" kept in sync."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml

from piak.core import access, roles
from piak.core.config import ConfigError
from piak.core.errors import RoleConfigError
from piak.web import trigger_button

ROOT = Path(__file__).resolve().parents[1]
DAG_FILES = {p.stem for p in (ROOT / "dags").glob("*.py")}
SMALL = {
    "users": {
        "budi": {"name": "Budi Santoso", "roles": ["administrator"]},
        "sari": {"name": "Sari Dewi", "roles": ["kasi"]},
        "rudi": {"name": "Rudi Hartono", "roles": ["kabid"]},
        "wati": {"name": "Wati", "roles": ["kasi", "kabid"]},
    },
    "dags": {
        "database_recovery": {"trigger": ["administrator"], "view": ["kasi", "kabid"]},
        "backup_database": {"trigger": ["administrator"], "view": ["kasi"]},
        "backup_handover": {
            "trigger": ["administrator"],
            "view": ["kasi", "kabid"],
            "started_by": ["backup_database"],
        },
        "backup_freshness": {"trigger": ["administrator"]},
    },
    "delegations": [
        {"absent": "rudi", "deputy": "sari", "title": "Plh.", "from": date(2026, 12, 1),
         "to": date(2026, 12, 14), "reason": "cuti tahunan"},
    ],
}  # fmt: skip


def small(**changes) -> access.AccessConfig:
    return access.parse({**SMALL, **changes}, "access.yaml")


def test_the_project_file_names_every_dag_and_gives_every_role_a_holder():
    config = access.load()
    assert set(config.dags) == DAG_FILES, "one entry per DAG file in dags/"
    for role in roles.ROLES:
        assert roles.users_for(role), role
    assert roles.users_for("kasi") == [{"id": "kasi", "name": "Kepala Seksi"}]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"users": {"x": {"name": "X", "roles": ["kepala"]}}}, "users.x.roles[0]: harus salah"),
        ({"users": {"x": {"name": "X", "roles": []}}}, "users.x.roles: paling sedikit 1 isian"),
        ({"users": {"a b": {"name": "X", "roles": ["kasi"]}}}, "users.a b.[key]: bentuknya"),
        ({"users": {"admin": {"name": "A", "roles": ["kasi"]}}}, "users.admin: akun admin"),
        ({"users": {"x": {"name": "X", "roles": ["kasi"], "email": "x@a.id, y@b.id"}}},
         "users.x.email: bentuknya"),
        ({"dags": {"x": {"trigger": ["kasi"], "run": ["kasi"]}}}, "dags.x.run: kunci tidak"),
        ({"dags": {"x": {"started_by": ["y"]}}}, "dags.x.started_by: DAG 'y' tidak ada"),
        ({"exceptions": [{"user": "nobody", "allow": ["successive"], "from": "2026-12-01",
                          "to": "2026-12-02", "reason": "Plt."}]},
         "exceptions[0].user: 'nobody' tidak ada di users"),
        ({"exceptions": [{"user": "budi", "allow": ["semua"], "from": "2026-12-01",
                          "to": "2026-12-02", "reason": "Plt. Kabid"}]},
         "exceptions[0].allow[0]: harus salah satu dari 'own_run' atau 'successive'"),
        ({"delegations": [{"absent": "rudi", "deputy": "sari", "title": "Plh.",
                           "from": "2026-12-09", "to": "2026-12-01"}]},
         "delegations[0]: to (2026-12-01) sebelum from (2026-12-09)"),
        ({"delegations": [{"absent": "rudi", "deputy": "sari", "title": "Pj.",
                           "from": "2026-12-01", "to": "2026-12-09"}]},
         "delegations[0].title: harus salah satu dari 'Plt.' atau 'Plh.'"),
        ({"delegations": [{"absent": "rudi", "deputy": "sari", "title": "Plt.", "roles": ["kadis"],
                           "from": "2026-12-01", "to": "2026-12-09"}]},
         "delegations[0].roles: rudi tidak memegang peran kadis"),
    ],
)  # fmt: skip
def test_a_bad_file_is_refused_naming_the_key(tmp_path, change, fragment):
    path = tmp_path / "access.yaml"
    data = {**SMALL, **change}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        access.load(path)
    assert str(path) in str(error.value)
    assert fragment in str(error.value)


def test_a_role_without_holders_and_a_dag_without_rights_are_named(tmp_path):
    path = tmp_path / "access.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    with pytest.raises(RoleConfigError, match=r"peran 'kadis' \(Kepala Dinas\) belum punya"):
        roles.users_for("kadis", path)
    with pytest.raises(ConfigError, match=r"access.yaml: dags.helpdesk: DAG ini belum diatur"):
        access.load(path).rights("helpdesk")


def test_changes_to_the_file_are_picked_up(tmp_path):
    path = tmp_path / "access.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    assert [u["id"] for u in roles.users_for("kasi", path)] == ["sari", "wati"]
    path.write_text(yaml.safe_dump({**SMALL, "users": {"ani": {"name": "Ani", "roles": ["kasi"]}},
                                    "delegations": []}))  # fmt: skip
    os.utime(path, ns=(1, path.stat().st_mtime_ns + 1_000_000))
    assert [u["id"] for u in roles.users_for("kasi", path)] == ["ani"]


def test_who_may_start_a_run():
    config = small()
    refused = access.trigger_refusal(config, "database_recovery", "manual", "sari")
    assert refused and refused.startswith("Ditolak: 'sari' (Sari Dewi) tidak berhak memicu DAG")
    assert "Yang berhak memicu: Administrator (dags.database_recovery.trigger" in refused
    assert "Tidak ada langkah yang dijalankan." in refused
    assert access.trigger_refusal(config, "database_recovery", "manual", "budi") is None
    assert access.trigger_refusal(config, "database_recovery", "backfill", "admin") is None
    nobody = access.trigger_refusal(config, "backup_database", "manual", None)
    assert nobody and "tidak mencatat siapa" in nobody
    # the scheduler's runs pass; so do runs another DAG starts, for whoever started that one
    assert access.trigger_refusal(config, "backup_database", "scheduled", None) is None
    assert access.trigger_refusal(config, "backup_handover", "operator_triggered", None) is None
    assert access.trigger_refusal(config, "backup_handover", "operator_triggered", "budi") is None
    carried = access.trigger_refusal(config, "backup_handover", "operator_triggered", "sari")
    assert carried and "backup_database yang dipicu 'sari'" in carried
    stray = access.trigger_refusal(config, "database_recovery", "operator_triggered", "budi")
    assert stray and "tidak boleh dimulai DAG lain" in stray
    assert "tidak diizinkan" in access.trigger_refusal(config, "backup_database", "asset_x", None)


def test_production_permissions_come_from_the_same_rights():
    config = small()
    control = config.fab_access_control("backup_handover")
    assert control == {
        "administrator": {"DAGs": {"can_read"}, "DAG Runs": {"can_create"}},
        "kasi": {"DAGs": {"can_read"}},
        "kabid": {"DAGs": {"can_read"}},
        "pengganti-administrator": {"DAGs": {"can_read"}},
        "pengganti-kasi": {"DAGs": {"can_read"}},
        "pengganti-kabid": {"DAGs": {"can_read"}},
    }
    assert set(access.fab_roles()) >= set(control)
    for login in config.users:
        granted = {r for r, perms in control.items() if "DAG Runs" in perms}
        may = bool(granted & set(config.fab_user_roles(login, date(2026, 1, 1))))
        assert may == config.may_trigger(login, "backup_handover"), login
    # a deputy gets the deputy's role while the delegation has not ended, then loses it
    assert config.fab_user_roles("sari", date(2026, 12, 14)) == ["kasi", "pengganti-kabid"]
    assert config.fab_user_roles("sari", date(2026, 12, 15)) == ["kasi"]


def test_a_deputy_sees_the_absent_persons_dags_only_while_standing_in():
    config = small(dags={**SMALL["dags"], "backup_database": {"trigger": ["administrator"],
                                                              "view": ["kabid"]}})  # fmt: skip
    inside = datetime(2026, 12, 13, 17, 0, tzinfo=UTC)  # 14 Dec 00:00 WIB
    after = datetime(2026, 12, 14, 17, 0, tzinfo=UTC)  # 15 Dec 00:00 WIB
    assert config.may_view("sari", "backup_database", inside)
    assert not config.may_view("sari", "backup_database", after)
    assert config.may_view("budi", "backup_handover", inside)  # triggering implies seeing
    assert config.may_view("admin", "backup_database")


def test_reminders_go_to_the_role_holders_and_their_deputies_own_addresses():
    users = {
        "sari": {"name": "Sari Dewi", "roles": ["kasi"], "email": "sari@disdukcapil.example"},
        "rudi": {"name": "Rudi Hartono", "roles": ["kabid"], "email": "rudi@disdukcapil.example"},
        "wati": {"name": "Wati", "roles": ["kasi", "kabid"]},  # no address: office channels only
        "budi": {"name": "Budi Santoso", "roles": ["administrator"], "email": "b@d.example"},
    }
    config = small(users=users)
    inside, after = datetime(2026, 12, 5, 3, 0, tzinfo=UTC), datetime(2026, 12, 20, tzinfo=UTC)
    assert config.addresses(["kabid"], after) == ["rudi@disdukcapil.example"]
    # sari stands in for rudi (Plh. Kabid) until 14 December
    assert config.addresses(["kabid"], inside) == [
        "sari@disdukcapil.example",
        "rudi@disdukcapil.example",
    ]
    assert config.addresses(["kasi", "kabid"], after) == [
        "sari@disdukcapil.example",
        "rudi@disdukcapil.example",
    ]


def test_a_reminder_reaches_the_assigned_people_s_addresses_and_names_who_has_none():
    users = {
        "sari": {"name": "Sari Dewi", "roles": ["kasi"], "email": "sari@disdukcapil.example"},
        "rudi": {"name": "Rudi Hartono", "roles": ["kabid"]},
        "wati": {"name": "Wati", "roles": ["kabid"], "email": "sari@disdukcapil.example"},
    }
    config = small(users=users, delegations=[])
    found, missing = config.emails_of(["sari", "rudi", "wati", "sari", "nobody"])
    assert found == ["sari@disdukcapil.example"] and missing == ["rudi", "nobody"]


def test_the_embedded_default_leaves_office_users_reading_starting_and_answering():
    may = access.embedded_office_may
    assert may("GET", None) and may("GET", "TASK_LOGS")
    assert may("POST", "RUN") and may("PUT", "HITL_DETAIL")
    for method, entity in [("PUT", None), ("DELETE", None), ("DELETE", "RUN"), ("PUT", "RUN"),
                           ("PUT", "TASK_INSTANCE"), ("POST", "TASK_INSTANCE")]:  # fmt: skip
        assert not may(method, entity), (method, entity)


def test_the_trigger_button_is_disabled_where_the_user_may_not_trigger():
    listing = {
        "dags": [
            {"dag_id": "database_recovery", "allowed_run_types": None, "tags": [{"name": "x"}]},
            {"dag_id": "helpdesk", "allowed_run_types": ["manual", "scheduled"]},
            {
                "dag_id": "restore_drill",
                "is_paused": False,
                "latest_dag_runs": [{"dag_id": "restore_drill", "run_id": "manual__1"}],
            },
        ],
        "total_entries": 2,
    }
    shown = trigger_button.without_manual(listing, lambda dag_id: dag_id == "helpdesk")
    recovery, helpdesk, drill = shown["dags"]
    assert "manual" not in recovery["allowed_run_types"] and recovery["allowed_run_types"]
    assert helpdesk["allowed_run_types"] == ["manual", "scheduled"]
    assert drill["allowed_run_types"] == recovery["allowed_run_types"]
    assert drill["latest_dag_runs"] == [{"dag_id": "restore_drill", "run_id": "manual__1"}]
    assert recovery["tags"] == [{"name": "x"}]


def test_the_readme_table_is_the_project_file():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = access.rights_table(access.load())
    start, end = readme.index(access.TABLE_START), readme.index(access.TABLE_END)
    assert readme[start : end + len(access.TABLE_END)] == table, (
        "README 'Siapa boleh apa' differs from config/access.yaml: paste `python -m piak access`"
    )
    result = subprocess.run(
        [sys.executable, "-m", "piak", "access"],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "include")),
        check=True,
    )
    assert result.stdout.strip() == table


def test_roles_cli_lists_each_role_with_its_users():
    result = subprocess.run(
        [sys.executable, "-m", "piak", "roles"],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "include")),
        check=True,
    )
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert set(lines) == set(roles.ROLES)
    assert lines["kasi"].strip() == "kasi"
