"""Swimlane diagrams of the SOPs, drawn from the registry: one lane per office role (the SOP
table's Pelaksana columns), one box per step with its standard time (Mutu Baku), a diamond for
a decision, arrows in step order - the picture the SOP document shows, as SVG.

``python -m piak diagrams --out docs/diagrams`` writes one file per SOP; the committed files are
checked to be current (tests/test_diagrams.py)."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path
from xml.sax.saxutils import escape

from piak.core import registry
from piak.core.files import write_text_atomic

LANE_LABEL = 150  # width of the lane titles
LANE = 120  # height of a lane
COLUMN = 190  # width of a step's column
BOX_W, BOX_H = 160, 84
WRAP = 24  # characters per line of an activity
LINES = 4  # lines of an activity shown (the full text is the shape's tooltip)


def lanes(sop: registry.Sop) -> list[str]:
    """The roles of the SOP's columns that carry a step, in the table's order."""
    used = {step.role for step in sop.steps}
    return [role for role in sop.performers if role in used]


def _label(step: registry.Step) -> list[str]:
    """The activity's first lines (a diamond holds fewer and narrower ones)."""
    width, count = (WRAP - 6, LINES - 1) if step.decision else (WRAP, LINES)
    lines = textwrap.wrap(f"{step.number}. {step.activity}", width) or [str(step.number)]
    if len(lines) > count:
        lines = [*lines[: count - 1], lines[count - 1][: width - 1] + "…"]
    return lines


def _shape(x: float, y: float, step: registry.Step) -> str:
    tip = f"<title>{escape(f'{step.number}. {step.activity}')}</title>"
    if step.decision:
        cx, cy = x + BOX_W / 2, y + BOX_H / 2
        points = f"{cx},{y - 8} {x + BOX_W + 10},{cy} {cx},{y + BOX_H + 8} {x - 10},{cy}"
        return f'<polygon points="{points}" class="decision">{tip}</polygon>'
    size = f'width="{BOX_W}" height="{BOX_H}"'
    return f'<rect x="{x}" y="{y}" {size} rx="8" class="step">{tip}</rect>'


def swimlane_svg(sop: registry.Sop) -> str:
    """The SOP's swimlane diagram (SVG text). Every step is a ``<g data-step="N">``."""
    roles = lanes(sop)
    width = LANE_LABEL + COLUMN * len(sop.steps) + 20
    height = 40 + LANE * len(roles) + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        "<style>.step{fill:#eef4fb;stroke:#2f5d8a}.decision{fill:#fff4dc;stroke:#a86b00}"
        ".lane{fill:none;stroke:#999}.arrow{stroke:#333;fill:none;marker-end:url(#head)}"
        ".time{fill:#555;font-style:italic}</style>",
        '<defs><marker id="head" markerWidth="8" markerHeight="8" refX="7" refY="4" '
        'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#333"/></marker></defs>',
        f'<text x="10" y="24" font-size="15" font-weight="bold">{escape(sop.title)}</text>',
    ]
    for i, role in enumerate(roles):
        y = 40 + i * LANE
        out.append(f'<rect x="5" y="{y}" width="{width - 10}" height="{LANE}" class="lane"/>')
        out.append(
            f'<text x="12" y="{y + LANE / 2 + 4}" font-weight="bold">'
            f"{escape(sop.performers[role])}</text>"
        )
    corners: list[tuple[float, float, bool]] = []
    for column, step in enumerate(sop.steps):
        x = LANE_LABEL + column * COLUMN
        y = 40 + roles.index(step.role) * LANE + (LANE - BOX_H) / 2
        text = "".join(
            f'<tspan x="{x + BOX_W / 2}" dy="{13 if n else 0}">{escape(line)}</tspan>'
            for n, line in enumerate(_label(step))
        )
        top = y + (28 if step.decision else 18)
        time = escape(step.time_text or "-")
        out.append(
            f'<g data-step="{step.number}" data-role="{escape(step.role)}">{_shape(x, y, step)}'
            f'<text x="{x + BOX_W / 2}" y="{top}" text-anchor="middle">{text}</text>'
            f'<text x="{x + BOX_W / 2}" y="{y + BOX_H - 6}" text-anchor="middle" class="time">'
            f"{time}</text></g>"
        )
        corners.append((x, y, step.decision))
    for (x1, y1, diamond), (x2, y2, _) in itertools.pairwise(corners):
        start = (x1 + BOX_W + (10 if diamond else 0), y1 + BOX_H / 2)
        end = (x2 - 12, y2 + BOX_H / 2)
        middle = (start[0] + end[0]) / 2
        out.append(
            f'<path d="M{start[0]},{start[1]} H{middle} V{end[1]} H{end[0]}" class="arrow"/>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_all(out: Path) -> list[Path]:
    """One ``<code>.svg`` per SOP of the registry in ``out``."""
    return [
        write_text_atomic(Path(out) / f"{sop.code}.svg", swimlane_svg(sop))
        for sop in registry.load_registry()
    ]


URL_PREFIX = "/piak/diagram"


def link(sop_code: str) -> str:
    """Where the UI serves the SOP's diagram (:func:`piak.web.office_pages.create_diagram_app`)."""
    return f"{URL_PREFIX}/{sop_code}.svg"
