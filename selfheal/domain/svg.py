"""Draw an ASL state machine as SVG, colouring the states one run visited the way the Step
Functions console does (green succeeded, red failed, orange caught error, blue in progress), plus
amber for a state that needed retries. Pure: takes the definition and a state -> status map.

Readable at a glance: a *router* (a Choice with more than ``ROUTER_CHOICES`` rules, such as
``ResumeAt``, which can jump to any resumable state) draws no fan of edges; a re-driven run draws
the one edge it took from the router into the state it resumed at, highlighted. A *merge* (a
state that more than ``ROUTER_CHOICES`` states jump to, such as ``ContinueFix``) draws no fan
either: its incoming jumps become short stubs onto one bus line in the gap right of the main
line (clear of the left margin's curves), which runs into it with one arrow. Edge labels sit
in the free space beside their edge, never under a box."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

# status -> (fill, stroke)
COLOURS: dict[str, tuple[str, str]] = {
    "succeeded": ("#dff3e4", "#1d8102"),
    "retried": ("#fff4cc", "#b7791f"),
    "caught": ("#ffe8cc", "#ec7211"),
    "failed": ("#fde2e2", "#d13212"),
    "running": ("#dbeafe", "#0073bb"),
    "not visited": ("#ffffff", "#aab7b8"),
}
LEGEND = ("succeeded", "retried", "caught", "failed", "running", "not visited")
BOX_W, BOX_H, ROW_H, COL_W, MARGIN, LEFT = 190, 38, 62, 290, 30, 120
SIDE_TYPES = frozenset({"Fail"})
ROUTER_CHOICES = 3
RESUME_COLOUR = "#0073bb"
CHAR_W = 5.6  # width of one character at font-size 10 (Helvetica), for label placement
# the merge bus's x: in the gap right of the main line, past the labels that sit there
BUS_X = LEFT + BOX_W + 70


def is_router(state: Mapping[str, Any]) -> bool:
    """A Choice that fans out to many states (its edges are drawn only when taken)."""
    return state.get("Type") == "Choice" and len(state.get("Choices", [])) > ROUTER_CHOICES


def first_task(definition: Mapping[str, Any]) -> str | None:
    """The Task a fresh run reaches first: from ``StartAt`` along ``Next`` and ``Default``."""
    states: Mapping[str, Mapping[str, Any]] = definition.get("States", {})
    name, seen = definition.get("StartAt"), set()
    while isinstance(name, str) and name in states and name not in seen:
        seen.add(name)
        if states[name].get("Type") == "Task":
            return name
        name = states[name].get("Next", states[name].get("Default"))
    return None


def resumed_at(definition: Mapping[str, Any], first_state: str | None) -> str | None:
    """``first_state`` when a run began there instead of at ``first_task`` (a re-drive)."""
    if first_state is None or first_state == first_task(definition):
        return None
    return first_state if router_into(definition, first_state) else None


def router_into(definition: Mapping[str, Any], target: str) -> str | None:
    """The router that can send a run straight to ``target``."""
    for name, state in definition.get("States", {}).items():
        if is_router(state) and any(rule.get("Next") == target for rule in state.get("Choices", [])):
            return str(name)
    return None


def _targets(state: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(target, label, kind) of a state's transitions; kind: next | choice | default | catch."""
    out: list[tuple[str, str, str]] = []
    if "Next" in state:
        out.append((state["Next"], "", "next"))
    for rule in state.get("Choices", []):
        out.append((rule["Next"], _rule_label(rule), "choice"))
    if "Default" in state:
        out.append((state["Default"], "default", "default"))
    for catch in state.get("Catch", []):
        out.append((catch["Next"], "catch", "catch"))
    return out


def _rule_label(rule: Mapping[str, Any]) -> str:
    for cond in [rule, *rule.get("And", [])]:
        for key, value in cond.items():
            if key.startswith("String") and isinstance(value, str):
                return value
    return ""


def _layout(states: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[int, int]]:
    """(column, row): the main line down column 0 in definition order; catch/abstain targets
    and their successors to the right, level with the first state that leads to them."""
    catch_targets = {t for s in states.values() for t, _, k in _targets(s) if k == "catch"}
    side: set[str] = set()
    for name in list(states):
        if name in catch_targets or states[name].get("Type") in SIDE_TYPES:
            side.add(name)
    # an abstain-like branch: a Choice default that ends (Succeed) on its own
    for s in states.values():
        if s.get("Type") == "Choice" and "Default" in s and s["Default"] in states:
            d = s["Default"]
            nxt = str(states[d].get("Next", ""))
            if nxt in states and states[nxt].get("Type") == "Succeed":
                side |= {d, nxt}
    pos: dict[str, tuple[int, int]] = {}
    row = 0
    for name in states:
        if name not in side:
            pos[name] = (0, row)
            row += 1
    main_rows = row
    for name in states:
        if name in pos or name not in side:
            continue
        preds = [p for p, st in states.items()
                 if p in pos and any(t == name for t, _, k in _targets(st) if k != "catch")]
        if preds:
            pcol, prow = pos[preds[0]]
            r = prow + (1 if pcol == 1 else 0)
        else:
            r = max(0, main_rows // 2 - 1)
        while (1, r) in pos.values():
            r += 1
        pos[name] = (1, r)
    return pos


def _margin_jump(src: tuple[int, int], dst: tuple[int, int]) -> bool:
    """An edge drawn round the left margin: same column, not to the row just below."""
    return src[0] == dst[0] and dst[1] != src[1] + 1


def _merges(states: Mapping[str, Mapping[str, Any]],
            pos: Mapping[str, tuple[int, int]]) -> dict[str, list[tuple[str, str]]]:
    """target -> the states that jump to it round the margin, for targets with more than
    ``ROUTER_CHOICES`` such jumps (drawn as one bus instead of a fan of curves)."""
    into: dict[str, list[tuple[str, str]]] = {}
    for name, state in states.items():
        if is_router(state):
            continue
        for target, label, kind in _targets(state):
            if (kind != "catch" and target in pos and name in pos and _margin_jump(pos[name], pos[target])
                    and name not in {s for s, _ in into.get(target, [])}):
                into.setdefault(target, []).append((name, label))
    return {t: srcs for t, srcs in into.items() if len(srcs) > ROUTER_CHOICES}


def _bus(pos: Mapping[str, tuple[int, int]], sources: list[tuple[str, str]], target: str,
         visited: set[str]) -> list[str]:
    """A merge drawn as a bus: a short horizontal stub from each source's right side to the bus
    line at ``BUS_X``, the line itself, and one arrow from it into the target's right side. A
    stub (and the line) is dark when the run may have taken it; a taken stub keeps its label."""
    tx, ty = _centre(*pos[target])
    out: list[str] = []
    ys = [ty]
    any_taken = False
    for src, label in sources:
        sx, sy = _centre(*pos[src])
        taken = src in visited and target in visited
        any_taken |= taken or not visited
        ys.append(sy)
        colour = "#545b64" if taken or not visited else "#d5dbdb"
        out.append(f'<path class="edge bus-stub" d="M {sx + BOX_W / 2} {sy} L {BUS_X} {sy}" fill="none" '
                   f'stroke="{colour}" stroke-width="1.2"/>')
        if label and taken:
            out.append(f'<text x="{sx + BOX_W / 2 + 6:.1f}" y="{sy - 5:.1f}" font-size="10" '
                       f'text-anchor="start" fill="{colour}" class="edge-label">{escape(label)}</text>')
    colour, marker = ("#545b64", "arrow") if any_taken else ("#d5dbdb", "arrow-light")
    out.append(f'<path class="edge bus" data-target="{escape(target)}" d="M {BUS_X} {min(ys)} L {BUS_X} '
               f'{max(ys)} M {BUS_X} {ty} L {tx + BOX_W / 2} {ty}" fill="none" stroke="{colour}" '
               f'stroke-width="1.2" marker-end="url(#{marker})"/>')
    return out


def _centre(col: int, row: int) -> tuple[float, float]:
    return LEFT + col * COL_W + BOX_W / 2, MARGIN + row * ROW_H + BOX_H / 2


def render_svg(definition: Mapping[str, Any], status: Mapping[str, str],
               notes: Mapping[str, str] | None = None, title: str = "",
               resumed: str | None = None, visits: Mapping[str, int] | None = None) -> str:
    """The SVG document. ``status``: state -> one of ``COLOURS``; ``notes``: state -> a short
    annotation (duration, retries, error) drawn under the state name; ``resumed``: the state a
    re-driven run resumed at (see ``resumed_at``), whose edge from the router is highlighted;
    ``visits``: how often the run entered each state (a loop back, such as the repair loop, is
    drawn as taken only when its target was entered again)."""
    states: Mapping[str, Mapping[str, Any]] = definition["States"]
    pos = _layout(states)
    notes = dict(notes or {})
    status = dict(status)
    router = router_into(definition, resumed) if resumed else None
    if router is not None:
        status[router] = "succeeded"
        notes.setdefault(router, f"resumed at {resumed}")
    for name, state in states.items():
        if is_router(state):
            notes.setdefault(name, "re-drive: to the resumed state")
    rows = max(r for _, r in pos.values()) + 1
    width = LEFT + MARGIN + COL_W + BOX_W + 40
    height = MARGIN * 2 + rows * ROW_H + 60 + (24 if title else 0)
    top = 24 if title else 0
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="Helvetica, Arial, sans-serif" font-size="12">',
           _markers(),
           f'<rect width="{width}" height="{height}" fill="#fafafa"/>']
    if title:
        out.append(f'<text x="{LEFT}" y="{MARGIN - 6}" font-size="14" font-weight="bold">'
                   f'{escape(title)}</text>')
    out.append(f'<g transform="translate(0,{top})">')
    visited = {n for n, st in status.items() if st != "not visited"}
    merges = _merges(states, pos)
    for target, sources in merges.items():
        out.extend(_bus(pos, sources, target, visited))
    for name, state in states.items():
        for target, label, kind in _targets(state):
            if target not in pos or (kind == "catch" and status.get(name) not in ("caught", "failed")):
                continue
            if is_router(state):
                if name == router and target == resumed and kind == "choice":
                    out.append(_edge(pos[name], pos[target], "resume", kind, True, RESUME_COLOUR))
                continue  # a router's fan would hide everything else
            if name in {s for s, _ in merges.get(target, ())}:
                continue  # drawn as a stub onto the merge bus
            # Edges a run may have taken are dark and labelled; the rest stay in the background.
            taken = name in visited and target in visited
            if visits is not None and pos[target][0] == pos[name][0] and pos[target][1] < pos[name][1]:
                taken = taken and visits.get(target, 0) > 1  # a loop back is taken only by a second visit
            out.append(_edge(pos[name], pos[target], label if kind != "next" and taken else "", kind,
                             taken or not visited))
    for name, (col, row) in pos.items():
        out.append(_box(name, states[name].get("Type", ""), col, row, status.get(name, "not visited"),
                        notes.get(name, "")))
    out.append(_legend(rows))
    out.append("</g></svg>")
    return "\n".join(out)


def _markers() -> str:
    """Arrowheads: dark for edges a run may have taken, light for the rest, blue for a resume."""
    def marker(ident: str, fill: str, size: int) -> str:
        return (f'<marker id="{ident}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="{size}" '
                f'markerHeight="{size}" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
                f'fill="{fill}"/></marker>')

    return ("<defs>" + marker("arrow", "#545b64", 7) + marker("arrow-light", "#d5dbdb", 7)
            + marker("arrow-resume", RESUME_COLOUR, 4) + "</defs>")


def _edge(src: tuple[int, int], dst: tuple[int, int], label: str, kind: str, strong: bool,
          highlight: str | None = None) -> str:
    (x1, y1), (x2, y2) = _centre(*src), _centre(*dst)
    dash = ' stroke-dasharray="5,4"' if kind == "catch" else ""
    anchor = "start"
    if src[0] == dst[0] and dst[1] == src[1] + 1:
        path = f"M {x1} {y1 + BOX_H / 2} L {x2} {y2 - BOX_H / 2}"
        lx, ly = x1 + 6, (y1 + y2) / 2 + 4
    elif src[0] == dst[0]:  # a jump or a loop along the main line: go round on the left
        side = x1 - BOX_W / 2
        off = 14 + (6 * abs(dst[1] - src[1])) % 40
        path = f"M {side} {y1} C {side - off} {y1}, {side - off} {y2}, {side} {y2}"
        # right-aligned just left of the curve's outermost point (the margin is LEFT wide)
        lx, ly, anchor = side - off * 0.75 - 4, (y1 + y2) / 2 + 4, "end"
    else:
        start_x = x1 + BOX_W / 2 if dst[0] > src[0] else x1 - BOX_W / 2
        end_x = x2 - BOX_W / 2 if dst[0] > src[0] else x2 + BOX_W / 2
        path = f"M {start_x} {y1} L {end_x} {y2}"
        # at the source end, just above where the edge leaves its box
        lx, ly = (start_x + 6, y1 - 5) if dst[0] > src[0] else (start_x - 6, y1 - 5)
        anchor = "start" if dst[0] > src[0] else "end"
    width = 2.4 if highlight else 1.2
    colour = highlight or ("#545b64" if strong else "#d5dbdb")
    text = (f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="10" text-anchor="{anchor}" fill="{colour}" '
            f'class="edge-label">{escape(label)}</text>' if label else "")
    css, marker = ((' class="edge resume"', "arrow-resume") if highlight else
                   (' class="edge"', "arrow" if strong else "arrow-light"))
    return (f'<path{css} d="{path}" fill="none" stroke="{colour}" stroke-width="{width}"{dash} '
            f'marker-end="url(#{marker})"/>{text}')


def _box(name: str, typ: str, col: int, row: int, status: str, note: str) -> str:
    fill, stroke = COLOURS.get(status, COLOURS["not visited"])
    x, y = LEFT + col * COL_W, MARGIN + row * ROW_H
    rx = 19 if typ in ("Choice", "Pass", "Succeed", "Fail") else 4
    width = 3 if status != "not visited" else 1.2
    label = f'<text x="{x + BOX_W / 2}" y="{y + (16 if note else 23)}" text-anchor="middle" ' \
            f'font-weight="bold">{escape(name)}</text>'
    sub = (f'<text x="{x + BOX_W / 2}" y="{y + 31}" text-anchor="middle" font-size="10" '
           f'fill="#333">{escape(note[:34])}</text>') if note else ""
    return (f'<g class="state" data-state="{escape(name)}" data-status="{escape(status)}">'
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="{rx}" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{width}"/>{label}{sub}</g>')


def _legend(rows: int) -> str:
    y = MARGIN + rows * ROW_H + 10
    parts = []
    for i, key in enumerate(LEGEND):
        fill, stroke = COLOURS[key]
        x = LEFT + i * 78
        parts.append(f'<rect x="{x}" y="{y}" width="12" height="12" fill="{fill}" stroke="{stroke}" '
                     f'stroke-width="2"/><text x="{x + 16}" y="{y + 10}" font-size="10">{key}</text>')
    return "".join(parts)
