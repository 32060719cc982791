"""Backup speed against the plain tools, measured side by side in one run.

1. Copy + verify of a 2 GiB set to a mounted-path target (``piak copy-backup``) against
   ``cp SRC DST && sha256sum DST`` (target: at most 1.15x) and against
   ``rclone copy --checksum`` followed by ``rclone check`` (target: no slower).
2. Embedded backup of the 1,000,000-resident demo database (``piak backup``) against
   ``sqlite3 DB ".backup OUT" && sha256sum OUT`` (target: at most 1.2x).

Every measurement is a fresh process; the variants alternate so that the page cache favours none.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))
RUNS = 5
SET_BYTES = 2 * 1024**3
RESIDENTS = 1_000_000
ENV = dict(os.environ, PYTHONPATH=str(ROOT / "include"))
PIAK = [sys.executable, "-m", "piak"]


def _timed(command: list[str] | str, **kwargs) -> float:
    # Every variant starts on a quiet device: dirty pages another variant left behind would
    # otherwise be written back during this one's measurement.
    os.sync()
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=ENV, **kwargs)
    return time.perf_counter() - start


def _make_set(base: Path) -> Path:
    from piak import backupset

    work = backupset.start_set(base, "bench_20261124T2300")
    chunk = os.urandom(16 * 1024 * 1024)
    with (work / "siak_01.dmp").open("wb") as handle:
        for _ in range(SET_BYTES // len(chunk)):
            handle.write(chunk)
    manifest = backupset.Manifest(
        set_name="bench_20261124T2300",
        database="bench",
        engine="bench",
        tool="bench",
        started_at="",
        finished_at="",
        files=backupset.describe_files(work, ["siak_01.dmp"]),
    )
    return backupset.finish_set(work, manifest)


def _ensure_tools() -> bool:
    if shutil.which("rclone") and shutil.which("sqlite3"):
        return True
    result = subprocess.run([str(ROOT / "scripts/ensure-debian-packages.sh"), "rclone", "sqlite3"])
    return result.returncode == 0


def _row(name: str, values: list[float]) -> str:
    runs = ", ".join(f"{v:.2f}" for v in values)
    return f"| {name} | {statistics.median(values):.2f} | {runs} |"


def run() -> str:
    if not _ensure_tools():
        return "## Backup speed\n\nFAIL: rclone/sqlite3 missing and could not be installed\n"
    lines = []
    (ROOT / "bench" / "out").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ROOT / "bench" / "out") as tmp:
        base = Path(tmp)
        source = _make_set(base / "server")
        data = source / "siak_01.dmp"
        ours, cp, rclone = [], [], []
        for i in range(RUNS):
            dest = base / f"piak{i}"
            ours.append(_timed([*PIAK, "copy-backup", str(source), str(dest)]))
            dest_cp = base / f"cp{i}"
            dest_cp.mkdir()
            cp.append(
                _timed(f"cp {data} {dest_cp}/ && sha256sum {dest_cp}/siak_01.dmp", shell=True)
            )
            dest_rc = base / f"rclone{i}"
            rclone.append(
                _timed(
                    f"rclone copy --checksum {source} {dest_rc} && rclone check {source} {dest_rc}",
                    shell=True,
                )
            )
            for folder in (dest, dest_cp, dest_rc):
                shutil.rmtree(folder)
        copy_vs_cp = statistics.median(ours) / statistics.median(cp)
        copy_vs_rclone = statistics.median(ours) / statistics.median(rclone)

        from piak import demo_db

        database = base / "siak.db"
        demo_db.generate(database, residents=RESIDENTS)
        backup, reference = [], []
        for i in range(RUNS):
            backup.append(
                _timed([*PIAK, "backup", "--sqlite", str(database), "--dest", str(base / f"b{i}")])
            )
            out = base / f"ref{i}.db"
            reference.append(
                _timed(f'sqlite3 {database} ".backup {out}" && sha256sum {out}', shell=True)
            )
            shutil.rmtree(base / f"b{i}")
            out.unlink()
        backup_vs_sqlite = statistics.median(backup) / statistics.median(reference)

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    lines += [
        "## Backup speed",
        "",
        f"Copy + verify of a {SET_BYTES / 1024**3:.0f} GiB set to a folder, and the backup of the "
        f"{RESIDENTS:,}-resident demo database; {RUNS} alternating runs each (seconds).",
        "",
        "| measure | median (s) | all runs (s) |",
        "|---|---|---|",
        _row("`piak copy-backup` (copy, hash, read back, verify)", ours),
        _row("`cp` + `sha256sum DST`", cp),
        _row("`rclone copy --checksum` + `rclone check`", rclone),
        _row("`piak backup --sqlite` (online backup, row counts, manifest)", backup),
        _row('`sqlite3 DB ".backup OUT"` + `sha256sum OUT`', reference),
        "",
        f"- copy vs cp+sha256sum: **{copy_vs_cp:.2f}x** (target at most 1.15x): "
        f"**{verdict(copy_vs_cp <= 1.15)}**",
        f"- copy vs rclone copy+check: **{copy_vs_rclone:.2f}x** (target at most 1.0x): "
        f"**{verdict(copy_vs_rclone <= 1.0)}**",
        f"- backup vs sqlite3 .backup+sha256sum: **{backup_vs_sqlite:.2f}x** (target at most "
        f"1.2x): **{verdict(backup_vs_sqlite <= 1.2)}**",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
