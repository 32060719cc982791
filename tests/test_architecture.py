"""The package's shape: each SOP's module (the code its DAG runs) stands alone - what two SOPs
need lives in a shared module, so a change to one SOP never reaches into another."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "include" / "piak"


def sop_modules() -> set[str]:
    """The modules DAG files name in ``run="piak.<module>:<function>"``."""
    found = set()
    for path in (ROOT / "dags").glob("*.py"):
        found |= set(re.findall(r'"piak\.(\w+):\w+"', path.read_text(encoding="utf-8")))
    return found


def imported_piak_modules(path: Path) -> set[str]:
    """Every ``piak.<module>`` a file imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] == "piak":
                names |= {parts[1]} if len(parts) > 1 else {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name.split(".")[1] for a in node.names if a.name.startswith("piak.")}
    return names


def test_the_dags_name_the_sop_modules():
    assert {"backup", "recovery", "data_provision", "access_rights"} <= sop_modules()


def test_no_sop_module_imports_another():
    sops = sop_modules()
    crossing = {
        module: sorted(imported_piak_modules(PACKAGE / f"{module}.py") & (sops - {module}))
        for module in sops
    }
    assert {m: found for m, found in crossing.items() if found} == {}
