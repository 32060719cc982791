"""Population data extraction against the sqlite3 command line, measured side by side.

1. Individual extract of the 1,000,000-resident demo database, 12 columns (NIK and NO_KK
   replaced by per-release pseudonyms, the birth date by its year, the k-anonymity of the
   quasi-identifiers counted), to CSV with ``python -m piak extract`` against ``sqlite3 -csv DB``
   running the same SELECT with the same bound values (target: at most 1.5x), with the extract's
   peak memory (target: at most 400 MB) and the 4,000,000-resident extract's peak memory (target:
   at most 1.15x the 1,000,000 one: memory does not grow with the rows).
2. The whole aggregate pack over 1,000,000 residents (small-count protection of the whole
   release with its LP audit included) against the same GROUP BY statements run by the sqlite3
   command line (target: at most 2x).
3. XLSX of the 1,000,000-row extract: rows per second and peak memory (bounded as above).

Each run is a fresh process; the variants alternate so that the page cache favours none. Peak
memory is the child's peak RSS (getrusage) measured by a wrapper process.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))
RUNS = 3
CSV_RUNS = 5  # short runs: more of them, the median resists a busy neighbour
RESIDENTS = 1_000_000
BIG = int(os.environ.get("PIAK_BENCH_BIG_RESIDENTS", "4000000"))
AS_OF = "2026-06-30"
COLUMNS = ["NIK", "NO_KK", "NAMA_LGKP", "JENIS_KLMIN", "TMPT_LHR", "TGL_LHR", "AGAMA",
           "STAT_KWN", "PDDK_AKH", "JENIS_PKRJN", "NO_KEC", "NO_KEL"]  # fmt: skip
BENCH_DIR = ROOT / "bench" / "out"
PKS_FILE = BENCH_DIR / "pks-bench.yaml"
#: The bench's own PKS registry and pseudonym secret (an individual extract needs both).
ENV = dict(
    os.environ,
    PYTHONPATH=str(ROOT / "include"),
    PIAK_PKS_FILE=str(PKS_FILE),
    AIRFLOW_CONN_PIAK_PSEUDONYM=json.dumps(
        {"conn_type": "generic", "password": "bench-pseudonym-secret-0123456789"}
    ),
)
MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
with open(sys.argv[1], "wb") as out:
    subprocess.run(sys.argv[2:], check=True, stdout=out)
wall = time.perf_counter() - start
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": wall, "peak_mb": peak_kb / 1024}))
"""
TARGET_CSV, TARGET_MB, TARGET_GROWTH, TARGET_PACK = 1.5, 400, 1.15, 2.0


def _measure(
    command: list[str], stdout: Path | str = os.devnull, stdin: Path | None = None
) -> dict:
    """Wall time and peak RSS of ``command`` in a fresh process (stdout to a file)."""
    if stdin is not None:
        command = ["sh", "-c", f'exec "$0" "$@" < {stdin}', *command]
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(stdout), *command],
        check=True, capture_output=True, text=True, env=ENV,
    )  # fmt: skip
    return json.loads(result.stdout)


def _params(kind: str) -> dict:
    params = {
        "nama_pemohon": "Bench", "instansi": "Bidang PIAK", "nomor_surat": "BENCH-1",
        "tanggal_surat": AS_OF, "keperluan": "Pengukuran kinerja ekstraksi", "kontak": "b@piak.id",
        "jenis_data": kind, "tanggal_data": AS_OF, "format": "csv",
    }  # fmt: skip
    if kind == "perseorangan":
        params |= {"nomor_pks": "PKS-BENCH", "tanggal_pks": AS_OF, "kolom": COLUMNS}
    return params


def _piak(database: Path, kind: str, fmt: str, out: Path) -> list[str]:
    command = [sys.executable, "-m", "piak", "extract", "--sqlite", str(database), "--kind", kind]
    command += ["--format", fmt, "--out", str(out), "--as-of", AS_OF]
    if kind == "perseorangan":
        command += ["--pks-number", "PKS-BENCH", "--pks-date", AS_OF, "--columns", *COLUMNS]
    return command


def _literal(value: object) -> str:
    """A ``.param set`` value: numbers bare, text as a double-quoted SQL string literal (the
    dot-command strips one level of quotes and evaluates the rest as SQL)."""
    if isinstance(value, int):
        return str(value)
    text = str(value).replace("'", "''")
    if '"' in text or "\\" in text:
        raise ValueError(f"cannot pass {value!r} to .param set")
    return f"\"'{text}'\""


def _cli_script(queries: list, path: Path) -> Path:
    """A sqlite3 script binding the same values (``.param set``) and running the statements."""
    lines = [".param init"]
    for query in queries:
        lines += [f".param set :{k} {_literal(v)}" for k, v in query.params.items()]
        lines.append(query.sql + ";")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _registry() -> None:
    """The bench's PKS: the bench institution, every column, valid from the as-of date."""
    from piak.engines.provision.catalog import load

    PKS_FILE.parent.mkdir(parents=True, exist_ok=True)
    PKS_FILE.write_text(
        json.dumps(
            {
                "agreements": [
                    {
                        "number": "PKS-BENCH", "institution": "Bidang PIAK", "signed": AS_OF,
                        "valid_from": AS_OF, "valid_to": "2099-12-31",
                        "columns": list(load().columns),
                    }
                ]
            }
        )
    )  # fmt: skip
    os.environ["PIAK_PKS_FILE"] = str(PKS_FILE)


def _queries(database: Path, kind: str) -> list:
    from piak.engines import provision, siak_db
    from piak.engines.provision.catalog import load
    from piak.engines.provision.sql import aggregate_query, individual_query

    with siak_db.connect_sqlite(database) as conn:
        request = provision.validate_request(
            _params(kind), region_lookup=lambda: provision.load_regions(conn)
        )
    if kind == "perseorangan":
        return [individual_query(request, "sqlite")]
    return [aggregate_query(spec, request, "sqlite") for spec in load().aggregates]


def _median(runs: list[dict], key: str = "seconds") -> float:
    return statistics.median(r[key] for r in runs)


def _csv_runs(database: Path, base: Path) -> tuple[list[dict], list[dict], int, int]:
    script = _cli_script(_queries(database, "perseorangan"), base / "select.sql")
    ours, cli = [], []
    for i in range(CSV_RUNS):
        out = base / f"csv{i}"
        ours.append(_measure(_piak(database, "perseorangan", "csv", out)))
        reference = base / f"cli{i}.csv"
        cli.append(_measure(["sqlite3", "-csv", str(database)], reference, script))
        rows_ours = json.loads((out / "manifest.json").read_text())["files"][0]["rows"]
        rows_cli = sum(1 for _ in reference.open("rb"))
        shutil.rmtree(out)
        reference.unlink()
    return ours, cli, rows_ours, rows_cli


def _pack_runs(database: Path, base: Path) -> tuple[list[dict], list[dict]]:
    script = _cli_script(_queries(database, "agregat"), base / "pack.sql")
    ours, cli = [], []
    for i in range(RUNS):
        out = base / f"pack{i}"
        ours.append(_measure(_piak(database, "agregat", "csv", out)))
        cli.append(_measure(["sqlite3", str(database)], os.devnull, script))
        shutil.rmtree(out)
    return ours, cli


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _row(name: str, runs: list[dict], key: str = "seconds", fmt: str = ".2f") -> str:
    values = ", ".join(format(r[key], fmt) for r in runs)
    return f"| {name} | {format(_median(runs, key), fmt)} | {values} |"


def run() -> str:
    from piak.engines import demo_db

    if not shutil.which("sqlite3"):
        subprocess.run([str(ROOT / "scripts/ensure-debian-packages.sh"), "sqlite3"], check=True)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    _registry()
    with tempfile.TemporaryDirectory(dir=BENCH_DIR) as tmp:
        base = Path(tmp)
        database = base / "siak_1m.db"
        demo_db.generate(database, residents=RESIDENTS)
        ours, cli, rows_ours, rows_cli = _csv_runs(database, base)
        pack, pack_cli = _pack_runs(database, base)
        xlsx = _measure(_piak(database, "perseorangan", "xlsx", base / "xlsx"))
        shutil.rmtree(base / "xlsx")
        database.unlink()
        big = None
        if BIG:
            big_db = base / "siak_big.db"
            demo_db.generate(big_db, residents=BIG)
            big = _measure(_piak(big_db, "perseorangan", "csv", base / "big"))
            shutil.rmtree(base / "big")
    return _report(ours, cli, rows_ours, rows_cli, pack, pack_cli, xlsx, big)


def _report(ours, cli, rows_ours, rows_cli, pack, pack_cli, xlsx, big) -> str:
    csv_ratio = _median(ours) / _median(cli)
    peak = _median(ours, "peak_mb")
    pack_ratio = _median(pack) / _median(pack_cli)
    lines = [
        "## Population data extraction",
        "",
        f"Demo database of {RESIDENTS:,} residents; {rows_ours:,} in scope (active, as of "
        f"{AS_OF}); {CSV_RUNS} (CSV) or {RUNS} (pack) alternating runs each, fresh processes. "
        f"The sqlite3 CSV has {rows_cli:,} lines (header included in ours, not in its).",
        "",
        "| measure | median | all runs |",
        "|---|---|---|",
        _row("`piak extract` individual, 12 columns, CSV (s)", ours),
        _row("`sqlite3 -csv DB` same SELECT and values (s)", cli),
        _row("`piak extract` individual CSV peak memory (MB)", ours, "peak_mb", ".0f"),
        _row("`piak extract` aggregate pack, CSV (s)", pack),
        _row("`sqlite3 DB` same GROUP BY statements (s)", pack_cli),
        "",
        f"- individual CSV vs sqlite3 -csv: **{csv_ratio:.2f}x** (target at most {TARGET_CSV}x): "
        f"**{_verdict(csv_ratio <= TARGET_CSV)}**",
        f"- individual CSV peak memory: **{peak:.0f} MB** (target at most {TARGET_MB} MB): "
        f"**{_verdict(peak <= TARGET_MB)}**",
        f"- aggregate pack vs sqlite3: **{pack_ratio:.2f}x** (target at most {TARGET_PACK}x): "
        f"**{_verdict(pack_ratio <= TARGET_PACK)}**",
        f"- XLSX of the same {rows_ours:,} rows: {xlsx['seconds']:.1f} s, "
        f"**{rows_ours / xlsx['seconds']:,.0f} rows/s**, peak memory {xlsx['peak_mb']:.0f} MB "
        f"(bound {TARGET_MB} MB): **{_verdict(xlsx['peak_mb'] <= TARGET_MB)}**",
    ]
    if big:
        growth = big["peak_mb"] / peak
        lines.append(
            f"- {BIG:,}-resident individual CSV: {big['seconds']:.1f} s, peak memory "
            f"{big['peak_mb']:.0f} MB = **{growth:.2f}x** the {RESIDENTS:,} one (target at most "
            f"{TARGET_GROWTH}x): **{_verdict(growth <= TARGET_GROWTH)}**"
        )
    return "\n".join([*lines, ""])


if __name__ == "__main__":
    print(run())
