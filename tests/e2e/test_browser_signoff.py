"""Sign-off in a real browser: Debian's Chromium, driven by Playwright, against the shared e2e
Airflow's API server and its React UI ("Required Actions", the human-in-the-loop page).

A backup run is triggered through the REST API; it starts the hand-over run. The Kasi logs in
on the login page, finds the pending hand-over in the list of required actions, approves it
(*Setujui*) with a note, and the run goes on to the Kabid. The JFU then sees that pending
sign-off too, but the UI refuses the JFU's answer ("Access Denied", HTTP 403) and nothing is
answered. The Kabid finishes the run through the REST API.

Screenshots go to ``tests/artifacts/browser_signoff/`` (git-ignored); the README's section for
approvers shows copies of three of them (``docs/img/signoff-*.png``).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, Playwright, Response, expect, sync_playwright

if TYPE_CHECKING:
    from conftest import Airflow  # tests/e2e/conftest.py: the shared Airflow and its REST client

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "browser_signoff"
CHROMIUM = Path("/usr/bin/chromium")
# Headless on a machine without a screen or a way out: no GPU, no sandbox (root), and no
# background connections to Google's services (refused here, and slow to give up).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
UI_TIMEOUT_MS = 30_000
DAG = "backup_handover"
KASI_TASK = "receive_copy_kasi"
KABID_TASK = "receive_copy_kabid"
NOTE = "Salinan di flash disk diterima, SHA-256 cocok."


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, installed (as root) through scripts/ensure-debian-packages.sh when
    missing; a machine where it cannot be installed fails the test with the command to run."""
    ensure = subprocess.run(
        [str(ROOT / "scripts" / "ensure-debian-packages.sh"), "chromium", "chromium-driver"],
        capture_output=True,
        text=True,
        check=False,
    )
    if ensure.returncode != 0 or not CHROMIUM.exists():
        pytest.fail(
            f"Debian's chromium is needed for the browser test:\n{ensure.stdout}{ensure.stderr}"
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver (its own browser download is not used: it does not work here)."""
    with sync_playwright() as pw:
        yield pw


@contextmanager
def signed_in(
    pw: Playwright, chromium: Path, profile: Path, url: str, user: str, password: str
) -> Generator[Page, None, None]:
    """A fresh headless Chromium (its own empty profile) logged in to Airflow as ``user``.

    The login goes through the simple auth manager's login page, as a person would; the page
    yielded shows Airflow's home page.
    """
    context = pw.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(chromium),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 1000},
        locale="en-US",
    )
    context.set_default_timeout(UI_TIMEOUT_MS)
    try:
        page = context.pages[0] if context.pages else context.new_page()
        page.goto(f"{url}/")
        expect(page).to_have_url(re.compile(r"/auth/login"))
        page.get_by_label("Username").fill(user)
        page.get_by_label("Password").fill(password)
        shot(page, f"{user}-01-login")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Welcome")).to_be_visible()
        yield page
    finally:
        context.close()


def shot(page: Page, name: str) -> Path:
    """Keep a screenshot of the page as a test artifact; return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled")  # toasts fully in, not fading
    return path


def open_pending_signoff(page: Page, run_id: str, task_id: str, user: str) -> None:
    """From the home page to the sign-off form, the way the README tells approvers to go:
    the *Required Actions* card, *View all required actions*, then the run's task in the list."""
    page.get_by_role("button", name=re.compile(r"Required Actions?$")).click()
    drawer = page.get_by_role("dialog", name="Required Actions")
    expect(
        drawer.get_by_role("heading", name=re.compile(r"Pending required actions"))
    ).to_be_visible()
    shot(page, f"{user}-02-home-required-actions")
    drawer.get_by_role("link", name="View all required actions").click()
    expect(page).to_have_url(re.compile(r"/required_actions\?response_received=false"))
    row = page.get_by_role("row").filter(has_text=run_id).filter(has_text=task_id)
    expect(row).to_have_count(1)
    expect(row.get_by_text("Response Required")).to_be_visible()
    shot(page, f"{user}-03-required-actions-list")
    row.get_by_role("link", name=task_id, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/tasks/{task_id}/required_actions$"))
    expect(page.get_by_role("button", name="Setujui")).to_be_enabled()


def _is_answer(response: Response) -> bool:
    """The UI's answer to a sign-off: the PATCH of the task instance's HITL details."""
    return response.request.method == "PATCH" and response.url.endswith("/hitlDetails")


def hitl_detail(airflow: Airflow, run_id: str, task_id: str) -> dict:
    """The sign-off's request and answer as the REST API reports them (read as the admin)."""
    response = airflow.api(
        "admin", "GET", f"/dags/{DAG}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails"
    )
    response.raise_for_status()
    return response.json()


def end_run(airflow: Airflow, run_id: str) -> None:
    """Leave no hand-over waiting: mark an unfinished run failed."""
    state = airflow.api("admin", "GET", f"/dags/{DAG}/dagRuns/{run_id}").json().get("state")
    if state not in ("success", "failed"):
        airflow.api("admin", "PATCH", f"/dags/{DAG}/dagRuns/{run_id}", json={"state": "failed"})


@pytest.fixture
def usual_handover_deadlines(airflow: Airflow) -> Iterator[None]:
    """The Kabid's receipt keeps its usual deadlines while this test opens it (the backup tests
    shorten them for a while)."""
    with airflow.holding("deadlines.backup_database.7", exclusive=False):  # SOP code, step
        yield


def test_kasi_signs_the_handover_in_the_browser_and_the_jfu_cannot(
    airflow: Airflow,
    playwright: Playwright,
    chromium: Path,
    tmp_path: Path,
    usual_handover_deadlines: None,
):
    airflow.backed_up("2026-09-20T16:00:00Z")
    run_id = "handover__siak_20260920T2300"
    try:
        # Waits past the moment the parked task is reported (apache/airflow#66374).
        airflow.wait_task(DAG, run_id, KASI_TASK, {"awaiting_input"})

        with signed_in(
            playwright, chromium, tmp_path / "kasi", airflow.url, "kasi", airflow.passwords["kasi"]
        ) as page:
            open_pending_signoff(page, run_id, KASI_TASK, "kasi")
            expect(page.get_by_text("[Kepala Seksi] Prosedur Backup database")).to_be_visible()
            expect(page.get_by_text("SHA-256").first).to_be_visible()
            page.locator("input[name='element_catatan']").fill(NOTE)
            page.get_by_role("button", name="Setujui").scroll_into_view_if_needed()
            shot(page, "kasi-04-signoff-form")
            with page.expect_response(_is_answer) as answer:
                page.get_by_role("button", name="Setujui").click()
            assert answer.value.status == 200, answer.value.text()
            expect(
                page.get_by_text(re.compile(r"Response received at .* from kasi"))
            ).to_be_visible()
            expect(page.get_by_role("button", name="Setujui")).to_be_disabled()
            shot(page, "kasi-05-approved")

        detail = hitl_detail(airflow, run_id, KASI_TASK)
        assert detail["response_received"] is True
        assert detail["chosen_options"] == ["Setujui"]
        assert detail["params_input"]["catatan"] == NOTE
        assert detail["responded_by_user"]["id"] == "kasi"
        # The run goes on: the Kabid's sign-off is the next one waiting.
        airflow.wait_task(DAG, run_id, KABID_TASK, {"awaiting_input"})

        with signed_in(
            playwright, chromium, tmp_path / "jfu", airflow.url, "jfu", airflow.passwords["jfu"]
        ) as page:
            open_pending_signoff(page, run_id, KABID_TASK, "jfu")
            page.locator("input[name='element_catatan']").fill("dicoba oleh JFU")
            with page.expect_response(_is_answer) as answer:
                page.get_by_role("button", name="Setujui").click()
            assert answer.value.status == 403, answer.value.text()
            expect(page.get_by_text("Access Denied")).to_be_visible()
            expect(
                page.get_by_text("You do not have permission to perform this action")
            ).to_be_visible()
            expect(page.get_by_text("Awaiting Input")).to_be_visible()
            shot(page, "jfu-04-refused")

        detail = hitl_detail(airflow, run_id, KABID_TASK)
        assert detail["response_received"] is False
        assert detail["chosen_options"] is None and detail["responded_by_user"] is None
        assert airflow.task_state(DAG, run_id, KABID_TASK) == "awaiting_input"

        ok = airflow.answer("kabid", DAG, run_id, KABID_TASK, ["Setujui"])
        assert ok.status_code == 200, ok.text
        assert airflow.wait_run(DAG, run_id) == "success"
        entry = {e.task_id: e for e in airflow.agenda(run_id)}[KASI_TASK]
        assert (entry.outcome, entry.actor, entry.note) == ("approved", "kasi", NOTE)
    finally:
        end_run(airflow, run_id)


def test_the_trigger_button_is_disabled_for_whoever_may_not_trigger_the_dag(
    airflow: Airflow, playwright: Playwright, chromium: Path, tmp_path: Path
):
    """The DAG page as the Kasi (may see database_recovery, may not start it) and as the
    administrator (may): the same Trigger button, disabled for the one, usable for the other."""
    for user, enabled in (("kasi", False), ("administrator", True)):
        password = airflow.passwords[user]
        with signed_in(playwright, chromium, tmp_path / user, airflow.url, user, password) as page:
            page.goto(f"{airflow.url}/dags/database_recovery")
            button = page.get_by_test_id("trigger-dag-button").first
            expect(button).to_be_visible()
            expect(button).to_be_enabled() if enabled else expect(button).to_be_disabled()
            shot(page, f"{user}-trigger-button")


def test_a_trigger_form_mistake_is_told_in_indonesian_in_the_dialog(
    airflow: Airflow, playwright: Playwright, chromium: Path, tmp_path: Path
):
    """The JFU fills in the helpdesk form with a two-letter name: the field says its limits
    before, and the dialog says what is wrong in one Indonesian sentence after; no run starts."""
    runs = airflow.api("admin", "GET", "/dags/helpdesk/dagRuns").json()["total_entries"]
    password = airflow.passwords["jfu"]
    with signed_in(playwright, chromium, tmp_path / "jfu", airflow.url, "jfu", password) as page:
        page.goto(f"{airflow.url}/dags/helpdesk")
        page.get_by_test_id("trigger-dag-button").first.click()
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_text("Panjang 3-100 karakter.").first).to_be_visible()
        dialog.locator("#element_pelapor").fill("ab")
        dialog.locator("#element_asal").fill("Kecamatan Contoh Barat")
        dialog.locator("#element_kontak").fill("0812-0000-0000")
        dialog.locator("#element_uraian").fill("Aplikasi SIAK tidak bisa dibuka sejak pagi.")
        dialog.get_by_role("button", name="Trigger").click()
        refusal = (
            'Isian "Nama pelapor": paling sedikit 3 karakter. Perbaiki isian itu, lalu picu lagi.'
        )
        expect(dialog.get_by_text(refusal)).to_be_visible()
        expect(dialog.get_by_text("Failed validating")).to_have_count(0)
        shot(page, "jfu-trigger-form-refusal")
    assert airflow.api("admin", "GET", "/dags/helpdesk/dagRuns").json()["total_entries"] == runs
