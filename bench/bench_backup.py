"""Backup speed against the plain tools, measured side by side in one run.

1. Copy + verify of a 2 GiB encrypted set (an age file, as every nightly set is) to a
   mounted-path target (``piak copy-backup``) against ``cp SRC DST && sha256sum DST`` (target: at
   most 1.15x) and against ``rclone copy --checksum`` followed by ``rclone check`` (target: no
   slower); peak memory of the copy.
2. Embedded backup of the 1,000,000-resident demo database (``piak backup``), unencrypted
   (target: at most 1.2x) and encrypted (target: at most 1.3x), against
   ``sqlite3 DB ".backup OUT" && sha256sum OUT``; peak memory of the encrypted backup.

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


def _peak_mb(command: list[str]) -> float:
    """Peak resident memory (MB) of ``command`` in a fresh process (GNU time's maximum RSS)."""
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *command], env=ENV, capture_output=True, text=True, check=True
    )
    return int(done.stderr.strip().splitlines()[-1]) / 1024


def _timed(command: list[str] | str, **kwargs) -> float:
    # Every variant starts on a quiet device: dirty pages another variant left behind would
    # otherwise be written back during this one's measurement.
    os.sync()
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=ENV, **kwargs)
    return time.perf_counter() - start


def _make_set(base: Path) -> Path:
    """A 2 GiB set of one encrypted dump file (random plaintext, encrypted with age)."""
    from piak.engines import backupset, encryption

    work = backupset.start_set(base, "bench_20261124T2300")
    chunk = os.urandom(16 * 1024 * 1024)
    plain = base / "plain.dmp"
    with plain.open("wb") as handle:
        for _ in range(SET_BYTES // len(chunk)):
            handle.write(chunk)
    _, public = encryption.generate()
    sealed = encryption.encrypt_file(
        plain, work / "siak_01.dmp.age", [encryption.recipient(public)]
    )
    plain.unlink()
    manifest = backupset.Manifest(
        set_name="bench_20261124T2300",
        database="bench",
        engine="bench",
        tool="bench",
        started_at="",
        finished_at="",
        files=[
            backupset.FileEntry(
                "siak_01.dmp.age",
                sealed.size,
                sealed.sha256,
                sealed.plain_size,
                sealed.plain_sha256,
            )
        ],
        extra={"encryption": {"scheme": encryption.SCHEME, "recipients": [public]}},
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
        data = source / "siak_01.dmp.age"
        ours, cp, rclone = [], [], []
        for i in range(RUNS):
            dest = base / f"piak{i}"
            ours.append(_timed([*PIAK, "copy-backup", str(source), str(dest)]))
            dest_cp = base / f"cp{i}"
            dest_cp.mkdir()
            cp.append(
                _timed(f"cp {data} {dest_cp}/ && sha256sum {dest_cp}/{data.name}", shell=True)
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
        copy_peak = _peak_mb([*PIAK, "copy-backup", str(source), str(base / "peak")])
        shutil.rmtree(base / "peak")

        from piak.engines import demo_db

        database = base / "siak.db"
        demo_db.generate(database, residents=RESIDENTS)
        from piak.engines import encryption

        recipient = encryption.generate()[1]
        backup, sealed, reference = [], [], []
        plain_cmd = [*PIAK, "backup", "--sqlite", str(database), "--no-encrypt", "--dest"]
        sealed_cmd = [
            *PIAK,
            "backup",
            "--sqlite",
            str(database),
            "--recipient",
            recipient,
            "--dest",
        ]
        for i in range(RUNS):
            backup.append(_timed([*plain_cmd, str(base / f"b{i}")]))
            sealed.append(_timed([*sealed_cmd, str(base / f"e{i}")]))
            out = base / f"ref{i}.db"
            reference.append(
                _timed(f'sqlite3 {database} ".backup {out}" && sha256sum {out}', shell=True)
            )
            shutil.rmtree(base / f"b{i}")
            shutil.rmtree(base / f"e{i}")
            out.unlink()
        backup_vs_sqlite = statistics.median(backup) / statistics.median(reference)
        sealed_vs_sqlite = statistics.median(sealed) / statistics.median(reference)
        backup_peak = _peak_mb([*sealed_cmd, str(base / "peak")])
        db_mb = database.stat().st_size / 1e6

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    lines += [
        "## Backup speed",
        "",
        f"Copy + verify of a {SET_BYTES / 1024**3:.0f} GiB encrypted set to a folder, and the "
        f"backup of the {RESIDENTS:,}-resident demo database ({db_mb:.0f} MB); {RUNS} "
        "alternating runs each (seconds).",
        "",
        "| measure | median (s) | all runs (s) |",
        "|---|---|---|",
        _row("`piak copy-backup` (copy, hash, read back, verify)", ours),
        _row("`cp` + `sha256sum DST`", cp),
        _row("`rclone copy --checksum` + `rclone check`", rclone),
        _row("`piak backup --sqlite --no-encrypt` (online backup, row counts, manifest)", backup),
        _row("`piak backup --sqlite --recipient` (same, encrypted with age)", sealed),
        _row('`sqlite3 DB ".backup OUT"` + `sha256sum OUT`', reference),
        "",
        f"- copy vs cp+sha256sum: **{copy_vs_cp:.2f}x** (target at most 1.15x): "
        f"**{verdict(copy_vs_cp <= 1.15)}**",
        f"- copy vs rclone copy+check: **{copy_vs_rclone:.2f}x** (target at most 1.0x): "
        f"**{verdict(copy_vs_rclone <= 1.0)}**",
        f"- backup vs sqlite3 .backup+sha256sum: **{backup_vs_sqlite:.2f}x** (target at most "
        f"1.2x): **{verdict(backup_vs_sqlite <= 1.2)}**",
        f"- encrypted backup vs sqlite3 .backup+sha256sum: **{sealed_vs_sqlite:.2f}x** (target "
        f"at most 1.3x): **{verdict(sealed_vs_sqlite <= 1.3)}**",
        f"- peak memory: copy of the {SET_BYTES / 1024**3:.0f} GiB set {copy_peak:.0f} MB, "
        f"encrypted backup of the {db_mb:.0f} MB database {backup_peak:.0f} MB (streamed: flat "
        f"in the set's size; target: under a tenth of it): "
        f"**{verdict(copy_peak < SET_BYTES / 1e6 / 10 and backup_peak < 200)}**",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
