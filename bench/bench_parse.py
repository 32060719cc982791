"""DAG parse cost: importing and parsing every file in ``dags/`` in a fresh process, against a
fresh ``import airflow.sdk`` measured alternately in the same run. Target: at most 1.5x."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 7
TARGET = 1.5

BASELINE = "import airflow.sdk"
PARSE = """
import importlib.util, pathlib
from airflow.sdk import BaseOperator
found = set()
for path in sorted(pathlib.Path(DAGS).glob("*.py")):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found |= {v.dag.dag_id for v in vars(module).values() if isinstance(v, BaseOperator)}
assert found, "no DAG found"
""".replace("DAGS", repr(str(ROOT / "dags")))


def _time(code: str) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "include"), AIRFLOW_HOME=str(ROOT / "bench/out"))
    # as in the embedded Airflow (piak.demo.airflow_env): the package's bytecode is written once
    # (the warm-up run) and read afterwards, like Airflow's own from its installed wheels
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)
    return time.perf_counter() - start


def run() -> str:
    (ROOT / "bench/out").mkdir(parents=True, exist_ok=True)
    _time(BASELINE)  # warm the page cache for both
    _time(PARSE)
    base, parse = [], []
    for _ in range(RUNS):
        base.append(_time(BASELINE))
        parse.append(_time(PARSE))
    ratio = statistics.median(parse) / statistics.median(base)
    files = len(list((ROOT / "dags").glob("*.py")))
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    return "\n".join(
        [
            "## DAG parse cost",
            "",
            f"Fresh process importing and parsing all {files} files in `dags/` vs a fresh "
            f"`import airflow.sdk`, {RUNS} alternating runs each.",
            "",
            "| measure | median (s) | all runs (s) |",
            "|---|---|---|",
            f"| `import airflow.sdk` | {statistics.median(base):.2f} | "
            + ", ".join(f"{x:.2f}" for x in base)
            + " |",
            f"| parse `dags/` | {statistics.median(parse):.2f} | "
            + ", ".join(f"{x:.2f}" for x in parse)
            + " |",
            "",
            f"Ratio parse / import: **{ratio:.2f}x** (target at most {TARGET}x): **{verdict}**",
            "",
        ]
    )


if __name__ == "__main__":
    print(run())
