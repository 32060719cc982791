"""The SOP registry: the seven SOPs of Bidang PIAK as data (``include/piak/sops/*.yaml``).

Each file holds one SOP: its code (= file stem = DAG id), Indonesian title, the Pelaksana
columns, the steps (activity, role, decision, Kelengkapan, standard time, output) and the fixes
made to the seed. A malformed file fails loudly with :class:`RegistryError` naming the file and
the field.
"""

from __future__ import annotations

import functools
import json
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from piak.core.config import SafeLoader
from piak.core.errors import RegistryError
from piak.core.roles import ROLE_TITLES, ROLES

SOPS_DIR = Path(__file__).resolve().parents[1] / "sops"
MINUTES = {"menit": 1, "jam": 60, "hari": 24 * 60}
_TIME = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?(menit|jam|hari)\s*$", re.IGNORECASE)
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_SOP_KEYS = {"code", "order", "title", "performers", "steps", "fixes"}
_STEP_KEYS = {"number", "activity", "role", "decision", "completeness", "time", "output"}
_FIX_KEYS = {"step", "fix"}


class _UniqueKeyLoader(SafeLoader):
    """A safe loader that refuses a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"kunci {key!r} ditulis dua kali", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _UniqueKeyLoader.construct_mapping
)


@dataclass(frozen=True)
class StandardTime:
    """The standard time (Waktu) of a step, in minutes; a range keeps both ends."""

    min_minutes: int
    max_minutes: int


@dataclass(frozen=True)
class Step:
    """One row of an SOP table: the activity, the office role whose column holds the symbol,
    whether the symbol is a diamond (decision), and the Mutu Baku (Kelengkapan, Waktu, Output).
    ``time_text`` is the Waktu as the seed writes it; ``standard_time`` is it parsed."""

    number: int
    activity: str
    role: str
    decision: bool
    completeness: str | None
    standard_time: StandardTime | None
    output: str | None
    time_text: str | None


@dataclass(frozen=True)
class Sop:
    """One SOP: code (= file stem = DAG id), Indonesian title, the Pelaksana columns (role code
    -> column label as in the seed), the steps, and the fixes made to the seed
    (``{"step": n | "table", "fix": text}``). ``order`` is its place in the registry."""

    code: str
    title: str
    performers: dict[str, str]
    steps: tuple[Step, ...]
    fixes: tuple[dict[str, Any], ...]
    order: int = 0

    def step(self, number: int) -> Step:
        """The step with this number; a :class:`RegistryError` names the valid range."""
        for step in self.steps:
            if step.number == number:
                return step
        raise RegistryError(f"SOP {self.code} tidak punya langkah {number} (1-{len(self.steps)})")


def parse_standard_time(text: str | None) -> StandardTime | None:
    """``"5 Menit"`` -> 5/5, ``"10 - 30 Menit"`` -> 10/30, ``"2 Hari"`` -> 2880/2880 (calendar
    days), ``"1 Jam"`` -> 60/60; None or empty -> None; anything else is an error."""
    if text is None or not str(text).strip():
        return None
    match = _TIME.match(str(text))
    if not match:
        raise RegistryError(f"waktu tidak dikenal: {text!r} (contoh: '5 Menit', '10 - 30 Menit')")
    low = int(match.group(1))
    high = int(match.group(2) or low)
    unit = MINUTES[match.group(3).lower()]
    if high < low:
        raise RegistryError(f"waktu {text!r}: batas atas lebih kecil dari batas bawah")
    return StandardTime(low * unit, high * unit)


def load_registry(directory: Path | None = None) -> list[Sop]:
    """Every SOP in ``directory`` (default: the package's registry), in SOP order."""
    if directory is None:
        return list(_default_registry())
    return _load(Path(directory))


@functools.lru_cache(maxsize=1)
def _default_registry() -> tuple[Sop, ...]:
    return tuple(_load(SOPS_DIR))


def _load(directory: Path) -> list[Sop]:
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise RegistryError(f"{directory}: tidak ada berkas SOP (*.yaml)")
    sops = [_load_file(path) for path in files]
    codes: dict[str, str] = {}
    orders: dict[int, str] = {}
    for path, sop in zip(files, sops, strict=True):
        if sop.code in codes:
            raise RegistryError(
                f"{path.name}: code: {sop.code!r} sudah dipakai oleh {codes[sop.code]}"
            )
        codes[sop.code] = path.name
        if sop.order in orders:
            raise RegistryError(
                f"{path.name}: order: {sop.order} sudah dipakai oleh {orders[sop.order]}"
            )
        orders[sop.order] = path.name
    return sorted(sops, key=lambda s: s.order)


def get_sop(code: str) -> Sop:
    """The SOP with this code (= DAG id)."""
    for sop in _default_registry():
        if sop.code == code:
            return sop
    known = ", ".join(s.code for s in _default_registry())
    raise RegistryError(f"SOP tidak dikenal: {code!r} ({known})")


def find_step(code: str, number: int) -> Step | None:
    """The step, or None when the registry no longer has it (an old agenda entry's)."""
    sop = next((s for s in _default_registry() if s.code == code), None)
    return next((s for s in sop.steps if s.number == number), None) if sop else None


def _load_file(path: Path) -> Sop:
    name = path.name
    try:
        data = _read_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RegistryError(f"{name}: bukan YAML yang sah: {exc}") from None
    if not isinstance(data, dict):
        raise RegistryError(f"{name}: isi berkas harus berupa pemetaan (code, title, steps, ...)")
    _check_keys(name, "", data, _SOP_KEYS)
    code = _text(name, "code", data["code"])
    if not _CODE.match(code) or code != path.stem:
        raise RegistryError(f"{name}: code: {code!r} harus sama dengan nama berkas ({path.stem})")
    order = data["order"]
    if not _is_int(order) or order < 1:
        raise RegistryError(f"{name}: order: harus bilangan bulat positif, bukan {order!r}")
    performers = data["performers"]
    if not isinstance(performers, dict) or not performers:
        raise RegistryError(f"{name}: performers: harus pemetaan peran -> label kolom")
    for role, label in performers.items():
        if role not in ROLES:
            raise RegistryError(f"{name}: performers.{role}: {_unknown_role(role)}")
        _text(name, f"performers.{role}", label)
    raw_steps = data["steps"]
    if not isinstance(raw_steps, list) or not raw_steps:
        raise RegistryError(f"{name}: steps: harus daftar langkah yang tidak kosong")
    steps = tuple(_step(name, i, raw, performers) for i, raw in enumerate(raw_steps))
    return Sop(
        code=code,
        title=_text(name, "title", data["title"]),
        performers=dict(performers),
        steps=steps,
        fixes=_fixes(name, data["fixes"], len(steps)),
        order=order,
    )


def _read_yaml(text: str) -> Any:
    loader = _UniqueKeyLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _fixes(name: str, raw: Any, step_count: int) -> tuple[dict[str, Any], ...]:
    """The corrections of the seed: each names a step number (or ``table``) and what/why."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise RegistryError(f"{name}: fixes: harus daftar {{step, fix}}, bukan {raw!r}")
    fixes = []
    for index, fix in enumerate(raw):
        where = f"fixes[{index}]"
        if not isinstance(fix, dict):
            raise RegistryError(f"{name}: {where}: harus pemetaan {{step, fix}}")
        _check_keys(name, f"{where}.", fix, _FIX_KEYS)
        step = fix["step"]
        if step != "table" and not (_is_int(step) and 1 <= step <= step_count):
            raise RegistryError(
                f"{name}: {where}.step: {step!r}; harus nomor langkah 1-{step_count} atau 'table'"
            )
        fixes.append({"step": step, "fix": _text(name, f"{where}.fix", fix["fix"])})
    return tuple(fixes)


def _step(name: str, index: int, raw: Any, performers: dict[str, str]) -> Step:
    where = f"steps[{index}]"
    if not isinstance(raw, dict):
        raise RegistryError(f"{name}: {where}: harus pemetaan")
    _check_keys(name, f"{where}.", raw, _STEP_KEYS)
    number = raw["number"]
    if not _is_int(number) or number != index + 1:
        raise RegistryError(
            f"{name}: {where}.number: {number!r}; langkah harus bernomor urut 1..n "
            f"(seharusnya {index + 1})"
        )
    role = raw["role"]
    if role not in ROLES:
        raise RegistryError(f"{name}: {where}.role: {_unknown_role(role)}")
    if role not in performers:
        raise RegistryError(
            f"{name}: {where}.role: {role!r} bukan kolom Pelaksana SOP ini "
            f"({', '.join(performers)})"
        )
    if not isinstance(raw["decision"], bool):
        raise RegistryError(f"{name}: {where}.decision: harus true atau false")
    time_text = _optional_text(name, f"{where}.time", raw["time"])
    try:
        standard_time = parse_standard_time(time_text)
    except RegistryError as exc:
        raise RegistryError(f"{name}: {where}.time: {exc}") from None
    return Step(
        number=number,
        activity=_text(name, f"{where}.activity", raw["activity"]),
        role=role,
        decision=raw["decision"],
        completeness=_optional_text(name, f"{where}.completeness", raw["completeness"]),
        standard_time=standard_time,
        output=_optional_text(name, f"{where}.output", raw["output"]),
        time_text=time_text,
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_keys(name: str, prefix: str, data: dict[str, Any], expected: set[str]) -> None:
    if missing := sorted(expected - set(data)):
        raise RegistryError(f"{name}: {prefix}{missing[0]}: wajib ada")
    if extra := sorted(set(data) - expected):
        raise RegistryError(f"{name}: {prefix}{extra[0]}: kunci tidak dikenal")


def _text(name: str, field: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RegistryError(f"{name}: {field}: harus teks yang tidak kosong, bukan {value!r}")
    return " ".join(value.split())


def _optional_text(name: str, field: str, value: Any) -> str | None:
    return None if value is None else _text(name, field, value)


def _unknown_role(role: Any) -> str:
    return f"{role!r} bukan salah satu dari {', '.join(ROLES)}"


def as_dict(sop: Sop) -> dict[str, Any]:
    """The JSON shape of ``python -m piak sops --json``."""
    return {
        "code": sop.code,
        "title": sop.title,
        "steps": [
            {
                "number": s.number,
                "activity": s.activity,
                "role": s.role,
                "decision": s.decision,
                "standard_time": (
                    {
                        "min_minutes": s.standard_time.min_minutes,
                        "max_minutes": s.standard_time.max_minutes,
                    }
                    if s.standard_time
                    else None
                ),
                "completeness": s.completeness,
                "output": s.output,
            }
            for s in sop.steps
        ],
    }


def to_json(sops: list[Sop]) -> str:
    """The SOPs as a JSON list (see :func:`as_dict`), UTF-8 text kept, indented."""
    return json.dumps([as_dict(s) for s in sops], ensure_ascii=False, indent=2)


def format_text(sops: list[Sop]) -> str:
    """The registry as readable tables, one per SOP."""
    out: list[str] = []
    for sop in sops:
        out += [
            f"{sop.title}  [{sop.code}, {len(sop.steps)} langkah, "
            f"{len(sop.fixes)} perbaikan atas sumber]",
            "-" * 100,
        ]
        out.append(f"{'No':>3}  {'Pelaksana':<19} {'K':1}  {'Waktu':<14} Kegiatan")
        for s in sop.steps:
            wrapped = textwrap.wrap(s.activity, 60) or [""]
            role = ROLE_TITLES[s.role]
            marker = "◊" if s.decision else ""
            out.append(
                f"{s.number:>3}  {role:<19} {marker:1}  {s.time_text or '-':<14} {wrapped[0]}"
            )
            out += [f"{'':>43}{line}" for line in wrapped[1:]]
        out.append("")
    out.append("K = keputusan (◊)")
    return "\n".join(out)
