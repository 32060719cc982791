"""k-anonymity of an individual extract, counted while it streams.

The quasi-identifiers are the released columns an outsider may know about a person (sex, birth
year, region, religion, occupation...: ``quasi_identifier: true`` in
``include/piak/data/provision.yaml``). Rows with the same values of all of them form one class;
the release is k-anonymous for k = the size of its smallest class. Computed on the values as
released (birth year, not birth date), batch by batch: each row's class is a 64-bit key mixed from
its values (``splitmix64``). The keys go to 16 spill files by their top bits (8 bytes a row on
disk, in the extract's own work folder, removed afterwards), and the classes are counted one
file at a time at the end, so memory does not grow with the rows. Two classes can share a key
with a chance of about n²/2^65 (10^-8 for a million classes), which can only make k look larger
for those two.

pyCANON computes the same (and l-diversity, t-closeness) but needs the whole table as a pandas
DataFrame in memory, which a million-row extract cannot afford within the extract's memory
bound; k and the size of the small classes are all the approval needs.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

_GOLDEN = 0x9E3779B97F4A7C15


def _mix(values: Any) -> Any:
    """splitmix64 of a uint64 array (wrapping arithmetic)."""
    import numpy as np

    z = values + np.uint64(_GOLDEN)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


PARTS = 16


class ClassCounter:
    """Counts the equivalence classes of ``columns`` (names in the batches) over every batch;
    the row keys spill to files in ``spill_dir`` (kept in memory when it is None)."""

    def __init__(self, columns: list[str], headers: list[str], spill_dir: Path | None = None):
        self.columns = columns
        self.headers = headers
        self._ids: dict[str, dict[Any, int]] = {c: {} for c in columns}
        self._memory: list[Any] = []
        self._files: list[Any] = []
        if spill_dir is not None and columns:
            self._dir = Path(tempfile.mkdtemp(prefix=".kanon-", dir=spill_dir))
            self._files = [(self._dir / f"{i:02d}").open("wb") for i in range(PARTS)]
        self.rows = 0

    def _codes(self, name: str, array: pa.Array) -> Any:
        """A stable non-negative integer per value of a column (NULL = 0)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if pa.types.is_integer(array.type):
            return pc.fill_null(array.cast(pa.int64()), -1).to_numpy().astype(np.uint64) + 1
        encoded = pc.dictionary_encode(array)
        ids = self._ids[name]
        lookup = np.array(
            [ids.setdefault(v, len(ids) + 1) for v in encoded.dictionary.to_pylist()] + [0],
            dtype=np.uint64,
        )
        indices = pc.fill_null(encoded.indices, len(lookup) - 1).to_numpy()
        return lookup[indices]

    def add(self, batch: pa.RecordBatch) -> None:
        import numpy as np

        self.rows += batch.num_rows
        if not self.columns or not batch.num_rows:
            return
        with np.errstate(over="ignore"):
            key = np.zeros(batch.num_rows, dtype=np.uint64)
            for i, name in enumerate(self.columns):
                column = self._codes(name, batch.column(name))
                key = _mix(key ^ _mix(column + np.uint64(i << 56)))
        if not self._files:
            self._memory.append(key)
            return
        part = (key >> np.uint64(60)).astype(np.intp)
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(PARTS + 1))
        ordered = key[order]
        for i, handle in enumerate(self._files):
            if bounds[i + 1] > bounds[i]:
                handle.write(ordered[bounds[i] : bounds[i + 1]].tobytes())

    def _counts(self) -> Iterator[Any]:
        import numpy as np

        if not self._files:
            if self._memory:
                yield np.unique(np.concatenate(self._memory), return_counts=True)[1]
            return
        for handle in self._files:
            handle.close()
        for i in range(PARTS):
            keys = np.fromfile(self._dir / f"{i:02d}", dtype=np.uint64)
            if len(keys):
                yield np.unique(keys, return_counts=True)[1]

    def discard(self) -> None:
        """Remove the spill files (also after a failure)."""
        for handle in self._files:
            handle.close()
        if self._files:
            shutil.rmtree(self._dir, ignore_errors=True)
        self._files, self._memory = [], []

    def report(self, threshold: int) -> dict[str, Any]:
        """k, the number of classes, and the classes and rows below ``threshold``."""
        base = {"quasi_identifiers": self.headers, "rows": self.rows, "threshold": threshold}
        empty = {
            "k": None,
            "classes": None if not self.columns else 0,
            "classes_below_threshold": 0,
            "rows_below_threshold": 0,
            "unique_rows": 0,
        }
        if not self.columns or not self.rows:
            self.discard()
            return {**base, **empty}
        k, classes, below, rows_below, unique = None, 0, 0, 0, 0
        try:
            for counts in self._counts():
                small = counts < threshold
                smallest = int(counts.min())
                k = smallest if k is None else min(k, smallest)
                classes += len(counts)
                below += int(small.sum())
                rows_below += int(counts[small].sum())
                unique += int((counts == 1).sum())
        finally:
            self.discard()
        return {
            **base,
            "k": k,
            "classes": classes,
            "classes_below_threshold": below,
            "rows_below_threshold": rows_below,
            "unique_rows": unique,
        }
