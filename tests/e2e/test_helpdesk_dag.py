"""Helpdesk end to end, the ways out the sign-off tests (test_helpdesk_signoffs.py) do not
take: the Kasi's answer straight to the reporter; the field check "Sudah berfungsi"; "Belum
berfungsi" going round again in a new run of the same ticket (the Kabid's instruction first,
the network choice in the second round); and a field check nobody answers, given up on short
deadlines - the reporter is told and the complaint archived all the same. Every answer reaches
the reporter's contact through the notifier (OfficeNotifier; with no mail Connection: the task
log).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

DAG = "helpdesk"
APPLICATION = "Aplikasi: beri petunjuk ke petugas"
NETWORK = "Jaringan: Telkom dihubungi, petugas memeriksa"
FIXED, NOT_FIXED = "Sudah berfungsi", "Belum berfungsi: tangani lagi"


def complaint(contact: str) -> dict:
    return {
        "pelapor": "Siti Aminah",
        "asal": "Kecamatan Contoh Barat",
        "kontak": contact,
        "kategori": "Aplikasi SIAK",
        "uraian": "Aplikasi SIAK tidak bisa mencetak KK sejak pagi.",
    }


def kasi(choice: str, answer: str) -> tuple:
    return ("decide_handling", "kasi", [choice], {"jawaban": answer})


INSTRUCT = ("instruct_field_officer", "kasi", ["OK"], {"petunjuk": "Periksa driver printer"})


def field(result: str, found: str) -> tuple:
    return ("check_in_field", "petugas", [result], {"temuan": found})


def test_answers_rounds_and_a_field_check_given_up(airflow):
    # the field checks opened now give up after a minute
    with airflow.deadlines(DAG, 5, due="10s", give_up_after="1m"):
        runs = {
            way: airflow.trigger(DAG, complaint(f"0812-0000-00{n:02d}"), user="jfu")
            for n, way in enumerate(("direct", "fixed", "again", "given_up"))
        }
        airflow.drive(
            {
                (DAG, runs["direct"]): [
                    kasi("Selesai: jawaban langsung ke pelapor", "Gunakan menu Cetak Ulang KK.")
                ],
                (DAG, runs["fixed"]): [
                    kasi(APPLICATION, "Petugas datang siang ini."),
                    INSTRUCT,
                    field(FIXED, "Driver printer diperbarui"),
                ],
                (DAG, runs["again"]): [
                    kasi("Laporkan ke Kabid", "Kami teruskan ke Kabid."),
                    (
                        "review_by_kabid",
                        "kabid",
                        ["Teruskan petunjuk ke Kasi untuk petugas"],
                        {"jawaban": "Periksa jaringan kecamatan"},
                    ),
                    INSTRUCT,
                    field(NOT_FIXED, "Printer rusak, menunggu suku cadang"),
                ],
                (DAG, runs["given_up"]): [kasi(APPLICATION, "Segera kami periksa."), INSTRUCT],
            }
        )
        # the next round, while the given-up run's field check waits out its minute
        sheet = {e.task_id: e for e in airflow.agenda(runs["again"])}["record_complaint"]
        ticket = Path(sheet.output_ref).parent.name
        second = f"{ticket}__putaran-2"
        airflow.drive(
            {
                (DAG, second): [
                    kasi(NETWORK, "Telkom sudah dihubungi."),
                    INSTRUCT,
                    field(FIXED, "Suku cadang dipasang, printer normal"),
                ]
            }
        )
        airflow.wait_task(DAG, runs["given_up"], "check_in_field", {"failed"}, timeout=240)
    for run in [*runs.values(), second]:
        assert airflow.wait_run(DAG, run) == "success", run
    agenda = {way: {e.task_id: e for e in airflow.agenda(run)} for way, run in runs.items()}
    agenda["second"] = {e.task_id: e for e in airflow.agenda(second)}

    def archive(way: str) -> str:
        return Path(agenda[way]["archive_answer"].output_ref).read_text()

    def told(way: str, run: str | None = None) -> str:
        return airflow.task_log(DAG, run or runs[way], "answer_reporter")

    assert "Jawaban Kasi: Gunakan menu Cetak Ulang KK." in told("direct")
    assert "PESAN untuk 0812-0000-0000" in told("direct")
    assert "check_in_field" not in archive("direct") and "Melalui: OfficeNotifier" in archive(
        "direct"
    )
    assert "Hasil pemeriksaan petugas: Sudah berfungsi - Driver printer diperbarui" in told("fixed")
    assert agenda["fixed"]["archive_answer"].note.endswith("diarsipkan: sudah berfungsi")

    first = agenda["again"]
    assert first["prepare_next_round:putaran-berikutnya"].actor == "petugas"
    assert "Keluhan ditangani lagi (putaran 2)." in told("again")
    assert "Jawaban Kabid: Periksa jaringan kecamatan" in told("again")
    round_two = agenda["second"]
    assert round_two["record_complaint"].note.startswith(f"{ticket} putaran 2: belum berfungsi")
    assert round_two["record_complaint"].actor == "sistem (putaran 2, atas jawaban petugas)"
    assert "Putaran 1: belum berfungsi (petugas): Printer rusak" in archive("second")
    assert "penanganan ke-2" in told("second", second)
    assert Path(round_two["archive_answer"].output_ref).name == "arsip_putaran-2.md"

    gave_up = agenda["given_up"]
    assert gave_up["check_in_field"].outcome == "failed"
    assert "Tidak dijawab dalam 1 menit" in gave_up["check_in_field"].note
    assert "Petugas belum melaporkan pemeriksaan dalam batas waktu" in told("given_up")
    assert gave_up["archive_answer"].note.endswith("tidak diperiksa petugas dalam batas waktu")
