"""The shape of the package: imports flow one way (no circles, none hidden inside functions),
nobody imports a sibling's private names, modules stay small, nothing heavy on import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

SRC = ROOT / "src" / "framescope"
#: Modules allowed above the size limit, and why.
LONG_MODULES: dict[str, str] = {
    "framescope.scored": "the scored-row schema's writer and its checking reader in one module, "
                         "so the two sides cannot drift apart (issue 11)",
}
MAX_LINES = 600


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in SRC.rglob("*.py")}


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(path: Path, modules: dict[str, Path]) -> list[tuple[str, list[str]]]:
    """(imported module, names) for every framescope import, at any depth, outside
    ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, list[str]]] = []

    def visit(node: ast.AST) -> None:
        if _is_type_checking(node):
            return
        if isinstance(node, ast.Import):
            found.extend((a.name, []) for a in node.names if a.name.startswith("framescope"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("framescope"):
            names = [a.name for a in node.names]
            subs = [f"{node.module}.{n}" for n in names if f"{node.module}.{n}" in modules]
            found.extend((s, []) for s in subs)
            rest = [n for n in names if f"{node.module}.{n}" not in modules]
            if rest or not subs:
                found.append((node.module, rest))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def test_no_import_circles() -> None:
    modules = _modules()
    graph = {name: {m for m, _ in _imports(path, modules) if m in modules and m != name}
             for name, path in modules.items()}
    # a module also runs its package's __init__ on import, but that is not an edge it chose;
    # the package __init__ files only re-export from below, which the graph already holds
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name)
    assert cycles == [], "import circles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_private_names_imported_across_modules() -> None:
    modules = _modules()
    bad = []
    for name, path in modules.items():
        for module, names in _imports(path, modules):
            bad.extend(f"{name} imports {module}.{n}" for n in names
                       if n.startswith("_") and not n.endswith("__"))
    assert bad == []


def test_modules_stay_small() -> None:
    long = {name: n for name, path in _modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert set(long) <= set(LONG_MODULES), f"modules over {MAX_LINES} lines: {long}"


def test_nothing_heavy_happens_on_import() -> None:
    code = ("import sys, importlib, pkgutil, framescope\n"
            "for m in pkgutil.walk_packages(framescope.__path__, 'framescope.'):\n"
            "    if m.name not in ('framescope.ray_engine',):\n"
            "        importlib.import_module(m.name)\n"
            "heavy = sorted(k for k in ('torch', 'transformers', 'ray', 'onnxruntime', 'matplotlib.pyplot') "
            "if k in sys.modules)\n"
            "print(heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         timeout=300)
    assert out.stdout.strip() == "[]", out.stdout
