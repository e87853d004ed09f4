"""The server's shape, read from its source (docs/architecture.md): dependencies point one way, from the
top (``portal``) through the apps to the plugins and the kernel; no module grows past 500 lines.

Every ``import`` counts, wherever it stands: at module level, inside a function and under
``if TYPE_CHECKING:``, since a dependency that only a late call or a type checker follows is still one.
Migrations are left out: they name other apps' historical states, which is what they are for.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Bottom to top: each package may import only those before it (and, for the apps, nothing of portal).
LAYERS = ["core", "drivers", "projects", "backends", "jobs", "webhooks", "portal"]
MAY_IMPORT = {name: set(LAYERS[:i]) for i, name in enumerate(LAYERS)}
MAX_LINES = 500


def source_files(package: str) -> list[Path]:
    return sorted(path for path in (ROOT / package).rglob("*.py") if "migrations" not in path.parts)


def first_party_imports(path: Path) -> set[str]:
    """The top-level first-party packages ``path`` imports (relative imports stay in its own package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names if name.split(".")[0] in MAY_IMPORT)
    return found


def package_graph() -> dict[str, dict[str, list[str]]]:
    """Package -> the other packages it imports -> the files that do."""
    graph: dict[str, dict[str, list[str]]] = {}
    for package in LAYERS:
        edges = graph.setdefault(package, {})
        for path in source_files(package):
            for imported in first_party_imports(path) - {package}:
                edges.setdefault(imported, []).append(str(path.relative_to(ROOT)))
    return graph


def test_every_package_is_read():
    """The layers name every top-level package with code, so none escapes these checks."""
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests", "benchmarks"}
    assert packages == set(LAYERS)


@pytest.mark.parametrize("package", LAYERS)
def test_imports_point_down(package):
    """A package imports only the layers below it: core nothing, drivers only core, nothing the top."""
    upward = {
        imported: files for imported, files in package_graph()[package].items() if imported not in MAY_IMPORT[package]
    }
    assert upward == {}


def test_no_cycle_among_packages():
    graph = {package: set(edges) for package, edges in package_graph().items()}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        raise AssertionError(f"import cycle among packages: {' -> '.join(reversed(exc.args[1]))}") from None


def test_no_module_over_500_lines():
    """Server packages, tests and benchmarks alike (the client's own test checks the client)."""
    lengths = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for package in [*LAYERS, "tests", "benchmarks"]
        for path in source_files(package)
    }
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}
