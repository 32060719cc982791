"""Sign-off answers kept for a retry (``piak.answers``): what the API server keeps, what a retried
sign-off applies, and what it leaves alone (an answer already processed). On SQLite and on a real
PostgreSQL; the middleware on a real ASGI app. (End to end, 20 immediate answers on a running
Airflow: tests/e2e/test_immediate_answers.py.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from piak import agenda, answers

KEY = ("helpdesk", "manual__2026-12-03T01:00:00+00:00", "decide_handling", -1)
ANSWERED = datetime(2026, 12, 3, 1, 0, 5, tzinfo=UTC)
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


def record_step(recorded_at: datetime, task_id: str = "decide_handling") -> None:
    agenda.record(
        agenda.AgendaEntry(
            recorded_at=recorded_at,
            sop_code="helpdesk",
            dag_id=KEY[0],
            run_id=KEY[1],
            task_id=task_id,
            map_index=-1,
            step_number=2,
            role="kasi",
            actor="kasi",
            outcome="approved",
        )
    )


def test_an_answer_no_try_processed_is_given_back_as_the_resume_event(store):
    assert answers.unprocessed(*KEY, {"decide_handling"}) is None
    answers.keep(*KEY, ANSWER)
    event = answers.unprocessed(*KEY, {"decide_handling"})
    assert event == {
        "chosen_options": ["Selesai: jawaban langsung ke pelapor"],
        "params_input": {"jawaban": "Sudah diperbaiki.", "catatan": None},
        "responded_at": ANSWERED,
        "responded_by_user": {"id": "kasi", "name": "kasi"},
        "timedout": False,
    }


def test_an_answer_already_in_the_agenda_is_not_applied_again(store):
    """A task cleared on purpose after its answer was processed asks again."""
    answers.keep(*KEY, ANSWER)
    record_step(ANSWERED + timedelta(seconds=2))
    assert answers.unprocessed(*KEY, {"decide_handling"}) is None


def test_a_newer_answer_than_the_agenda_s_is_applied(store):
    """Processed once, cleared, answered again - and that answer lost: the new one applies."""
    record_step(ANSWERED - timedelta(minutes=5))
    answers.keep(*KEY, ANSWER)
    assert answers.unprocessed(*KEY, {"decide_handling"})["responded_at"] == ANSWERED


def test_other_entries_of_the_run_do_not_count_as_processing_it(store):
    answers.keep(*KEY, ANSWER)
    record_step(ANSWERED + timedelta(minutes=1), task_id="decide_handling:reminded-1")
    record_step(ANSWERED + timedelta(minutes=1), task_id="record_complaint")
    assert answers.unprocessed(*KEY, {"decide_handling"}) is not None


def test_a_later_answer_replaces_the_kept_one(store):
    answers.keep(*KEY, ANSWER)
    later = {**ANSWER, "responded_at": (ANSWERED + timedelta(minutes=3)).isoformat(),
             "chosen_options": ["Laporkan ke Kabid"]}  # fmt: skip
    answers.keep(*KEY, later)
    event = answers.unprocessed(*KEY, {"decide_handling"})
    assert event["chosen_options"] == ["Laporkan ke Kabid"]
    with agenda.engine().connect() as conn:
        assert conn.execute(agenda.signoff_answer.select()).all().__len__() == 1


def _app(status: int) -> Starlette:
    async def answer(request: Request) -> JSONResponse:
        if request.method == "PATCH":
            await request.json()
        return JSONResponse(ANSWER if status == 200 else {"detail": "sudah dijawab"}, status)

    path = "/api/v2/dags/{dag}/dagRuns/{run}/taskInstances/{task}/{map_index}/hitlDetails"
    routes = [Route(path, answer, methods=["PATCH", "GET"])]
    return Starlette(routes=routes, middleware=[])


def _client(status: int) -> TestClient:
    return TestClient(answers.AnswerKeeperMiddleware(_app(status)))


URL = f"/api/v2/dags/{KEY[0]}/dagRuns/{KEY[1]}/taskInstances/{KEY[2]}/-1/hitlDetails"


def test_the_middleware_keeps_an_accepted_answer_and_passes_the_response_on(store):
    response = _client(200).patch(URL, json={"chosen_options": ANSWER["chosen_options"]})
    assert response.status_code == 200 and response.json() == ANSWER
    assert answers.unprocessed(*KEY, {"decide_handling"})["responded_at"] == ANSWERED


def test_the_middleware_keeps_nothing_of_a_refused_answer_or_another_request(store):
    refused = _client(409).patch(URL, json={"chosen_options": ["x"]})
    assert refused.status_code == 409 and refused.json() == {"detail": "sudah dijawab"}
    read = _client(200).get(URL)
    assert read.status_code == 200
    assert answers.unprocessed(*KEY, {"decide_handling"}) is None


def test_an_answer_that_cannot_be_kept_still_reaches_the_person(tmp_path, monkeypatch, caplog):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    monkeypatch.setenv("PIAK_AGENDA_URL", f"sqlite:///{blocked}/agenda.db")
    response = _client(200).patch(URL, json={"chosen_options": ANSWER["chosen_options"]})
    assert response.status_code == 200 and json.loads(response.content) == ANSWER
    assert "tidak tersimpan" in caplog.text and "Sudah diperbaiki" not in caplog.text
