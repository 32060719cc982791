"""Reading back the PDFs the project writes with fpdf2."""

from __future__ import annotations

import re
import zlib
from pathlib import Path


def pdf_text(path: Path) -> str:
    """The text of a PDF written by fpdf2 (its page streams, inflated)."""
    data = Path(path).read_bytes()
    text = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            text.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            text.append(stream.decode("latin-1"))
    return "".join(text)
