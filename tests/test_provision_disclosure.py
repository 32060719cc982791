"""Issue 12, item 2, attacked on our own output: can a suppressed cell of an aggregate release be
worked back from what the release publishes?

The attacker here is written from the published workbook alone, independently of
``piak.engines.provision.suppress``: every ``*`` of every sheet is an unknown, and everything an
outsider knows about the tables is a constraint - each row adds up to its Jumlah, each JUMLAH row
to its column, each kecamatan row (partial ones too) to its kelurahan/desa rows, the kecamatan and
kelurahan sheets share the kabupaten totals, every population table has the same total per
region, the sex columns equal the age-by-sex sums, heads of family and wajib KTP are at most the
residents of their sex, wajib KTP at least those aged 20 and over and at least the ever-married,
and no count is negative. Then (1) linear algebra: a cell the equalities pin down has a zero
column in the null space of the system; (2) intervals: the lowest and highest value of every
unknown, by linear programs (HiGHS). A suppressed cell must not be determined, and a small one
(1..threshold-1) must be able to reach the threshold and to be lower than it is - the attacker
can neither compute it nor prove that it is small.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from piak.engines import demo_db, provision, siak_db
from piak.engines.provision import aggregate
from piak.engines.provision.catalog import load

TODAY = date(2026, 11, 25)
THRESHOLD = 5
BASE = {
    "nama_pemohon": "Budi Santoso", "instansi": "Badan Pusat Statistik Kabupaten Contoh",
    "nomor_surat": "005/BPS/XI/2026", "tanggal_surat": "2026-11-20",
    "keperluan": "penyusunan publikasi Kabupaten Contoh Dalam Angka", "kontak": "0812-3456-7890",
    "jenis_data": "agregat", "tanggal_data": "2026-06-30", "format": "xlsx",
}  # fmt: skip
SCOPES = {
    "one kelurahan": {"kelurahan": ["99.01.03.2001"]},
    "kecamatan and a partial one, women 15-64": {
        "kecamatan": ["99.01.02"], "kelurahan": ["99.01.07.2003"], "jenis_kelamin": "perempuan",
        "umur_min": 15, "umur_max": 64,
    },
    "whole kabupaten": {},
}  # fmt: skip
LABELS = ("Kode", "Kecamatan", "Kelurahan/Desa", "Kelompok Umur")
POPULATION = ("Agama", "Pendidikan", "Pekerjaan", "Status Kawin", "Golongan Darah")
SEXES = ("Laki-laki", "Perempuan")
MARRIED = ("Kawin", "Cerai Hidup", "Cerai Mati")


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("siak") / "siak.db"
    demo_db.generate(path, residents=15_000, seed=7)
    return path


# --- the attacker: everything from the workbook ---------------------------------------------


class Release:
    """The published cells of a workbook: value (int) or unknown (``*``), keyed
    (table, level, region code, age group, column); the kabupaten totals (JUMLAH rows) are
    (table, "kab", "", None, column) in both sheets of a table."""

    def __init__(self, path: Path) -> None:
        from openpyxl import load_workbook

        self.cells: dict[tuple, int | None] = {}
        self.rows: dict[tuple, list[tuple]] = defaultdict(list)  # (table, level) -> row keys
        self.columns: dict[str, list[str]] = {}
        book = load_workbook(path, read_only=True)
        for name in book.sheetnames[1:]:
            level, table = ("kec", name[4:]) if name.startswith("Kec ") else ("kel", name[4:])
            sheet = list(book[name].iter_rows(values_only=True))
            header = list(sheet[3])
            first = max(i for i, h in enumerate(header) if h in LABELS) + 1
            self.columns[table] = header[first:]
            for row in sheet[4:]:
                if not row or row[0] is None:
                    break
                if row[0] == "JUMLAH":
                    key = (table, "kab", "", None)
                else:
                    group = (
                        row[header.index("Kelompok Umur")] if "Kelompok Umur" in header else None
                    )
                    key = (table, level, row[0], group)
                    self.rows[table, level].append(key)
                for column, value in zip(header[first:], row[first:], strict=True):
                    cell = (*key, column)
                    self.cells[cell] = None if value == "*" else int(value)
        book.close()

    def cell(self, table: str, level: str, code: str, group, column: str) -> tuple:
        return (table, level, code, group, column)

    def equalities(self) -> list[dict[tuple, float]]:
        """Every relation sum(coefficient * cell) = 0 an outsider knows."""
        out: list[dict[tuple, float]] = []

        def equal(left: list[tuple], right: list[tuple]) -> None:
            terms: dict[tuple, float] = defaultdict(float)
            for c in left:
                terms[c] += 1
            for c in right:
                terms[c] -= 1
            out.append(dict(terms))

        for table, columns in self.columns.items():
            cats = [c for c in columns if c != "Jumlah"]
            keys = {k for level in ("kec", "kel") for k in self.rows[table, level]}
            for key in [*keys, (table, "kab", "", None)]:
                equal([(*key, "Jumlah")], [(*key, c) for c in cats])
            for level in ("kec", "kel"):
                for column in columns:
                    equal(
                        [(table, "kab", "", None, column)],
                        [(*k, column) for k in self.rows[table, level]],
                    )
            for kec in self.rows[table, "kec"]:
                members = [k for k in self.rows[table, "kel"]
                           if k[2].startswith(kec[2] + ".") and k[3] == kec[3]]  # fmt: skip
                for column in columns:
                    equal([(*kec, column)], [(*k, column) for k in members])
        by_sex = "Jenis Kelamin"
        for level in ("kec", "kel"):
            for _, _, code, _ in self.rows[by_sex, level]:
                total = [(by_sex, level, code, None, "Jumlah")]
                for table in POPULATION:
                    equal(total, [(table, level, code, None, "Jumlah")])
                ages = [k for k in self.rows["Umur dan JK", level] if k[2] == code]
                equal(total, [(*k, "Jumlah") for k in ages])
                for sex in SEXES:
                    equal([(by_sex, level, code, None, sex)], [(*k, sex) for k in ages])
        kab = ("", None)
        for table in POPULATION:
            equal([(by_sex, "kab", *kab, "Jumlah")], [(table, "kab", *kab, "Jumlah")])
        for column in (*SEXES, "Jumlah"):
            equal([(by_sex, "kab", *kab, column)], [("Umur dan JK", "kab", *kab, column)])
        return out

    def inequalities(self) -> list[dict[tuple, float]]:
        """Relations sum(coefficient * cell) <= 0: subsets of a whole."""
        out = []
        adults = [g for _, _, g in load().age_groups() if int(g.rstrip("+").split("-")[0]) >= 20]
        for level in ("kec", "kel", "kab"):
            codes = (
                [("", None)]
                if level == "kab"
                else [(k[2], None) for k in self.rows["Jenis Kelamin", level]]
            )
            for code, _ in codes:
                for sex in SEXES:
                    whole = ("Jenis Kelamin", level, code, None, sex)
                    for table in ("Jumlah KK", "Wajib KTP"):
                        out.append({(table, level, code, None, sex): 1.0, whole: -1.0})
                    if level != "kab":
                        grown = {("Umur dan JK", level, code, g, sex): 1.0 for g in adults}
                        out.append({**grown, ("Wajib KTP", level, code, None, sex): -1.0})
                married = {("Status Kawin", level, code, None, c): 1.0 for c in MARRIED}
                out.append({**married, ("Wajib KTP", level, code, None, "Jumlah"): -1.0})
        return out


def system(release: Release) -> tuple[list[tuple], np.ndarray, np.ndarray, list, list]:
    """Unknowns; equalities A x = b; inequalities as (terms over unknowns, bound)."""
    unknowns = sorted((c for c, v in release.cells.items() if v is None), key=str)
    index = {c: i for i, c in enumerate(unknowns)}

    def reduce(terms: dict[tuple, float]) -> tuple[dict[int, float], float]:
        known, row = 0.0, {}
        for cell, coefficient in terms.items():
            value = release.cells[cell]  # KeyError: the attacker expected a cell that is missing
            if value is None:
                row[index[cell]] = row.get(index[cell], 0.0) + coefficient
            else:
                known += coefficient * value
        return row, -known

    rows, rhs = [], []
    for terms in release.equalities():
        row, bound = reduce(terms)
        if row:
            rows.append(row)
            rhs.append(bound)
        else:
            assert abs(bound) < 1e-9, "the published cells contradict each other"
    a = np.zeros((len(rows), len(unknowns)))
    for i, row in enumerate(rows):
        for j, coefficient in row.items():
            a[i, j] = coefficient
    inequalities = [reduce(t) for t in release.inequalities()]
    return unknowns, a, np.array(rhs), [r for r, _ in inequalities], [b for _, b in inequalities]


def determined_by_equalities(a: np.ndarray) -> np.ndarray:
    """Unknowns fixed by the equalities alone (zero column in the null space)."""
    if not a.size:
        return np.zeros(a.shape[1], dtype=bool)
    _, singular, vt = np.linalg.svd(a)
    rank = int((singular > 1e-9 * max(singular[0], 1)).sum())
    null = vt[rank:]
    return np.linalg.norm(null, axis=0) < 1e-9 if len(null) else np.ones(a.shape[1], dtype=bool)


def intervals(unknowns, a, b, ineq_rows, ineq_bounds, wanted) -> dict[int, tuple[float, float]]:
    """Lowest and highest value of each wanted unknown (HiGHS); an optimum found for one cell is
    a feasible point for all, so a bound already shown is not solved again."""
    import highspy

    n = len(unknowns)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("presolve", "off")
    h.setOptionValue("simplex_strategy", 4)
    inf = highspy.kHighsInf
    h.addVars(n, np.zeros(n), np.full(n, inf))
    for row, bound in zip(a, b, strict=True):
        nz = np.flatnonzero(row)
        h.addRow(bound, bound, len(nz), nz.astype(np.int32), row[nz])
    for row, bound in zip(ineq_rows, ineq_bounds, strict=True):
        if row:
            idx = np.array(list(row), dtype=np.int32)
            h.addRow(-inf, bound, len(idx), idx, np.array([row[i] for i in idx]))
    low = np.full(n, np.inf)
    high = np.full(n, -np.inf)
    out = {}
    for j, (need_low, need_high) in wanted.items():
        for sense, needed in ((highspy.ObjSense.kMinimize, need_low),
                              (highspy.ObjSense.kMaximize, need_high)):  # fmt: skip
            minimise = sense == highspy.ObjSense.kMinimize
            if needed is not None and (low[j] <= needed if minimise else high[j] >= needed):
                continue
            h.changeColCost(j, 1.0)
            h.changeObjectiveSense(sense)
            h.run()
            status = h.getModelStatus()
            x = np.array(h.getSolution().col_value)
            h.changeColCost(j, 0.0)
            if status == highspy.HighsModelStatus.kUnbounded:
                high[j] = np.inf
                continue
            assert status == highspy.HighsModelStatus.kOptimal, h.modelStatusToString(status)
            np.minimum(low, x, out=low)
            np.maximum(high, x, out=high)
        out[j] = (low[j], high[j])
    return out


# --- the release and the truth ----------------------------------------------------------------


def make_release(database: Path, folder: Path, scope: dict) -> tuple[Release, dict[tuple, int]]:
    with siak_db.connect_sqlite(database) as conn:
        request = provision.validate_request(
            {**BASE, **scope}, region_lookup=lambda: provision.load_regions(conn), today=TODAY,
            floor=THRESHOLD,
        )  # fmt: skip
        provision.prepare_data(request, conn, folder)
        regions = provision.load_regions(conn)
        tables, _ = aggregate.build_pack(conn, "sqlite", request, regions)
    truth = {}
    for table in tables:
        level, name = (
            ("kec", table.sheet[4:]) if table.level == "kecamatan" else ("kel", table.sheet[4:])
        )
        group_at = table.labels.index("Kelompok Umur") if "Kelompok Umur" in table.labels else None
        columns = [*table.categories, "Jumlah"]
        for names, counts in table.rows:
            group = names[group_at] if group_at is not None else None
            for column, value in zip(columns, [*counts, sum(counts)], strict=True):
                truth[name, level, names[0], group, column] = value
        for column, value in zip(columns, table.totals(), strict=True):
            truth[name, "kab", "", None, column] = value
    return Release(folder / "agregat.xlsx"), truth


@pytest.mark.parametrize("scope", list(SCOPES))
def test_no_suppressed_cell_can_be_worked_back_from_the_release(database, tmp_path, scope):
    release, truth = make_release(database, tmp_path / "data", SCOPES[scope])
    published = {c: v for c, v in release.cells.items() if v is not None}
    # the workbook shows the truth wherever it shows a number, and no small number anywhere
    assert all(truth[c] == v for c, v in published.items())
    small = [c for c, v in published.items() if 0 < v < THRESHOLD]
    assert not small, f"{len(small)} small counts published, e.g. {small[:3]}"
    unknowns, a, b, ineq_rows, ineq_bounds = system(release)
    assert unknowns, "a release of this scope has small cells to protect"
    if len(unknowns) <= 1500:
        fixed = [unknowns[j] for j in np.flatnonzero(determined_by_equalities(a))]
        assert not fixed, f"{len(fixed)} suppressed cells solved exactly, e.g. {fixed[:3]}"
    wanted = {}
    for j, cell in enumerate(unknowns):
        value = truth[cell]
        sensitive = 0 < value < THRESHOLD
        wanted[j] = (value - 1, THRESHOLD) if sensitive else (value - 0.5, value + 0.5)
    bounds = intervals(unknowns, a, b, ineq_rows, ineq_bounds, wanted)
    exact, weak = [], []
    for j, cell in enumerate(unknowns):
        low, high = bounds[j]
        value = truth[cell]
        if high - low < 0.5:
            exact.append(cell)
        elif 0 < value < THRESHOLD and (low > value - 1 + 1e-6 or high < THRESHOLD - 1e-6):
            weak.append((cell, value, low, high))
    assert not exact, f"{len(exact)} suppressed cells determined exactly, e.g. {exact[:3]}"
    assert not weak, f"{len(weak)} small cells bounded too tightly, e.g. {weak[:3]}"


def test_a_one_kelurahan_request_hides_its_small_counts_at_kecamatan_level_too(database, tmp_path):
    """Item 2 as found: the partial kecamatan row of a one-kelurahan request equals it."""
    release, truth = make_release(database, tmp_path / "data", SCOPES["one kelurahan"])
    kec = {c: v for c, v in release.cells.items() if c[1] == "kec"}
    kel = {c: v for c, v in release.cells.items() if c[1] == "kel"}
    assert kec and kel
    for (table, _, code, group, column), value in kel.items():
        assert kec[table, "kec", code[:8], group, column] == value  # the same cell, same status
    assert any(0 < truth[c] < THRESHOLD for c in kec)  # there were small ones to hide


def test_the_attacker_breaks_a_release_with_primary_suppression_only(
    database, tmp_path, monkeypatch
):
    """The attack is real: without complementary cells it recovers small counts."""
    from piak.engines.provision.suppress import Suppression

    def primary_only(values, relations, threshold):
        small = frozenset(i for i, v in enumerate(values) if 0 < v < threshold)
        return Suppression(small, small)

    monkeypatch.setattr(aggregate, "protect", primary_only)
    release, truth = make_release(database, tmp_path / "data", SCOPES["one kelurahan"])
    unknowns, a, b, ineq_rows, ineq_bounds = system(release)
    fixed = determined_by_equalities(a)
    assert fixed.any(), "subtraction gives small cells back"
    wanted = {j: (truth[c] - 0.5, truth[c] + 0.5) for j, c in enumerate(unknowns)}
    bounds = intervals(unknowns, a, b, ineq_rows, ineq_bounds, wanted)
    recovered = [c for j, c in enumerate(unknowns) if bounds[j][1] - bounds[j][0] < 0.5]
    assert len(recovered) >= fixed.sum()
