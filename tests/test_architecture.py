"""The package's shape: folders by layer - ``core`` (the office's rules and records),
``engines`` (databases, Data Pump, backup sets and their storage), ``workflow`` (Airflow building
blocks), ``sops`` (one module per SOP), ``web`` (pages in the UI's server) - each importing only
the layers below it; and each SOP's module stands alone, so a change to one SOP never reaches
into another."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "include" / "piak"
#: Bottom to top: a layer may import the ones before it, never one after it.
LAYERS = ["core", "engines", "workflow", "sops", "web"]


def sop_modules() -> set[str]:
    """The SOP modules the DAG files name (``from piak.sops import backup`` and the like)."""
    found = set()
    for path in (ROOT / "dags").glob("*.py"):
        found |= {m.rsplit(".", 1)[1] for m in imported_piak_modules(path) if layer_of(m) == "sops"}
    return found


def imported_piak_modules(path: Path) -> set[str]:
    """Every ``piak.<layer>.<module>`` a file imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("piak"):
            if node.module.count(".") >= 2:
                names.add(".".join(node.module.split(".")[:3]))
            else:
                names |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.startswith("piak.")}
    return names


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_the_package_is_the_layer_folders_and_the_entry_points():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert top == {"__init__", "__main__", "cli", "demo", "deploy"}
    assert folders == {*LAYERS, "data"}


def test_each_layer_imports_only_the_layers_below_it():
    upward = {}
    for layer in LAYERS:
        allowed = set(LAYERS[: LAYERS.index(layer) + 1])
        for path in (PACKAGE / layer).rglob("*.py"):
            found = {layer_of(m) for m in imported_piak_modules(path)} - {None}
            if found - allowed:
                upward[str(path.relative_to(PACKAGE))] = sorted(found - allowed)
    assert upward == {}


def test_the_dags_name_the_sop_modules():
    assert {"backup", "recovery", "data_provision", "access_rights"} <= sop_modules()


def test_no_sop_module_imports_another():
    sops = {p.stem for p in (PACKAGE / "sops").glob("*.py")} - {"__init__"}
    crossing = {
        module: sorted(
            m.rsplit(".", 1)[1]
            for m in imported_piak_modules(PACKAGE / "sops" / f"{module}.py")
            if m.startswith("piak.sops.") and m != f"piak.sops.{module}"
        )
        for module in sops
    }
    assert {m: found for m, found in crossing.items() if found} == {}
