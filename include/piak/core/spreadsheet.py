"""Text cells a spreadsheet never runs: the one guard against formula (CSV) injection.

OWASP's rule (CSV Injection): a cell whose text begins with ``=``, ``+``, ``-``, ``@``, a tab or
a carriage return is read by Excel, LibreOffice and Google Sheets as a formula (``=HYPERLINK``,
``=cmd|...``, DDE). Such text is written with a leading single quote, which makes it plain text.
As OWASP advises, the check also looks past leading whitespace (some programs skip it before
reading the formula sign), and it covers the full-width signs that East-Asian Excel reads as
the ASCII ones. The CSV writers quote fields with separators and quotes, so no cell can be split
into a new one that starts with a sign.

Every writer of XLSX or CSV in the project uses this module: :func:`safe_text` / :func:`safe_row`
for Python values, :func:`safe_array` for Arrow columns (individual extracts, vectorised).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

#: The prefix that turns a would-be formula into text.
QUOTE = "'"
#: Leading characters that start a formula (ASCII and full-width).
SIGNS = "=+-@\uff1d\uff0b\uff0d\uff20"
#: Text that needs the prefix: a tab or CR first, or a sign after optional whitespace. The same
#: pattern runs in Python's ``re`` and in Arrow's RE2.
PATTERN = r"^(?:[\t\r]|\s*[" + re.escape(SIGNS) + "])"
_RISKY = re.compile(PATTERN)


def is_risky(text: str) -> bool:
    """True when a spreadsheet could read ``text`` as a formula."""
    return bool(_RISKY.match(text))


def safe_text(text: str) -> str:
    """``text``, with a leading ``'`` when a spreadsheet could read it as a formula."""
    return QUOTE + text if _RISKY.match(text) else text


def safe_cell(value: Any) -> Any:
    """A cell value for XLSX/CSV: text made safe, anything else unchanged."""
    return safe_text(value) if isinstance(value, str) else value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """A row of cell values for XLSX/CSV, every text made safe."""
    return [safe_text(v) if isinstance(v, str) else v for v in values]


def safe_array(array: pa.Array) -> pa.Array:
    """An Arrow column for XLSX/CSV: string values made safe (vectorised); other types as is."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return array
    risky = pc.match_substring_regex(array, PATTERN)
    if not pc.any(risky).as_py():
        return array
    quoted = pc.binary_join_element_wise(pa.scalar(QUOTE, array.type), array, "")
    return pc.if_else(risky, quoted, array)
