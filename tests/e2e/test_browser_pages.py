"""The office's pages in a real browser (Debian's Chromium via Playwright) on the shared e2e
Airflow: the Kasi logs in on Airflow's login page, and with that session's cookie opens
"Tugas saya" (a helpdesk request waiting for the Kasi, its link opening the Required Action),
"Kepatuhan SOP" and "Agenda" with the figures of real runs, downloads the agenda's XLSX, and
opens "Katalog backup". Screenshots go to ``tests/artifacts/browser_signoff/``; the README
shows copies (``docs/img/pages-*.png``)."""

from __future__ import annotations

import re
from io import BytesIO
from urllib.parse import quote

import pytest
from e2e.test_browser_signoff import chromium, playwright, shot, signed_in  # ruff: ignore[unused-import] - fixtures
from openpyxl import load_workbook
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

DAG = "helpdesk"
COMPLAINT = {
    "pelapor": "Siti Aminah",
    "asal": "Kecamatan Contoh Utara",
    "kontak": "0812-0000-0000",
    "kategori": "Aplikasi SIAK",
    "uraian": "Cetak KK gagal di kecamatan sejak pagi, muncul pesan galat.",
}


def test_the_kasi_opens_the_office_pages_in_a_browser(airflow, playwright, chromium, tmp_path):  # ruff: ignore[redefined-while-unused] - fixtures
    run_id = airflow.trigger(DAG, COMPLAINT, user="jfu")
    airflow.wait_task(DAG, run_id, "decide_handling", {"awaiting_input"})
    with signed_in(playwright, chromium, tmp_path / "kasi", airflow.url, "kasi",
                   airflow.passwords["kasi"]) as page:  # fmt: skip
        page.goto(f"{airflow.url}/piak/tugas-saya/")
        expect(page.get_by_role("heading", name="Tugas saya")).to_be_visible()
        # this run's row (other tests' helpdesk requests may be waiting for the Kasi too)
        link = page.locator(f'a[href*="/runs/{quote(run_id, safe="")}/"]')
        row = page.get_by_role("row").filter(has_text="Prosedur Layanan Bantuan", has=link)
        expect(row).to_have_count(1)
        shot(page, "pages-1-tugas-saya")
        row.get_by_role("link", name="Buka dan jawab").click()
        expect(page).to_have_url(re.compile(r"/tasks/decide_handling/required_actions"))

        answer = {"jawaban": "Silakan cetak ulang setelah pembaruan.", "catatan": None}
        done = "Selesai: jawaban langsung ke pelapor"
        assert airflow.answer("kasi", DAG, run_id, "decide_handling", [done], answer).ok
        assert airflow.wait_run(DAG, run_id) == "success"

        month = run_id.split("__")[1][:7]
        page.goto(f"{airflow.url}/piak/kepatuhan/?bulan={month}&menurut=langkah")
        expect(page.get_by_role("cell", name="helpdesk langkah 2", exact=True)).to_be_visible()
        expect(page.get_by_role("img", name="Sesuai waktu baku")).to_be_visible()
        shot(page, "pages-2-kepatuhan-sop")

        page.goto(f"{airflow.url}/piak/agenda/?bulan={month}&sop={DAG}")
        expect(page.get_by_role("link", name=run_id).first).to_be_visible()
        shot(page, "pages-3-agenda")
        with page.expect_download() as download:
            page.get_by_role("link", name="Unduh XLSX").click()
        sheet = load_workbook(BytesIO(download.value.path().read_bytes())).active
        assert run_id in [r[-1] for r in sheet.iter_rows(values_only=True)]

        page.goto(f"{airflow.url}/piak/katalog-backup/")
        expect(page.get_by_role("heading", name="Katalog backup")).to_be_visible()
        shot(page, "pages-4-katalog-backup")
