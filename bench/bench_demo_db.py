"""Demo database generation: 1,000,000 residents in at most 60 s with peak memory at most
500 MB. Each run is a fresh ``python -m piak demo-db`` process measured by a wrapper process
(wall time and the child's peak RSS from getrusage)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESIDENTS = 1_000_000
RUNS = 3
TARGET_SECONDS = 60
TARGET_MB = 500

MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
wall = time.perf_counter() - start
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": wall, "peak_mb": peak_kb / 1024}))
"""


def _one(out: Path) -> dict[str, float]:
    command = [sys.executable, "-m", "piak", "demo-db", "--residents", str(RESIDENTS)]
    command += ["--out", str(out)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "include"))
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, *command],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(result.stdout)


def run() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        runs = [_one(Path(tmp) / f"siak_{i}.db") for i in range(RUNS)]
        size_mb = (Path(tmp) / "siak_0.db").stat().st_size / 1e6
    seconds = statistics.median(r["seconds"] for r in runs)
    peak = statistics.median(r["peak_mb"] for r in runs)
    verdict = "PASS" if seconds <= TARGET_SECONDS and peak <= TARGET_MB else "FAIL"
    return "\n".join(
        [
            "## Demo SIAK database generation",
            "",
            f"`python -m piak demo-db --residents {RESIDENTS:,}` in a fresh process, {RUNS} runs "
            f"(database file {size_mb:.0f} MB).",
            "",
            "| measure | median | all runs | target |",
            "|---|---|---|---|",
            f"| wall time (s) | {seconds:.1f} | "
            + ", ".join(f"{r['seconds']:.1f}" for r in runs)
            + f" | at most {TARGET_SECONDS} |",
            f"| peak memory (MB) | {peak:.0f} | "
            + ", ".join(f"{r['peak_mb']:.0f}" for r in runs)
            + f" | at most {TARGET_MB} |",
            "",
            f"Time {seconds / TARGET_SECONDS:.2f}x of the limit, memory {peak / TARGET_MB:.2f}x: "
            f"**{verdict}**",
            "",
        ]
    )


if __name__ == "__main__":
    print(run())
