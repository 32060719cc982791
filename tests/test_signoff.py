"""The sign-off building block, checked on the operators it builds (no running Airflow needed;
the answering itself is tested against a real API server in tests/e2e/test_signoff.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _airflow_home(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow_home"))


def test_approval_is_built_from_the_registry_step():
    from piak.core import registry
    from piak.workflow import signoff

    step = registry.get_sop("backup_database").step(6)
    op = signoff.approval("backup_database", 6, task_id="receive_copy_kasi")
    assert op.options == ["Setujui", "Tolak"]
    assert op.assigned_users == [{"id": "kasi", "name": "Kepala Seksi"}]
    assert op.subject.startswith("[Kepala Seksi] Prosedur Backup database - langkah 6")
    assert step.activity in op.body
    assert step.completeness in op.body and step.output in op.body
    assert f"Waktu baku: {step.time_text}" in op.body
    assert "/dags/{{ dag.dag_id }}/runs/{{ run_id | urlencode }}" in op.body
    assert "Tolak" in op.body and "catatan" in op.body
    assert "catatan" in op.params
    assert op.doc_md.startswith("**SOP Prosedur Backup database, langkah 6**")


def test_decision_maps_each_choice_to_its_task_and_marks_notes():
    from piak.workflow import signoff

    op = signoff.decision(
        "helpdesk",
        2,
        task_id="decide_handling",
        choices=[
            signoff.Choice("Teruskan", "next_task"),
            signoff.Choice("Kembalikan", "archive", "returned"),
        ],
    )
    assert op.options == ["Teruskan", "Kembalikan"]
    assert op.options_mapping == {"Teruskan": "next_task", "Kembalikan": "archive"}
    assert op._needs_note(["Kembalikan"]) and not op._needs_note(["Teruskan"])
    assert op._outcome(["Kembalikan"]) == "returned"
    assert "Kembalikan* wajib disertai **catatan**" in op.body


def test_entry_form_has_the_fields_and_the_note():
    from airflow.sdk import Param

    from piak.workflow import signoff

    op = signoff.entry(
        "data_provision",
        10,
        task_id="enter_letter_number",
        fields={"nomor": Param("", type="string")},
    )
    assert set(op.params) == {"nomor", "catatan"}
    assert op.assigned_users == [{"id": "jfu", "name": "JFU Bidang PIAK"}]
    with pytest.raises(ValueError, match="built-in note"):
        signoff.entry("helpdesk", 1, task_id="x", fields={"catatan": Param("")})


def test_a_choice_field_validates_while_unanswered_and_is_required_when_answered():
    """Airflow validates a task's params when it starts, before anyone answers: a field with
    fixed choices must accept 'not yet', and still be required in the answer."""
    from airflow.sdk import Param
    from airflow.sdk.definitions.param import ParamsDict

    from piak.workflow import signoff

    op = signoff.entry(
        "data_provision",
        10,
        task_id="record_delivery",
        fields={"melalui": Param("", type="string", enum=["telepon", "SMS"])},
    )
    ParamsDict(op.params).validate()  # what the task does when it starts
    assert op.required_fields == ("melalui",)


def test_registry_text_is_never_read_as_a_template():
    from piak.core import registry
    from piak.workflow import signoff

    sop = registry.get_sop("helpdesk")
    step = registry.Step(**{**step_fields(sop.step(1)), "activity": "Periksa {{ 7 * 7 }} berkas"})
    body = signoff.signoff_body(sop, step)
    assert "{% raw %}Periksa {{ 7 * 7 }} berkas{% endraw %}" in body


def step_fields(step):
    import dataclasses

    return {f.name: getattr(step, f.name) for f in dataclasses.fields(step)}


HELPDESK_USERS = (
    "users:\n  jfu: {name: J, roles: [jfu]}\n  kasi: {name: K, roles: [kasi]}\n"
    "  p: {name: P, roles: [petugas]}\n"
)


@pytest.mark.parametrize(
    ("access_text", "message"),
    [
        (
            HELPDESK_USERS + "dags:\n  helpdesk: {trigger: [jfu], view: [kasi, kabid, petugas]}\n",
            "peran 'kabid' (Kepala Bidang PIAK) belum punya pengguna",
        ),
        (
            HELPDESK_USERS
            + "  b: {name: B, roles: [kabid]}\n"
            + "dags:\n  helpdesk: {trigger: [jfu], view: [kasi, petugas]}\n",
            "dags.helpdesk.view: Kepala Bidang PIAK menjawab langkah review_by_kabid, jadi harus "
            "boleh melihat DAG ini",
        ),
        (HELPDESK_USERS + "dags: {}\n", "dags.helpdesk: DAG ini belum diatur"),
    ],
    ids=["role-without-users", "signer-cannot-see", "dag-not-configured"],
)
def test_a_dag_the_access_file_does_not_fit_fails_its_import_naming_the_key(
    tmp_path, access_text, message
):
    access_file = tmp_path / "access.yaml"
    access_file.write_text(access_text)
    script = (
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(ROOT / 'dags' / 'helpdesk.py')!r})\n"
        "print(list(bag.import_errors.values()))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=dict(
            os.environ,
            PYTHONPATH=str(ROOT / "include"),
            PIAK_ACCESS_FILE=str(access_file),
            AIRFLOW_HOME=str(tmp_path / "airflow_home"),
        ),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert message in result.stdout


def test_the_reopen_uses_airflow_s_own_request_writer_as_the_provider_does():
    """Pinning test. Reopening a request whose answer is incomplete (``_ask_again``) rewrites it
    with ``airflow.sdk.execution_time.hitl.upsert_hitl_detail`` - the Task SDK function the
    standard provider's own HITLOperator opens every request with; there is no public API to
    reopen a request. An Airflow upgrade that renames it or its keywords fails here, before a
    sign-off silently stops reopening (the behaviour itself:
    tests/e2e/test_helpdesk_signoffs.py, a return without its note)."""
    import inspect

    from airflow.providers.standard.operators import hitl as provider_hitl
    from airflow.sdk.execution_time.hitl import upsert_hitl_detail

    from piak.workflow import signoff

    ours = inspect.getsource(signoff._SignoffMixin._ask_again)
    passed = {"ti_id", "options", "subject", "body", "defaults", "multiple", "params",
              "assigned_users"}  # fmt: skip
    assert all(f"{name}=" in ours for name in passed)
    assert passed <= set(inspect.signature(upsert_hitl_detail).parameters)
    assert "upsert_hitl_detail(" in inspect.getsource(provider_hitl.HITLOperator.execute)
