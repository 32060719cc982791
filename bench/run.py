"""``make bench``: run every ``bench/bench_*.py`` and write ``bench/REPORT.md``.

Each benchmark module exposes ``run() -> str`` returning a Markdown section with its medians,
its ratios measured side by side in the same run, and PASS/FAIL against its target.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(selected: list[str]) -> int:
    """Run the selected benchmarks (all by default); the report keeps the latest section of every
    benchmark, each with the time and commit it was measured at."""
    (HERE / "out").mkdir(exist_ok=True)
    sections = []
    for path in sorted(HERE.glob("bench_*.py")):
        saved = HERE / "out" / f"{path.stem}.md"
        if selected and path.stem.removeprefix("bench_") not in selected:
            if saved.exists():
                sections.append(saved.read_text(encoding="utf-8"))
            continue
        print(f"== {path.stem}", flush=True)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        section = (
            module.run()
            + f"\n_Measured {datetime.now(UTC):%Y-%m-%d %H:%M UTC}, commit {_commit()}._\n"
        )
        print(section, flush=True)
        saved.write_text(section, encoding="utf-8")
        sections.append(section)
    commit = _commit()
    header = [
        "# Benchmark report",
        "",
        f"- When: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}; commit {commit or '?'}",
        f"- Machine: {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}",
        "- Each figure is the median of several runs in fresh processes; the ratios compare",
        "  variants measured side by side in the same run. `make bench` runs every benchmark;",
        "  `bench/run.py NAME` runs one (the other sections keep their last measurement).",
        "",
    ]
    report = HERE / "REPORT.md"
    report.write_text("\n".join(header + sections) + "\n", encoding="utf-8")
    print(f"wrote {report}")
    return 1 if any("FAIL" in s for s in sections) else 0


def _commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
    ).stdout.strip()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
