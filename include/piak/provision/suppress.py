"""Small-count protection of published tables.

Primary suppression hides every cell with 0 < count < threshold. A hidden cell could still be
worked out from a published sum (a row total, a kecamatan figure) when it is the only hidden
cell of that sum, so complementary (secondary) suppression then hides the smallest other cell of
the same sum - repeated until no published sum has exactly one hidden cell.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

Cell = Hashable


@dataclass(frozen=True)
class Suppression:
    """Which cells are hidden, and how many for each reason."""

    cells: frozenset[Cell]
    primary: int
    secondary: int


def suppress(
    counts: Mapping[Cell, int], lines: Iterable[Sequence[Cell]], threshold: int
) -> Suppression:
    """Hide small cells of ``counts``; ``lines`` are the groups of cells whose sum is published.

    ``threshold`` 0 (or 1) disables suppression.
    """
    hidden = {cell for cell, n in counts.items() if 0 < n < threshold}
    primary = len(hidden)
    lines = [list(line) for line in lines if len(line) > 1]
    changed = bool(hidden)
    while changed:
        changed = False
        for line in lines:
            inside = [cell for cell in line if cell in hidden]
            if len(inside) != 1:
                continue
            partner = _partner(counts, line, hidden)
            if partner is not None:
                hidden.add(partner)
                changed = True
    return Suppression(frozenset(hidden), primary, len(hidden) - primary)


def _partner(counts: Mapping[Cell, int], line: Sequence[Cell], hidden: set[Cell]) -> Cell | None:
    """The smallest visible non-zero cell of the line, else a visible zero cell."""
    visible = [
        (counts[cell] == 0, counts[cell], i) for i, cell in enumerate(line) if cell not in hidden
    ]
    if not visible:
        return None
    return line[min(visible)[2]]
