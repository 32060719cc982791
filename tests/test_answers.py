"""Sign-off answers kept for a retry (``piak.workflow.answers``): what the API server keeps, what a
retried sign-off applies, and what it leaves alone (an answer from before a clear). On SQLite and
on a real PostgreSQL; the middleware on a real ASGI app. (End to end, 20 immediate answers on a
running Airflow: tests/e2e/test_immediate_answers.py.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from piak.core import agenda
from piak.workflow import answers

KEY = ("helpdesk", "manual__2026-12-03T01:00:00+00:00", "decide_handling", -1)
ANSWERED = datetime(2026, 12, 3, 1, 0, 5, tzinfo=UTC)
OPENED = ANSWERED - timedelta(seconds=3)
TRY_1 = answers.Try(1, OPENED)
TRY_2 = answers.Try(2, OPENED + timedelta(minutes=1))
ANSWER = {
    "responded_by": {"id": "kasi", "name": "kasi"},
    "responded_at": ANSWERED.isoformat(),
    "chosen_options": ["Selesai: jawaban langsung ke pelapor"],
    "params_input": {"jawaban": "Sudah diperbaiki.", "catatan": None},
}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path, monkeypatch):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'agenda.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        with agenda.engine(url).begin() as conn:
            conn.execute(agenda.signoff_answer.delete())
            conn.execute(agenda.agenda_entry.delete())
    monkeypatch.setenv("PIAK_AGENDA_URL", url)
    return url


def retry(try_number: int = 2, first_try: int = 1) -> dict | None:
    return answers.for_retry(*KEY, try_number=try_number, first_try=first_try)


def test_the_answer_to_an_earlier_try_is_given_back_as_the_resume_event(store):
    assert retry() is None
    answers.keep(*KEY, TRY_1, ANSWER)
    assert retry() == {
        "chosen_options": ["Selesai: jawaban langsung ke pelapor"],
        "params_input": {"jawaban": "Sudah diperbaiki.", "catatan": None},
        "responded_at": ANSWERED,
        "responded_by_user": {"id": "kasi", "name": "kasi"},
        "timedout": False,
        "opened_at": OPENED,
    }


def test_the_first_try_of_an_attempt_always_asks(store):
    """The first run of a task, and its first run after a clear: nothing is applied."""
    answers.keep(*KEY, TRY_1, ANSWER)
    assert retry(try_number=1, first_try=1) is None
    assert retry(try_number=2, first_try=2) is None  # cleared after try 1: a new attempt


def test_an_answer_from_before_a_clear_is_not_applied_to_the_new_attempt(store):
    """Answered on try 1, cleared (attempt from try 2), try 2 failed: try 3 asks again."""
    answers.keep(*KEY, TRY_1, ANSWER)
    assert retry(try_number=3, first_try=2) is None
    answers.keep(*KEY, TRY_2, ANSWER)
    assert retry(try_number=3, first_try=2) is not None


def test_the_attempt_is_airflow_s_own_reckoning():
    """Airflow gives a cleared task ``try_number + retries`` as its new ``max_tries``."""
    assert answers.first_try_of_attempt(1, max_tries=2, retries=2) == 1
    assert answers.first_try_of_attempt(2, max_tries=2, retries=2) == 1  # a retry
    assert answers.first_try_of_attempt(2, max_tries=3, retries=2) == 2  # cleared after try 1
    assert answers.first_try_of_attempt(1, max_tries=0, retries=0) == 1


def test_a_later_answer_replaces_the_kept_one(store):
    answers.keep(*KEY, TRY_1, ANSWER)
    later = {**ANSWER, "responded_at": (ANSWERED + timedelta(minutes=3)).isoformat(),
             "chosen_options": ["Laporkan ke Kabid"]}  # fmt: skip
    answers.keep(*KEY, TRY_1, later)
    assert retry()["chosen_options"] == ["Laporkan ke Kabid"]
    with agenda.engine().connect() as conn:
        assert len(conn.execute(agenda.signoff_answer.select()).all()) == 1


def _app(status: int) -> Starlette:
    async def answer(request: Request) -> JSONResponse:
        if request.method == "PATCH":
            await request.json()
        return JSONResponse(ANSWER if status == 200 else {"detail": "sudah dijawab"}, status)

    path = "/api/v2/dags/{dag}/dagRuns/{run}/taskInstances/{task}/{map_index}/hitlDetails"
    routes = [Route(path, answer, methods=["PATCH", "GET"])]
    return Starlette(routes=routes, middleware=[])


def _client(status: int) -> TestClient:
    """The middleware around a real ASGI app; the try number, which the API server reads from
    Airflow's metadata database, is try 1 here."""
    return TestClient(answers.AnswerKeeperMiddleware(_app(status), lambda *key: TRY_1))


URL = f"/api/v2/dags/{KEY[0]}/dagRuns/{KEY[1]}/taskInstances/{KEY[2]}/-1/hitlDetails"


def test_the_middleware_keeps_an_accepted_answer_and_passes_the_response_on(store):
    response = _client(200).patch(URL, json={"chosen_options": ANSWER["chosen_options"]})
    assert response.status_code == 200 and response.json() == ANSWER
    assert retry()["responded_at"] == ANSWERED


def test_the_middleware_keeps_nothing_of_a_refused_answer_or_another_request(store):
    refused = _client(409).patch(URL, json={"chosen_options": ["x"]})
    assert refused.status_code == 409 and refused.json() == {"detail": "sudah dijawab"}
    read = _client(200).get(URL)
    assert read.status_code == 200
    assert retry() is None


def test_an_answer_that_cannot_be_kept_still_reaches_the_person(tmp_path, monkeypatch, caplog):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    monkeypatch.setenv("PIAK_AGENDA_URL", f"sqlite:///{blocked}/agenda.db")
    response = _client(200).patch(URL, json={"chosen_options": ANSWER["chosen_options"]})
    assert response.status_code == 200 and json.loads(response.content) == ANSWER
    assert "tidak tersimpan" in caplog.text and "Sudah diperbaiki" not in caplog.text
