"""The architecture stays readable: no import cycle, no overlong function or module.

Read from the source text (``ast``), so the checks cover every import, at module level or
inside a function: an import moved into a function still closes a cycle here.

The exemption sets name the units that are known offenders today and are being split; an
entry is removed when its unit is fixed (the test fails on a stale entry, so the sets only
shrink) and any new offender fails the test.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Source folders and the package name each installs as.
PACKAGES = {"coarseopt": "coarseopt", "solvers": "coarseopt_solvers"}
MAX_FUNCTION_LINES = 120
MAX_MODULE_LINES = 850

# Known offenders, each to be removed from its set when its unit is split.
EXEMPT_MODULES: set[str] = set()
EXEMPT_FUNCTIONS: set[str] = set()
EXEMPT_CYCLES: set[frozenset[str]] = set()


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the packages."""
    out = {}
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not _is_package(module):
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(module: str, tree: ast.AST) -> set[str]:
    """The modules of the packages that ``module`` imports, anywhere in its text."""
    found = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            origin = _resolve(module, node)
            names = [origin + "." + a.name for a in node.names] + [origin]
        for name in names:
            # the longest prefix that is a module: `from pkg import sub` targets pkg.sub
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
                break
    return found


def _graph() -> dict[str, set[str]]:
    return {name: _targets(name, ast.parse(path.read_text())) for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(frozenset(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _function_lengths() -> dict[str, int]:
    """Lines of every function and method (its docstring excluded), by dotted name."""
    out = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())

        def walk(node: ast.AST, prefix: str) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines = child.end_lineno - child.lineno + 1
                    first = child.body[0]
                    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(
                        first.value.value, str
                    ):
                        lines -= first.end_lineno - first.lineno + 1
                    out[f"{prefix}.{child.name}"] = lines
                    walk(child, f"{prefix}.{child.name}")
                elif isinstance(child, ast.ClassDef):
                    walk(child, f"{prefix}.{child.name}")

        walk(tree, module)
    return out


def test_the_checks_see_the_packages():
    graph = _graph()
    assert "coarseopt_solvers.local_search" in graph and "coarseopt.solver" in graph
    assert "coarseopt.solver" in graph["coarseopt_solvers.local_search"]
    # the cycle finder finds a planted cycle
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset("abc")]


def test_no_import_cycle():
    cycles = set(_cycles(_graph()))
    new = [sorted(c) for c in cycles - EXEMPT_CYCLES]
    assert not new, f"import cycles (modules import downward only): {new}"
    stale = [sorted(c) for c in EXEMPT_CYCLES - cycles]
    assert not stale, f"exempt cycles that are gone: remove them from EXEMPT_CYCLES: {stale}"


def test_the_core_never_imports_the_plugins():
    graph = _graph()
    bad = sorted(f"{a} -> {b}" for a, targets in graph.items() if a.startswith("coarseopt.")
                 or a == "coarseopt" for b in targets if b.startswith("coarseopt_solvers"))
    assert not bad, bad


def test_no_function_over_the_limit():
    lengths = _function_lengths()
    long = {name for name, lines in lengths.items() if lines > MAX_FUNCTION_LINES}
    new = sorted(f"{name} ({lengths[name]} lines)" for name in long - EXEMPT_FUNCTIONS)
    assert not new, f"functions over {MAX_FUNCTION_LINES} lines (docstring excluded): {new}"
    stale = sorted(EXEMPT_FUNCTIONS - long)
    assert not stale, f"exempt functions now short enough: remove them from EXEMPT_FUNCTIONS: {stale}"


def test_no_module_over_the_limit():
    lines = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    long = {name for name, count in lines.items() if count > MAX_MODULE_LINES}
    new = sorted(f"{name} ({lines[name]} lines)" for name in long - EXEMPT_MODULES)
    assert not new, f"modules over {MAX_MODULE_LINES} lines: {new}"
    stale = sorted(EXEMPT_MODULES - long)
    assert not stale, f"exempt modules now short enough: remove them from EXEMPT_MODULES: {stale}"
