"""The office's forms as data: what the code that builds them (trigger forms, sign-offs) and the
API server that reads answers back (:mod:`piak.web.form_messages`) both need to know."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: A sign-off's note field, and the JSON-schema keys a field carries for the API server:
#: ``x-piak-note-for`` (the choices that need a note), ``x-piak-required`` (must not be empty).
NOTE, NOTE_FOR, REQUIRED = "catatan", "x-piak-note-for", "x-piak-required"


def with_limits(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` with its lengths, bounds and date format stated in its description, in the
    words the refusals use (what the form checks, the person reads before typing)."""
    said = []
    low, high = schema.get("minLength"), schema.get("maxLength")
    if low and high:
        said.append(f"Panjang {low}-{high} karakter.")
    elif high:
        said.append(f"Paling banyak {high} karakter.")
    elif low:
        said.append(f"Paling sedikit {low} karakter.")
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        said.append(f"Angka {low} sampai {high}.")
    if schema.get("format") == "date":
        said.append("Tanggal TTTT-BB-HH, mis. 2026-11-20.")
    if not said:
        return dict(schema)
    description = " ".join([str(schema.get("description") or "").strip(), *said]).strip()
    return {**schema, "description": description}
