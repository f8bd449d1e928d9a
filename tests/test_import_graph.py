"""edgeprompt's import graph, read statically with `ast` (nothing is imported): no cycle among its modules, and
the composition root (`edgeprompt.app`, the Runtime) is imported only by the CLI, the TUI and itself.

Which imports count:
- for cycles, every import that runs: at module level AND inside functions. A function-level import of an
  edgeprompt module to dodge a cycle is still a cycle here; function-level imports of heavy third-party
  libraries are not edgeprompt modules and do not appear. Imports under `if TYPE_CHECKING:` never run and
  do not count for cycles.
- importing `a.b.c` also runs the packages `a.b` and `a` first (their `__init__`), unless the importer sits
  inside them already; those edges count too, so a package `__init__` that re-exports cannot hide a cycle.
- for who may import the composition root, every import counts, `TYPE_CHECKING` ones included: naming
  `Runtime` in a type hint is depending on it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "edgeprompt"
ROOT_MODULE = "edgeprompt.app"
# the CLI, the TUI and the composition root build or hold the Runtime
MAY_IMPORT_ROOT = ("edgeprompt.app", "edgeprompt.cli", "edgeprompt.commands", "edgeprompt.tui")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def imported(module: str, tree: ast.Module) -> list[tuple[str, bool]]:
    """(edgeprompt module named, whether it runs) for every import statement in `tree`."""
    out: list[tuple[str, bool]] = []
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST, runs: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and is_type_checking(child):
                for stmt in child.body:
                    visit_one(stmt, False)
                for stmt in child.orelse:
                    visit_one(stmt, runs)
            else:
                visit_one(child, runs)

    def visit_one(node: ast.AST, runs: bool) -> None:
        if isinstance(node, ast.Import):
            out.extend((a.name, runs) for a in node.names if a.name.startswith("edgeprompt"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            if base.startswith("edgeprompt"):
                # `from edgeprompt.x import y` names the module edgeprompt.x.y when there is one
                out.extend((f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base, runs) for a in node.names)
        else:
            visit(node, runs)

    visit(tree, True)
    return out


def resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(edges of imports that run, edges of every import) between edgeprompt modules."""
    runs: dict[str, set[str]] = {m: set() for m in MODULES}
    every: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for name, at_runtime in imported(module, ast.parse(path.read_text(encoding="utf-8"))):
            target = resolve(name)
            if target is None or target == module:
                continue
            parts = target.split(".")
            for i in range(2, len(parts) + 1):  # the packages on the way run first
                step = ".".join(parts[:i])
                if step in MODULES and step != module and not module.startswith(step + "."):
                    every[module].add(step)
                    if at_runtime:
                        runs[module].add(step)
    return runs, every


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


@pytest.fixture(scope="module")
def edges() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """graph(), read once for this file's tests (parsing every module takes a second or two); they only read it."""
    return graph()


def test_the_graph_sees_each_kind_of_import(edges: tuple[dict[str, set[str]], dict[str, set[str]]]) -> None:
    runs, _ = edges
    assert "edgeprompt.store.db" in runs["edgeprompt.store.migrate"]  # module level
    assert "edgeprompt.catalog.demo" in runs["edgeprompt.app"]  # inside a function
    typing_only = ast.parse("if TYPE_CHECKING:\n    from edgeprompt.app import Runtime\n")
    assert imported("edgeprompt.pipeline", typing_only) == [(ROOT_MODULE, False)]  # counts for who, not for cycles


def test_no_import_cycle_among_edgeprompt_modules(edges: tuple[dict[str, set[str]], dict[str, set[str]]]) -> None:
    runs, _ = edges
    assert cycles(runs) == []


def test_a_cycle_through_a_function_level_import_is_found() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]


def test_only_the_cli_the_tui_and_the_root_import_the_composition_root(
    edges: tuple[dict[str, set[str]], dict[str, set[str]]],
) -> None:
    _, every = edges
    importers = {m for m, targets in every.items() if ROOT_MODULE in targets}
    allowed = {m for m in importers if m in MAY_IMPORT_ROOT or m.startswith(tuple(f"{p}." for p in MAY_IMPORT_ROOT))}
    assert sorted(importers - allowed) == []
