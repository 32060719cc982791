"""The SOP swimlane diagrams (``piak.core.diagrams``): every registry step is in its diagram, in its
role's lane, a decision as a diamond; the committed files in docs/diagrams are current."""

from __future__ import annotations

from pathlib import Path

import pytest
from defusedxml import ElementTree as ET

from piak.core import diagrams, registry

ROOT = Path(__file__).resolve().parents[1]
SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize("sop", registry.load_registry(), ids=lambda s: s.code)
def test_every_step_is_drawn_once_in_its_role_s_lane(sop):
    root = ET.fromstring(diagrams.swimlane_svg(sop))
    drawn = {g.get("data-step"): g for g in root.iter(f"{SVG}g") if g.get("data-step")}
    assert sorted(drawn, key=int) == [str(s.number) for s in sop.steps]
    lanes = diagrams.lanes(sop)
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("font-weight") == "bold"]
    assert [sop.performers[r] for r in lanes] == labels[1:]  # after the title
    for step in sop.steps:
        group = drawn[str(step.number)]
        assert group.get("data-role") == step.role
        shape = group.find(f"{SVG}polygon" if step.decision else f"{SVG}rect")
        assert shape is not None, step.number
        assert shape.find(f"{SVG}title").text == f"{step.number}. {step.activity}"
        times = [t.text for t in group.iter(f"{SVG}text") if t.get("class") == "time"]
        assert times == [step.time_text or "-"]
        top = 40 + lanes.index(step.role) * diagrams.LANE
        y = float(shape.get("y") or shape.get("points").split()[0].split(",")[1])
        assert top <= y < top + diagrams.LANE, f"step {step.number} outside its lane"


def test_text_from_the_registry_is_escaped():
    sop = registry.get_sop("helpdesk")
    step = sop.steps[0]
    odd = registry.Step(**{**step.__dict__, "activity": 'Laporan <b>&</b> "keluhan"'})
    svg = diagrams.swimlane_svg(registry.Sop(**{**sop.__dict__, "steps": (odd, *sop.steps[1:])}))
    ET.fromstring(svg)  # still well-formed
    assert "<b>" not in svg and "&lt;b&gt;&amp;&lt;/b&gt;" in svg


def test_the_committed_diagrams_are_current(tmp_path):
    written = diagrams.write_all(tmp_path)
    assert {p.name for p in written} == {f"{s.code}.svg" for s in registry.load_registry()}
    for path in written:
        committed = ROOT / "docs" / "diagrams" / path.name
        assert committed.read_text() == path.read_text(), f"python -m piak diagrams: {path.name}"
