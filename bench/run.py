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
    sections = []
    for path in sorted(HERE.glob("bench_*.py")):
        if selected and path.stem.removeprefix("bench_") not in selected:
            continue
        print(f"== {path.stem}", flush=True)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        section = module.run()
        print(section, flush=True)
        sections.append(section)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
    ).stdout.strip()
    header = [
        "# Benchmark report",
        "",
        f"- When: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}; commit {commit or '?'}",
        f"- Machine: {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}",
        "- Each figure is the median of several runs in fresh processes, measured in this run.",
        "",
    ]
    report = HERE / "REPORT.md"
    report.write_text("\n".join(header + sections) + "\n", encoding="utf-8")
    print(f"wrote {report}")
    return 1 if any("FAIL" in s for s in sections) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
