"""Form messages people understand (``piak.web.form_messages``): Airflow's own refusal of the
project's real trigger forms, turned into one Indonesian sentence naming the field and never
repeating the value; a sign-off answer that its task would not accept (a rejection without its
note, a required field empty), found from the form Airflow stores. (Through the real API
server: tests/e2e/test_helpdesk_signoffs.py.)"""

from __future__ import annotations

import pytest
from airflow.sdk.definitions.param import Param, ParamsDict, ParamValidationError

from piak.engines import provision
from piak.sops import helpdesk
from piak.web import form_messages
from piak.workflow import dagkit
from piak.workflow.signoff import Choice, decision, entry

NIK = "3201010101900001"


@pytest.fixture(autouse=True)
def _airflow_home(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow_home"))


def airflow_refusal(form: dict, **values) -> str:
    """The ``detail`` of Airflow's HTTP 400 for a trigger with ``values``."""
    params = ParamsDict(dict(form))
    with pytest.raises(ParamValidationError) as error:
        for name, value in values.items():
            params[name] = value
        params.validate()
    return str(error.value)


def helpdesk_form() -> dict:
    return dagkit.trigger_form(helpdesk.TRIGGER_FORM, helpdesk.TRIGGER_DEFAULTS)


def provision_form() -> dict:
    return {name: Param(**schema) for name, schema in provision.params_schema().items()}


REQUEST = {
    "nama_pemohon": "Budi Santoso",
    "instansi": "Badan Pusat Statistik",
    "nomor_surat": "005/BPS/XI/2026",
    "tanggal_surat": "2026-11-20",
    "keperluan": "penyusunan publikasi daerah",
    "kontak": "0812-3456-7890",
}


@pytest.mark.parametrize(
    ("form", "values", "expected"),
    [
        (helpdesk_form, {"pelapor": "ab"}, 'Isian "Nama pelapor": paling sedikit 3 karakter.'),
        (provision_form, {**REQUEST, "tanggal_surat": "22026-11-20"},
         ": harus tanggal dengan format TTTT-BB-HH, mis. 2026-11-20."),
        (provision_form, {**REQUEST, "kecamatan": ["99.01.99"]},
         'Isian "Kecamatan": berisi pilihan yang tidak ada di daftar.'),
        (provision_form, {**REQUEST, "umur_max": 500}, ": paling besar "),
        (provision_form, {**REQUEST, "nama_pemohon": None}, ": wajib diisi."),
        (provision_form, {**REQUEST, "kecamatan": ["99.01.01", "99.01.01"]},
         ": ada pilihan yang dipilih dua kali."),
    ],
)  # fmt: skip
def test_airflow_s_refusal_of_a_real_form_becomes_one_indonesian_sentence(form, values, expected):
    detail = airflow_refusal(form(), **values)
    assert "Failed validating" in detail  # what Airflow would show
    message = form_messages.trigger_message(detail)
    assert expected in message and message.endswith("Perbaiki isian itu, lalu picu lagi.")
    assert "Failed" not in message and "schema" not in message


def test_the_value_typed_is_never_repeated():
    detail = airflow_refusal(helpdesk_form(), kontak=NIK + "x" * 200)
    assert NIK in detail
    message = form_messages.trigger_message(detail)
    assert NIK not in message and "paling banyak" in message


def test_other_refusals_are_left_as_they_are():
    assert form_messages.trigger_message("DAG with dag_id: 'x' not found") is None
    assert form_messages.trigger_message("") is None


def stored(op) -> dict:
    """The form of a sign-off as Airflow stores it for the API server."""
    return op.serialized_params


def test_a_rejection_without_its_note_is_refused_at_once():
    op = decision(
        "access_rights",
        1,
        task_id="confirm_check",
        choices=[Choice("Teruskan ke Kabid", "a"), Choice("Kembalikan", "b", "returned")],
    )
    problem = form_messages.answer_problem(stored(op), {"chosen_options": ["Kembalikan"]})
    assert problem.startswith('Pilihan "Kembalikan" wajib disertai catatan')
    with_note = {"chosen_options": ["Kembalikan"], "params_input": {"catatan": "belum lengkap"}}
    assert form_messages.answer_problem(stored(op), with_note) is None
    forward = {"chosen_options": ["Teruskan ke Kabid"], "params_input": {"catatan": None}}
    assert form_messages.answer_problem(stored(op), forward) is None


def test_a_required_field_left_empty_is_refused_at_once():
    field = Param(None, type="string", title="Nomor surat keluar", minLength=3)
    op = entry("data_provision", 10, task_id="number_letter", fields={"nomor_surat_keluar": field})
    blank = {"chosen_options": ["OK"], "params_input": {"nomor_surat_keluar": "  "}}
    assert "Isian wajib belum diisi: Nomor surat keluar" in form_messages.answer_problem(
        stored(op), blank
    )
    filled = {"chosen_options": ["OK"], "params_input": {"nomor_surat_keluar": "470/1/2026"}}
    assert form_messages.answer_problem(stored(op), filled) is None


def test_a_form_without_the_project_s_keys_passes_untouched():
    assert form_messages.answer_problem({}, {"chosen_options": ["Tolak"]}) is None
    legacy = {"catatan": {"value": None, "schema": {"type": ["null", "string"]}}}
    assert form_messages.answer_problem(legacy, {"chosen_options": ["Tolak"]}) is None
