"""Out-of-policy usage: an observation checked against the policy and the access register;
bad input refused naming the field; stopping the service blocks the user once."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from piak import access_rights, usage_policy
from piak.errors import InvalidRequest

REGISTER = {
    "9901014101900001": {"user_id": "op.siti0001", "nama": "SITI"},
    "9901011203850002": {"user_id": "op.budi0002", "nama": "BUDI", "status": "diblokir"},
}
SEEN = {"user_id": "op.siti0001", "mesin": "pc-kec-03", "program": "SIAK Client", "uraian": "x" * 6}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, []),
        ({"program": "Toad.exe"}, ["program Toad.exe tidak boleh dipakai ke SIAK"]),
        ({"mesin": "laptop-pribadi"}, ["komputer laptop-pribadi bukan komputer yang diizinkan"]),
        ({"user_id": "op.anon9999"}, ["ID op.anon9999 tidak ada di daftar hak akses"]),
        ({"user_id": "op.budi0002"}, ["ID op.budi0002 sudah diblokir tetapi masih dipakai"]),
    ],
)
def test_observations_against_the_policy(changes, expected):
    policy = usage_policy.load_policy()
    assert usage_policy.violations({**SEEN, **changes}, policy, REGISTER) == expected


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("user_id", "OP SITI; drop"),
        ("mesin", "pc kec 03"),
        ("program", "toad<script>"),
        ("sid_serial", "123"),
        ("uraian", ""),
    ],
)
def test_a_bad_observation_is_refused_naming_the_field(field, value):
    with pytest.raises(InvalidRequest, match=f"^{field}: "):
        usage_policy.observation({**SEEN, field: value})


def test_stopping_the_service_blocks_the_user_once(tmp_path, monkeypatch):
    monkeypatch.setenv("PIAK_STORAGE", str(tmp_path))
    access_rights.register_file().parent.mkdir(parents=True)
    access_rights.register_file().write_text(json.dumps(REGISTER))
    context = {
        "run_id": "manual__x",
        "logical_date": datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Jakarta")),
        "params": {**SEEN, "program": "TOAD", "sid_serial": "123,4567"},
    }
    found = usage_policy.monitor_usage(context)
    assert found["violations"] == ["program TOAD tidak boleh dipakai ke SIAK"]
    first = usage_policy.stop_service(context)
    again = usage_policy.stop_service(context)
    register = json.loads(access_rights.register_file().read_text())
    assert register["9901014101900001"]["status"] == "diblokir"
    assert "diblokir di daftar hak akses" in first["note"]
    assert "sudah diblokir" in again["note"]
    sql = (usage_policy.case_dir(context) / "putus_sesi.sql").read_text()
    assert sql == "ALTER SYSTEM KILL SESSION '123,4567' IMMEDIATE;\n"


def test_nothing_found_ends_the_procedure_at_step_one(tmp_path, monkeypatch):
    monkeypatch.setenv("PIAK_STORAGE", str(tmp_path))
    access_rights.register_file().parent.mkdir(parents=True)
    access_rights.register_file().write_text(json.dumps(REGISTER))
    context = {
        "run_id": "manual__y",
        "logical_date": datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Jakarta")),
        "params": SEEN,
    }
    assert usage_policy.monitor_usage(context)["stop"] is True
