"""Helpdesk (SOP "Prosedur Layanan Bantuan dan Gangguan SIAK"): the answers reach the reporter
through the configured notifier once, "Belum berfungsi" opens the next round of the same ticket
with its history, a field check given up is archived and told, and its deadlines match the
standard time."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sop_helpers import RunTI, context

from piak.core import deadlines, sealed
from piak.core.errors import PiakError
from piak.sops import helpdesk
from piak.sops.helpdesk import FIXED, NOT_FIXED
from piak.workflow import notify

COMPLAINT = {
    "pelapor": "Siti Aminah",
    "asal": "Kecamatan Contoh Barat",
    "kontak": "0812-0000-0000",
    "kategori": "Aplikasi SIAK",
    "uraian": "Aplikasi SIAK tidak bisa mencetak KK sejak pagi.",
    "tiket": None,
    "putaran": 1,
}


@pytest.fixture(autouse=True)
def storage(tmp_path, monkeypatch):
    monkeypatch.setenv("PIAK_STORAGE", str(tmp_path))
    return tmp_path


def field_round(ti: RunTI, result: str, temuan: str) -> None:
    ti.answer("decide_handling", "Aplikasi: beri petunjuk ke petugas", "kasi",
              jawaban="Petugas kami datang siang ini.", catatan=None)  # fmt: skip
    ti.answer("instruct_field_officer", "OK", "kasi", petunjuk="Periksa driver printer")
    ti.answer("check_in_field", result, "petugas", temuan=temuan)


def test_the_answers_reach_the_reporter_once(caplog):
    caplog.set_level(logging.WARNING, logger="piak.workflow.notify")
    ti = RunTI()
    ctx = context(COMPLAINT, ti=ti)
    recorded = helpdesk.record_complaint(ctx)
    assert recorded["round"] == 1 and recorded["history"] == []
    field_round(ti, FIXED, "Driver printer diperbarui; NIK 9901014101900001 bisa dicetak")
    sent = helpdesk.answer_reporter(ctx)
    assert sent["note"].startswith(
        f"jawaban {recorded['ticket']} ke 0812-0000-0000: dicatat di log"
    )
    (message,) = [r.getMessage() for r in caplog.records if "PESAN untuk" in r.getMessage()]
    assert "PESAN untuk 0812-0000-0000: Jawaban keluhan BANTUAN-" in message
    assert "Jawaban Kasi: Petugas kami datang siang ini." in message
    assert "Hasil pemeriksaan petugas: Sudah berfungsi - Driver printer diperbarui" in message
    assert "9901014101900001" not in caplog.text and "[NIK disamarkan]" in message
    helpdesk.answer_reporter(ctx)  # a retry: already sent, not sent again
    assert len([r for r in caplog.records if "PESAN untuk" in r.getMessage()]) == 1
    archived = helpdesk.archive(ctx)
    text = (helpdesk.ticket_dir(recorded["ticket"]) / "arsip_putaran-1.md").read_text()
    assert archived["note"].endswith("putaran 1 diarsipkan: sudah berfungsi")
    assert "- Kepada: 0812-0000-0000" in text and "Melalui: OfficeNotifier" in text
    folder = helpdesk.ticket_dir(recorded["ticket"])  # the ticket's folder, sealed as proof
    assert sealed.case_problems(folder, "helpdesk") == []
    (folder / "arsip_putaran-1.md").write_text(text.replace("Kepada", "KEPADA"))  # same size
    assert sealed.case_problems(folder, "helpdesk") == [
        "berkas arsip_putaran-1.md: SHA-256 berbeda"
    ]


def test_not_working_goes_round_again_with_its_history():
    ti = RunTI()
    first = context(COMPLAINT, run_id="manual__1", ti=ti)
    ticket = helpdesk.record_complaint(first)["ticket"]
    field_round(ti, NOT_FIXED, "Printer rusak, menunggu suku cadang")
    following = helpdesk.next_round(first)
    assert following["run_id"] == f"{ticket}__putaran-2"
    assert following["conf"] == {**{k: COMPLAINT[k] for k in ("pelapor", "asal", "kontak",
                                 "kategori", "uraian")}, "tiket": ticket, "putaran": 2}  # fmt: skip
    assert "Keluhan ditangani lagi (putaran 2)." in helpdesk.reply(first)
    second = context(following["conf"], run_id=following["run_id"], ti=RunTI())
    again = helpdesk.record_complaint(second)
    assert (again["ticket"], again["round"]) == (ticket, 2)
    assert again["history"] == [
        {"putaran": 1, "hasil": "belum berfungsi", "temuan": "Printer rusak, menunggu suku cadang",
         "oleh": "petugas"}
    ]  # fmt: skip
    assert again["actor"] == "sistem (putaran 2, atas jawaban petugas)"
    assert helpdesk.next_round(first)["run_id"] == following["run_id"]  # a retry: the same round
    assert len(json.loads((helpdesk.ticket_dir(ticket) / "riwayat.json").read_text())) == 1


def test_a_field_check_given_up_is_told_and_archived():
    ti = RunTI()
    ctx = context(COMPLAINT, ti=ti)
    helpdesk.record_complaint(ctx)
    ti.answer("decide_handling", "Aplikasi: beri petunjuk ke petugas", "kasi", jawaban="Segera.")
    ti.answer("instruct_field_officer", "OK", "kasi", petunjuk="Periksa printer")
    assert "Petugas belum melaporkan pemeriksaan dalam batas waktu" in helpdesk.reply(ctx)
    helpdesk.answer_reporter(ctx)
    archived = helpdesk.archive(ctx)
    assert archived["note"].endswith("diarsipkan: tidak diperiksa petugas dalam batas waktu")
    assert "Tidak dijawab petugas dalam batas waktu" in Path(archived["output_ref"]).read_text()


def test_nothing_is_sent_or_archived_for_a_complaint_that_never_reached_the_kasi():
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException):
        helpdesk.answer_reporter(context(COMPLAINT))
    with pytest.raises(AirflowSkipException):
        helpdesk.archive(context(COMPLAINT))


def test_the_field_check_is_due_at_its_standard_time_and_given_up_before_two_days():
    limits = deadlines.for_step("helpdesk", 5)
    assert limits.due == timedelta(days=1)  # Mutu Baku of step 5: 1 hari
    assert (limits.escalate_to, limits.escalate_after) == ("kasi", timedelta(days=1))
    assert limits.give_up_after == timedelta(hours=36)
    assert deadlines.for_step("helpdesk", 2).due == timedelta(minutes=5)


def test_the_notifier_is_configuration(tmp_path):
    assert isinstance(notify.messenger(helpdesk.load_config().notifier), notify.OfficeNotifier)
    bad = tmp_path / "helpdesk.yaml"
    bad.write_text("notifier: kirim sms\n")
    with pytest.raises(PiakError, match="notifier: bentuknya tidak sah"):
        helpdesk.load_config(bad)
    with pytest.raises(TypeError, match="cannot send messages"):
        notify.messenger("airflow.sdk:BaseNotifier")
