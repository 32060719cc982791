"""Data Pump logs as real Oracle releases write them (10g to 23ai), read by piak.engines.datapump.

The corpus in tests/data/datapump_logs/ holds logs copied verbatim from public material (Oracle
documentation, LiveLabs, public repositories); INDEX.yaml records each log's source and what a
careful reader finds in it (verdict, Oracle's error count, dump file set, rows per table), and
WARNINGS.md the documented exit codes and warnings. Nothing here is a log we wrote ourselves."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from piak.engines import datapump

CORPUS = Path(__file__).resolve().parent / "data" / "datapump_logs"
INDEX = yaml.safe_load((CORPUS / "INDEX.yaml").read_text(encoding="utf-8"))
VERDICTS = {
    "success": datapump.SUCCESS,
    "completed_with_errors": datapump.WITH_ERRORS,
    "fatal": datapump.FATAL,
    "not_started": datapump.NOT_STARTED,
}
EXIT_CODES = {"success": 0, "completed_with_errors": 5, "fatal": 1, "not_started": 1}


def read(entry: dict) -> str:
    return (CORPUS / entry["file"]).read_bytes().decode("utf-8")


def test_the_corpus_is_broad_enough():
    assert len(INDEX) >= 20
    releases = {str(e["release"]).split()[0] for e in INDEX}
    assert {"10g", "11g", "12c", "18c", "19c", "21c", "23ai"} <= releases
    assert {e["tool"] for e in INDEX} == {"expdp", "impdp"}
    assert set(VERDICTS) <= {e["outcome"] for e in INDEX}
    options = " ".join(str(o) for e in INDEX for o in e["options"]).upper()
    assert "LOGTIME" in options and "METRICS" in options and "PARALLEL" in options
    assert any(e["line_endings"] == "CRLF" for e in INDEX)
    for entry in INDEX:
        assert entry["source"] and (CORPUS / entry["file"]).is_file(), entry["file"]


@pytest.mark.parametrize("entry", [e for e in INDEX if e["outcome"]], ids=lambda e: e["file"])
def test_verdict_and_error_count_as_oracle_states_them(entry):
    result = datapump.parse_log(read(entry), EXIT_CODES[entry["outcome"]])
    assert result.verdict == VERDICTS[entry["outcome"]]
    assert result.error_count == (entry["error_count"] or 0)
    assert result.ok == (entry["outcome"] == "success" and not _undocumented_ora(entry))
    if not result.ok:
        assert result.failure_message()


def _undocumented_ora(entry: dict) -> list[str]:
    return [c for c in entry.get("ora_codes_all") or [] if c not in datapump.WARNINGS]


@pytest.mark.parametrize(
    "entry", [e for e in INDEX if e["informational_ora"]], ids=lambda e: e["file"]
)
def test_documented_warnings_are_reported_not_fatal(entry):
    """Warnings Oracle documents are reported; anything else in a successful job (a login retry,
    say) is not waved through."""
    result = datapump.parse_log(read(entry), EXIT_CODES.get(entry["outcome"], 0))
    documented = set(entry["informational_ora"]) & set(datapump.WARNINGS)
    assert documented <= {w.split(":")[0] for w in result.warnings}
    assert not {e.split(":")[0] for e in result.errors} & set(datapump.WARNINGS)
    others = set(entry["informational_ora"]) - documented
    assert others <= {e.split(":")[0] for e in result.errors}
    assert result.ok == (entry["outcome"] == "success" and not others)


@pytest.mark.parametrize(
    "entry", [e for e in INDEX if e["dump_files"] is not None], ids=lambda e: e["file"]
)
def test_the_dump_file_set_is_found(entry):
    assert datapump.parse_log(read(entry), 0).dump_files == entry["dump_files"]


@pytest.mark.parametrize(
    "entry", [e for e in INDEX if e["rows_total"] is not None], ids=lambda e: e["file"]
)
def test_rows_per_table_with_partitions_summed(entry):
    verb = "exported" if entry["tool"] == "expdp" else "imported"
    rows = datapump.table_rows(read(entry), verb)
    assert sum(rows.values()) == entry["rows_total"]
    for table, count in (entry["sample_rows"] or {}).items():
        assert rows[table] == count, table


def test_a_fatal_error_never_reads_as_success_whatever_the_exit_code():
    fatal = next(e for e in INDEX if e["outcome"] == "fatal")
    assert not datapump.parse_log(read(fatal), 0).ok


def test_a_missing_log_reads_the_tools_own_output():
    not_started = next(e for e in INDEX if e["outcome"] == "not_started")
    result = datapump.parse_log(None, 1, read(not_started))
    assert result.verdict == datapump.NOT_STARTED and not result.ok
    assert "log Data Pump tidak ditemukan" in result.failure_message()
    assert any(line.startswith("ORA-") for line in result.errors)
