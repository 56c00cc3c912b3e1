"""Imports point one way: no cycle among selfheal's modules, counting the imports inside
functions too (a function-level import may save start-up cost, never hide a cycle) and ignoring
only ``if TYPE_CHECKING:`` blocks and a module's import of its own parent package."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def modules() -> dict[str, Path]:
    out = {}
    for path in [*(ROOT / "selfheal").rglob("*.py"), *(ROOT / "functions").glob("*.py")]:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        out[name] = path
    return out


def imports(path: Path) -> set[str]:
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            test = node.test
            if getattr(test, "id", None) == "TYPE_CHECKING" or getattr(test, "attr", None) == "TYPE_CHECKING":
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(a.name for a in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.module:
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)

    Visitor().visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: {t for t in imports(path) if t in mods and t != name and not name.startswith(t + ".")}
            for name, path in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle() -> None:
    assert cycles(graph()) == []


def test_the_check_finds_a_cycle_hidden_in_a_function() -> None:
    g = graph()
    g["selfheal.compose.aws"] = g["selfheal.compose.aws"] | {"selfheal.compose.workflow"}
    assert ["selfheal.compose.aws", "selfheal.compose.workflow"] in cycles(g)


def test_the_aws_root_does_not_reach_the_local_composition() -> None:
    g = graph()
    assert "selfheal.compose.workflow" not in g["selfheal.compose.aws"]
    assert "selfheal.compose.aws" in g["selfheal.compose.workflow"]  # one way: local installs steps
