"""Small-count protection of a whole release: every table, every level, every total.

The release is one system of published cells (kelurahan, kecamatan and kabupaten cells and their
totals, of every table) bound by the relations an outsider knows: each total is the sum of its
parts, a kecamatan the sum of its kelurahan/desa in the release (partial kecamatan included), the
kabupaten the sum of its kecamatan, every population table has the same total per region, the
sex columns equal the sums of the age-by-sex table, and subsets are at most their whole (heads
of family and wajib KTP by sex at most the residents of that sex; wajib KTP at least the
residents of 20 and over, and at least the ever-married).

- Primary suppression: every cell with 1 <= count < threshold.
- Secondary suppression, until the audit passes: a relation with exactly one hidden cell would
  give it back by subtraction, so another cell of it is hidden (the smallest non-zero, preferring
  one large enough to hide that the cell is small); then each hidden small cell is audited the way
  an attacker would: the lowest and highest value it can take given every published cell, every
  relation and non-negativity, two linear programs solved with HiGHS (``highspy``) per cell, on
  the connected part of the system it lives in. A small cell is protected when its interval
  reaches below its value and up to the threshold - an attacker can neither compute it nor prove
  that it is small. An unprotected cell gets another complementary cell and the audit repeats.
- Finally any complementary cell whose value the published cells determine anyway is shown:
  hiding it protects nothing.

This is the audit-and-fix scheme of sdcTable's heuristics and tau-ARGUS's audit ("intervals"),
applied across linked and hierarchical tables at once; the LP audit is exactly what the attacker
test of the release runs (``tests/test_provision_disclosure.py``).
"""

from __future__ import annotations

import contextlib
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: An attacker's interval narrower than this counts as exact (floating-point LP).
TOLERANCE = 1e-6
MAX_ROUNDS = 200
#: Per cell: the interval a solver must at least reach, (None, None) for "any but its own".
Wanted = dict[int, tuple[float | None, float | None]]
#: Per cell: the lowest and highest value it can take given everything published.
Intervals = dict[int, tuple[float, float]]


@dataclass(frozen=True)
class Equality:
    """``total = sum(parts)`` between published cells (indices)."""

    total: int
    parts: tuple[int, ...]

    @property
    def cells(self) -> tuple[int, ...]:
        return (self.total, *self.parts)


@dataclass(frozen=True)
class AtMost:
    """``sum(small) <= sum(big)`` between published cells (a subset and its whole)."""

    small: tuple[int, ...]
    big: tuple[int, ...]

    @property
    def cells(self) -> tuple[int, ...]:
        return (*self.small, *self.big)


@dataclass
class Suppression:
    """Which cells are hidden, and why; the audit of every small cell."""

    cells: frozenset[int]
    primary: frozenset[int]
    intervals: Intervals = field(default_factory=dict)
    rounds: int = 0
    linear_programs: int = 0

    @property
    def secondary(self) -> frozenset[int]:
        return self.cells - self.primary

    def report(self) -> dict[str, Any]:
        return {
            "primary": len(self.primary),
            "secondary": len(self.secondary),
            "audited": len(self.intervals),
            "rounds": self.rounds,
            "linear_programs": self.linear_programs,
        }


def protect(
    values: Sequence[int],
    relations: Iterable[Equality | AtMost],
    threshold: int,
) -> Suppression:
    """Hide the small cells of ``values`` and enough others that none can be worked out."""
    relations = list(relations)
    primary = frozenset(i for i, v in enumerate(values) if 0 < v < threshold)
    if not primary:
        return Suppression(frozenset(), frozenset())
    system = _System(values, relations, threshold)
    hidden = set(primary)
    rounds = 0
    failing: list[int] = sorted(primary)
    while True:
        rounds += 1
        system.close_singletons(hidden)
        failing = system.audit(hidden, failing)
        if not failing or rounds >= MAX_ROUNDS:
            break
        for cell in failing:
            system.widen(cell, hidden)
    shown = system.determined(hidden - primary, hidden)
    hidden -= shown
    intervals = system.intervals
    if failing:  # pragma: no cover - hide everything rather than publish a weak release
        hidden = {i for i, v in enumerate(values) if v > 0} | set(primary)
    return Suppression(
        frozenset(hidden),
        primary,
        {c: intervals[c] for c in primary if c in intervals},
        rounds,
        system.solves,
    )


class _System:
    def __init__(self, values: Sequence[int], relations: list[Equality | AtMost], t: int) -> None:
        self.values = list(values)
        self.threshold = t
        self.equalities = [r for r in relations if isinstance(r, Equality)]
        self.inequalities = [r for r in relations if isinstance(r, AtMost)]
        self.of_cell: dict[int, list[int]] = defaultdict(list)  # cell -> equality indices
        for index, relation in enumerate(self.equalities):
            for cell in set(relation.cells):
                self.of_cell[cell].append(index)
        self.ineq_of_cell: dict[int, list[int]] = defaultdict(list)
        for index, relation in enumerate(self.inequalities):
            for cell in set(relation.cells):
                self.ineq_of_cell[cell].append(index)
        self.intervals: Intervals = {}
        self.solves = 0
        self._solved: dict[tuple[frozenset[int], tuple[int, ...]], dict] = {}

    # -- choosing complementary cells ------------------------------------------------------

    def _partner(self, cells: Iterable[int], hidden: set[int], need: int, total: int) -> int | None:
        """The cell to hide with others: non-zero first, then one of at least ``need``, then
        the smallest; a part rather than the relation's total."""
        candidates = [c for c in set(cells) if c not in hidden]
        if not candidates:
            return None
        return min(
            candidates,
            key=lambda c: (
                self.values[c] == 0,
                self.values[c] < need,
                c == total,
                self.values[c],
                c,
            ),
        )

    def close_singletons(self, hidden: set[int]) -> None:
        """Until no equality has exactly one hidden cell (it would be a plain subtraction)."""
        queue = list(range(len(self.equalities)))
        while queue:
            index = queue.pop()
            relation = self.equalities[index]
            inside = [c for c in set(relation.cells) if c in hidden]
            if len(inside) != 1:
                continue
            need = self.threshold - self.values[inside[0]]
            partner = self._partner(relation.cells, hidden, need, relation.total)
            if partner is None:
                continue
            hidden.add(partner)
            queue.extend(self.of_cell[partner])

    def widen(self, cell: int, hidden: set[int]) -> None:
        """One more complementary cell for an unprotected ``cell``: in its relation with the
        fewest hidden cells that still has a visible one, else anywhere in its component."""
        need = self.threshold - self.values[cell]
        options = []
        for index in self.of_cell[cell]:
            relation = self.equalities[index]
            visible = [c for c in relation.cells if c not in hidden]
            if visible:
                options.append((len(relation.cells) - len(visible), index))
        for _, index in sorted(options):
            relation = self.equalities[index]
            partner = self._partner(relation.cells, hidden, need, relation.total)
            if partner is not None and self.values[partner] > 0:
                hidden.add(partner)
                return
        for member in sorted(self._component(cell, hidden)):
            for index in self.of_cell[member]:
                relation = self.equalities[index]
                partner = self._partner(relation.cells, hidden, need, relation.total)
                if partner is not None:
                    hidden.add(partner)
                    return

    # -- the attacker's audit --------------------------------------------------------------

    def _component(self, start: int, hidden: set[int]) -> set[int]:
        """Hidden cells linked to ``start`` through relations."""
        seen, stack = {start}, [start]
        while stack:
            cell = stack.pop()
            for index in self.of_cell[cell]:
                for other in self.equalities[index].cells:
                    if other in hidden and other not in seen:
                        seen.add(other)
                        stack.append(other)
            for index in self.ineq_of_cell[cell]:
                for other in self.inequalities[index].cells:
                    if other in hidden and other not in seen:
                        seen.add(other)
                        stack.append(other)
        return seen

    def _components(self, cells: Iterable[int], hidden: set[int]) -> list[set[int]]:
        done: set[int] = set()
        out = []
        for cell in sorted(cells):
            if cell in done:
                continue
            component = self._component(cell, hidden)
            done |= component
            out.append(component)
        return out

    def audit(self, hidden: set[int], targets: Iterable[int]) -> list[int]:
        """Those small ``targets`` an attacker could compute or prove small.

        Hiding more cells only widens what an attacker cannot know, so a cell once protected
        stays protected: after the first round only the failing cells are audited again."""
        failing = []
        targets = set(targets)
        for component in self._components(targets, hidden):
            wanted = {c: (self.values[c] - 1, self.threshold) for c in component if c in targets}
            bounds = self._bounds(component, hidden, wanted)
            for cell in sorted(wanted):
                low, high = bounds[cell]
                self.intervals[cell] = (low, high)
                if low > self.values[cell] - 1 + TOLERANCE or high < self.threshold - TOLERANCE:
                    failing.append(cell)
        return failing

    def determined(self, cells: set[int], hidden: set[int]) -> set[int]:
        """Those of ``cells`` whose value the published cells fix anyway."""
        fixed = set()
        for component in self._components(cells, hidden):
            # satisfied as soon as the cell is seen at any other value than its own
            wanted = {c: (None, None) for c in component if c in cells}
            for cell, (low, high) in self._bounds(component, hidden, wanted).items():
                if high - low < TOLERANCE:
                    fixed.add(cell)
        return fixed

    def _bounds(self, component: set[int], hidden: set[int], wanted: Wanted) -> Intervals:
        """For each wanted cell, an interval of values it can take given everything published,
        at least reaching (low, high) when it can; (None, None): any value but its own."""
        key = (frozenset(component), tuple(sorted(wanted.items(), key=lambda kv: kv[0])))
        if key not in self._solved:
            self._solved[key] = self._solve(component, hidden, wanted)
        return self._solved[key]

    def _solve(self, component: set[int], hidden: set[int], wanted: Wanted) -> Intervals:
        """Minimise and maximise each wanted cell - unless a solution found for another cell
        already shows the value it needs: the true values and every LP optimum are feasible
        points, so the lowest and highest value seen so far are proven reachable."""
        import highspy
        import numpy as np

        cells = sorted(component)
        column = {c: j for j, c in enumerate(cells)}
        truth = np.array([self.values[c] for c in cells], dtype=float)
        lowest, highest = truth.copy(), truth.copy()
        solver = self._model(cells, column, hidden)

        def run(j: int, sense: Any) -> None:
            solver.changeColCost(j, 1.0)
            value = self._optimum(solver, sense)
            seen = None if np.isinf(value) else solver.getSolution().col_value
            solver.changeColCost(j, 0.0)  # (clears the solution's status, not its values)
            if seen is None:
                if sense == highspy.ObjSense.kMaximize:
                    highest[j] = np.inf
                return
            seen = np.asarray(seen, dtype=float)
            np.minimum(lowest, seen, out=lowest)
            np.maximum(highest, seen, out=highest)
            if sense == highspy.ObjSense.kMinimize:
                lowest[j] = value
            else:
                highest[j] = value

        for cell, (low, high) in sorted(wanted.items()):
            j = column[cell]
            if low is None:  # moved at all?
                for sense in (highspy.ObjSense.kMaximize, highspy.ObjSense.kMinimize):
                    if highest[j] - lowest[j] < TOLERANCE:
                        run(j, sense)
                continue
            if lowest[j] > low + TOLERANCE:
                run(j, highspy.ObjSense.kMinimize)
            if highest[j] < high - TOLERANCE:
                run(j, highspy.ObjSense.kMaximize)
        return {c: (float(lowest[column[c]]), float(highest[column[c]])) for c in wanted}

    def _model(self, cells: list[int], column: dict[int, int], hidden: set[int]) -> Any:
        """A HiGHS instance holding the component's system (zero objective)."""
        import highspy
        import numpy as np

        starts, indices, coefficients, lower, upper = [0], [], [], [], []

        def add_row(terms: dict[int, float], low: float, high: float) -> None:
            for cell, coefficient in terms.items():
                if coefficient:
                    indices.append(column[cell])
                    coefficients.append(coefficient)
            starts.append(len(indices))
            lower.append(low)
            upper.append(high)

        inf = highspy.kHighsInf
        seen_eq: set[int] = set()
        seen_ineq: set[int] = set()
        for cell in cells:
            for index in self.of_cell[cell]:
                if index in seen_eq:
                    continue
                seen_eq.add(index)
                relation = self.equalities[index]
                terms, known = self._terms([(relation.total, 1.0)], relation.parts, -1.0, hidden)
                add_row(terms, -known, -known)
            for index in self.ineq_of_cell[cell]:
                if index in seen_ineq:
                    continue
                seen_ineq.add(index)
                relation = self.inequalities[index]
                terms, known = self._terms(
                    [(c, 1.0) for c in relation.small], relation.big, -1.0, hidden
                )
                add_row(terms, -inf, -known)
        lp = highspy.HighsLp()
        lp.num_col_ = len(cells)
        lp.num_row_ = len(lower)
        lp.col_cost_ = np.zeros(len(cells))
        lp.col_lower_ = np.zeros(len(cells))
        lp.col_upper_ = np.full(len(cells), inf)
        lp.row_lower_ = np.array(lower, dtype=float)
        lp.row_upper_ = np.array(upper, dtype=float)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.array(indices, dtype=np.int32)
        lp.a_matrix_.value_ = np.array(coefficients, dtype=float)
        solver = _solver()
        solver.passModel(lp)
        return solver

    def _terms(
        self,
        first: list[tuple[int, float]],
        rest: Sequence[int],
        sign: float,
        hidden: set[int],
    ) -> tuple[dict[int, float], float]:
        """A relation's hidden cells with their coefficients, and the sum of its known side."""
        terms: dict[int, float] = defaultdict(float)
        known = 0.0
        for cell, coefficient in [*first, *((c, sign) for c in rest)]:
            if cell in hidden:
                terms[cell] += coefficient
            else:
                known += coefficient * self.values[cell]
        return terms, known

    def _optimum(self, solver: Any, sense: Any) -> float:
        import highspy

        solver.changeObjectiveSense(sense)
        solver.run()
        self.solves += 1
        status = solver.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            return float(solver.getInfo().objective_function_value)
        if status in (
            highspy.HighsModelStatus.kUnbounded,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        ):
            return float("inf") if sense == highspy.ObjSense.kMaximize else float("-inf")
        raise RuntimeError(f"HiGHS: {solver.modelStatusToString(status)}")


def _solver() -> Any:
    """A quiet HiGHS instance (its banner would otherwise go to stdout, the task log)."""
    import highspy

    with _stdout_silenced():
        solver = highspy.Highs()
    solver.setOptionValue("output_flag", False)
    # Small LPs solved again and again with another objective: no presolve, warm-started simplex.
    solver.setOptionValue("presolve", "off")
    solver.setOptionValue("solver", "simplex")
    solver.setOptionValue("simplex_strategy", 4)
    return solver


@contextlib.contextmanager
def _stdout_silenced() -> Any:
    import sys

    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real stdout (some runners): nothing to silence
        yield
        return
    with open(os.devnull, "wb") as null:
        os.dup2(null.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)
