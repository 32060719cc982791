"""Recovery speed against the plain tools, measured side by side in one run.

Recovery of the 1,000,000-resident demo set into a scratch file, verification included
(``piak restore``: SHA-256 of every file against the manifest, restore through a temporary file,
quick_check, row counts against the manifest, rename) against ``sha256sum`` of the set plus
``sqlite3 OUT ".restore SET"`` (target: at most 1.3x).

Every measurement is a fresh process; the variants alternate so that the page cache favours none.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))
RUNS = 5
RESIDENTS = 1_000_000
ENV = dict(os.environ, PYTHONPATH=str(ROOT / "include"))
PIAK = [sys.executable, "-m", "piak"]


def _timed(command: list[str] | str, **kwargs) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=ENV, **kwargs)
    return time.perf_counter() - start


def _row(name: str, values: list[float]) -> str:
    runs = ", ".join(f"{v:.2f}" for v in values)
    return f"| {name} | {statistics.median(values):.2f} | {runs} |"


def run() -> str:
    from piak.engines import demo_db, encryption, sqlite_backup

    (ROOT / "bench" / "out").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ROOT / "bench" / "out") as tmp:
        base = Path(tmp)
        demo_db.generate(base / "siak.db", residents=RESIDENTS)
        folder = sqlite_backup.backup(
            base / "siak.db", base / "backups", "siak_20261124T2300", database="siak.db"
        )
        dump = folder / sqlite_backup.DUMP_NAME
        private, public = encryption.generate()
        key = base / "drill.key"
        key.write_text(private + "\n")
        sealed = sqlite_backup.backup(
            base / "siak.db",
            base / "sealed",
            "siak_20261124T2300",
            database="siak.db",
            recipients=[public],
        )
        ours, opened, reference = [], [], []
        for i in range(RUNS):
            out = base / f"scratch{i}.db"
            ours.append(_timed([*PIAK, "restore", str(folder), "--to", str(out)]))
            opened_out = base / f"opened{i}.db"
            opened.append(
                _timed(
                    [*PIAK, "restore", str(sealed), "--to", str(opened_out), "--identity", str(key)]
                )
            )
            opened_out.unlink()
            ref = base / f"ref{i}.db"
            reference.append(
                _timed(
                    f"sha256sum {dump} >/dev/null && sqlite3 {ref} '.restore {dump}'", shell=True
                )
            )
            out.unlink()
            ref.unlink()
        size = dump.stat().st_size
    ratio = statistics.median(ours) / statistics.median(reference)
    verdict = "PASS" if ratio <= 1.3 else "FAIL"
    return "\n".join(
        [
            "## Recovery speed",
            "",
            f"Restore of the {RESIDENTS:,}-resident demo set ({size / 1e6:.0f} MB) into a scratch "
            f"file, verification included; {RUNS} alternating runs each (seconds).",
            "",
            "| measure | median (s) | all runs (s) |",
            "|---|---|---|",
            _row("`piak restore` (verify, restore, quick_check, row counts, rename)", ours),
            _row("`piak restore --identity` of the set encrypted (decrypt first)", opened),
            _row('`sha256sum SET` + `sqlite3 OUT ".restore SET"`', reference),
            "",
            f"- encrypted set: {statistics.median(opened) / statistics.median(reference):.2f}x "
            "(decrypting is the extra pass; no target)",
            f"- recovery vs sha256sum + sqlite3 .restore: **{ratio:.2f}x** (target at most 1.3x): "
            f"**{verdict}**",
            "",
        ]
    )


if __name__ == "__main__":
    print(run())
