"""What the step functions of an SOP need of a running task, for unit tests without Airflow:
the run's context and its XCom (``RunTI``), and sign-off answers as the sign-off operators store
them. End-to-end tests run the same functions in a real Airflow (tests/e2e)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

WIB = ZoneInfo("Asia/Jakarta")


class RunTI:
    """XCom of one run, by task id and key - as ``TaskInstance.xcom_push/xcom_pull`` keep it."""

    dag_id = "dag"
    run_id = "run"
    map_index = -1
    start_date = None

    def __init__(self, task_id: str = "task") -> None:
        self.task_id = task_id
        self.values: dict[tuple[str, str], Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.values[self.task_id, key] = value

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        return self.values.get((task_ids, key))

    def answer(self, task_id: str, option: str, user: str, **fields: Any) -> None:
        """A sign-off's answer as ``piak.workflow.signoff`` stores it (XCom key ``answer``)."""
        self.values[task_id, "answer"] = {
            "chosen_options": [option],
            "params_input": fields,
            "responded_at": "2026-11-25T03:00:00+00:00",
            "responded_by_user": {"id": user, "name": user},
        }


def context(
    params: dict | None = None,
    *,
    run_id: str = "manual__2026-11-25T02:00:00+00:00",
    when: datetime | None = None,
    ti: RunTI | None = None,
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "logical_date": when or datetime(2026, 11, 25, 9, 0, tzinfo=WIB),
        "params": params or {},
        "ti": ti or RunTI(),
    }
