"""Typed configuration: one pydantic model per configuration file, loaded in one place.

A configuration file is YAML the office edits by hand. :func:`load_model` reads it and checks it
against its model; whatever is wrong ends in one :class:`ConfigError` naming the file, the key
and what was expected (``config/backup.yaml: retention.daily: harus bilangan bulat, bukan
'tujuh'``) - never an ``AttributeError`` deep inside a task.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from piak.core import settings
from piak.core.errors import PiakError

Model = TypeVar("Model", bound=BaseModel)


class ConfigError(PiakError):
    """A configuration file that is missing, not YAML, or not what its model expects."""


class Strict(BaseModel):
    """Base of every configuration model: unknown keys are refused (a typo is never ignored),
    values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: Any) -> timedelta:
    """Parse "30s", "30m", "8h" or "2d" into a timedelta; anything else is an error naming the
    text."""
    match = _DURATION.match(str(text))
    if not match or int(match.group(1)) == 0:
        raise PiakError(f"durasi tidak sah: {text!r} (contoh: 30m, 8h, 2d)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _duration(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value
    try:
        return parse_duration(value)
    except PiakError as exc:
        raise ValueError(str(exc)) from None


#: "30m", "8h", "2d" in a file; a timedelta in code.
Duration = Annotated[timedelta, BeforeValidator(_duration)]


def home_path(value: Any) -> Any:
    """A path as written in a file: relative paths are under ``PIAK_HOME``."""
    if isinstance(value, Path):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError("harus path (teks)")
    path = Path(value)
    return path if path.is_absolute() else settings.home() / path


#: A path, relative ones under ``PIAK_HOME``.
HomePath = Annotated[Path, BeforeValidator(home_path)]

_EXPECTED = {
    "missing": "wajib ada",
    "extra_forbidden": "kunci tidak dikenal (salah ketik?)",
    "int_type": "harus bilangan bulat",
    "int_parsing": "harus bilangan bulat",
    "int_from_float": "harus bilangan bulat",
    "float_type": "harus angka",
    "float_parsing": "harus angka",
    "bool_type": "harus true atau false",
    "bool_parsing": "harus true atau false",
    "string_type": "harus teks",
    "dict_type": "harus pemetaan (kunci: nilai)",
    "model_type": "harus pemetaan (kunci: nilai)",
    "model_attributes_type": "harus pemetaan (kunci: nilai)",
    "list_type": "harus daftar",
    "tuple_type": "harus daftar",
    "greater_than_equal": "terlalu kecil",
    "less_than_equal": "terlalu besar",
    "too_short": "paling sedikit {min_length} isian",
    "too_long": "paling banyak {max_length} isian",
    "string_pattern_mismatch": "bentuknya tidak sah",
    "string_too_short": "paling sedikit {min_length} karakter",
    "string_too_long": "paling banyak {max_length} karakter",
    "date_type": "harus tanggal TTTT-BB-HH",
    "date_parsing": "harus tanggal TTTT-BB-HH",
    "date_from_datetime_parsing": "harus tanggal TTTT-BB-HH",
    "datetime_type": "harus waktu TTTT-BB-HH JJ:MM",
    "datetime_parsing": "harus waktu TTTT-BB-HH JJ:MM",
}


def describe(error: dict[str, Any]) -> str:
    """``key.sub[0]: what was expected, bukan <value>`` for one pydantic error."""
    where = ""
    for part in error.get("loc", ()):
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    kind = error.get("type", "")
    if kind in ("value_error", "assertion_error"):
        expected = str(error.get("ctx", {}).get("error") or error.get("msg", ""))
    elif kind == "literal_error":
        choices = str(error.get("ctx", {}).get("expected", "")).replace(" or ", " atau ")
        expected = f"harus salah satu dari {choices}"
    else:
        expected = _EXPECTED.get(kind, error.get("msg", "tidak sah"))
        if "{" in expected:
            expected = expected.format(**error.get("ctx", {}))
        if kind in ("greater_than_equal", "less_than_equal"):
            bound = error.get("ctx", {})
            expected += f" (batas {bound.get('ge', bound.get('le'))})"
    quiet = ("missing", "extra_forbidden", "value_error", "assertion_error")
    shown = "" if kind in quiet else _shown(error.get("input"))
    return f"{where or '(akar)'}: {expected}{shown}"


def _shown(value: Any) -> str:
    if isinstance(value, dict | list | tuple):
        return ""
    if value is None:
        return ", bukan kosong"
    text = repr(value)
    return f", bukan {text if len(text) <= 60 else text[:57] + '...'}"


def validate(model: type[Model], data: Any, where: Path | str, **context: Any) -> Model:
    """``data`` checked against ``model``; errors in one message naming ``where``."""
    try:
        return model.model_validate(data, context=context or None)
    except ValidationError as exc:
        problems = [describe(e) for e in exc.errors(include_url=False)]
        shown = "; ".join(problems[:8]) + ("; ..." if len(problems) > 8 else "")
        raise ConfigError(f"{where}: {shown}") from None


#: PyYAML's safe loader, on libyaml's C parser where the wheel has it (every task process parses
#: its DAG file, and with it the SOP registry and the configuration: ten times faster).
SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, loader: type[yaml.SafeLoader] = SafeLoader) -> Any:
    """One YAML document, with :data:`SafeLoader` or a subclass of it."""
    return yaml.load(text, Loader=loader)  # ruff: ignore[unsafe-yaml-load] - always a safe loader


class _ConfigLoader(SafeLoader):
    """YAML without its own date parsing: dates reach the model as text, so a bad one is
    refused with its key (YAML would fail on ``2026-13-01`` without saying where)."""


_ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(path: Path, what: str) -> Any:
    """The YAML document of ``path`` (an empty file is ``{}``)."""
    try:
        data = parse_yaml(Path(path).read_text(encoding="utf-8"), _ConfigLoader)
    except FileNotFoundError:
        raise ConfigError(f"{path}: berkas konfigurasi {what} tidak ditemukan") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: bukan YAML yang sah: {exc}") from None
    return {} if data is None else data


def load_model(path: Path, model: type[Model], what: str, **context: Any) -> Model:
    """Read ``path`` and check it against ``model`` (see the module docstring)."""
    return validate(model, read_yaml(path, what), path, **context)


def checked(check: Callable[[Any], Any]) -> Any:
    """A ``BeforeValidator`` from a function that raises :class:`PiakError` on a bad value (the
    checks the package already has), reported like any other configuration error."""

    def run(value: Any) -> Any:
        try:
            return check(value)
        except PiakError as exc:
            raise ValueError(str(exc)) from None

    return BeforeValidator(run)
