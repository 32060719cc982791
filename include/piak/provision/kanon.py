"""k-anonymity of an individual extract, counted while it streams.

The quasi-identifiers are the released columns an outsider may know about a person (sex, birth
year, region, religion, occupation...: ``quasi_identifier: true`` in
``include/piak/data/provision.yaml``). Rows with the same values of all of them form one class;
the release is k-anonymous for k = the size of its smallest class. Computed on the values as
released (birth year, not birth date), batch by batch: each row's class is a 64-bit key mixed from
its values (``splitmix64``), so memory is 8 bytes a row whatever the columns; the classes are
counted once at the end. Two classes can share a key with a chance of about n²/2^65 (10^-8 for a
million classes), which can only make k look larger for those two.

pyCANON computes the same (and l-diversity, t-closeness) but needs the whole table as a pandas
DataFrame in memory, which a million-row extract cannot afford within the extract's memory
bound; k and the size of the small classes are all the approval needs.
"""

from __future__ import annotations

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


class ClassCounter:
    """Counts the equivalence classes of ``columns`` (names in the batches) over every batch."""

    def __init__(self, columns: list[str], headers: list[str]) -> None:
        self.columns = columns
        self.headers = headers
        self._ids: dict[str, dict[Any, int]] = {c: {} for c in columns}
        self._keys: list[Any] = []
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

        if not self.columns or not batch.num_rows:
            self.rows += batch.num_rows
            return
        with np.errstate(over="ignore"):
            key = np.zeros(batch.num_rows, dtype=np.uint64)
            for i, name in enumerate(self.columns):
                column = self._codes(name, batch.column(name))
                key = _mix(key ^ _mix(column + np.uint64(i << 56)))
        self._keys.append(key)
        self.rows += batch.num_rows

    def report(self, threshold: int) -> dict[str, Any]:
        """k, the number of classes, and the classes and rows below ``threshold``."""
        import numpy as np

        base = {"quasi_identifiers": self.headers, "rows": self.rows, "threshold": threshold}
        if not self.columns:
            return {**base, "k": None, "classes": None, "classes_below_threshold": 0,
                    "rows_below_threshold": 0, "unique_rows": 0}  # fmt: skip
        if not self.rows:
            return {**base, "k": None, "classes": 0, "classes_below_threshold": 0,
                    "rows_below_threshold": 0, "unique_rows": 0}  # fmt: skip
        _, counts = np.unique(np.concatenate(self._keys), return_counts=True)
        small = counts < threshold
        return {
            **base,
            "k": int(counts.min()),
            "classes": len(counts),
            "classes_below_threshold": int(small.sum()),
            "rows_below_threshold": int(counts[small].sum()),
            "unique_rows": int((counts == 1).sum()),
        }
