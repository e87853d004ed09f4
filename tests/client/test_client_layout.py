"""The client package's shape, read from its source: its modules import one another without a cycle,
none grows past 500 lines, and none imports the server's code (the client talks to it over HTTP only).

Every ``import`` counts, wherever it stands: at module level, inside a function (the lazy imports that
keep qiskit and dimod off the command line's path) and under ``if TYPE_CHECKING:``, since a cycle
that only type checkers or a late call follow is still a cycle.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

PACKAGE = "portal_client"
SOURCE = Path(__file__).resolve().parents[2] / "client" / PACKAGE
SERVER_PACKAGES = {"core", "portal", "jobs", "projects", "drivers", "backends", "webhooks"}
MAX_LINES = 500


def modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the package (``portal_client`` is its ``__init__``)."""
    found = {}
    for path in sorted(SOURCE.rglob("*.py")):
        parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported_names(module: str, path: Path) -> set[str]:
    """The absolute name of everything ``module`` imports: ``from X import name`` is an import of
    ``X.name`` where that is a module (``from portal_client import errors``), else of ``X``."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    known = modules()
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(part for part in [*anchor, base] if part)
            for alias in node.names:
                names.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return names


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    known = modules()
    return {
        module: {name for name in imported_names(module, path) if name in known and name != module}
        for module, path in known.items()
    }


def test_the_package_has_the_modules_this_test_reads():
    assert {PACKAGE, f"{PACKAGE}.client", f"{PACKAGE}.job", f"{PACKAGE}.cli"} <= set(modules())


def test_no_import_cycle():
    try:
        TopologicalSorter(import_graph()).prepare()
    except CycleError as exc:
        # graphlib lists the cycle from each module to one that imports it; reversed, each imports the next.
        cycle = " -> ".join(reversed(exc.args[1]))
        raise AssertionError(f"import cycle among the client's modules: {cycle}") from None


def test_no_module_over_500_lines():
    lengths = {module: len(path.read_text(encoding="utf-8").splitlines()) for module, path in modules().items()}
    assert {module: n for module, n in lengths.items() if n > MAX_LINES} == {}


def test_no_server_package_is_imported():
    offending = {
        module: sorted(name for name in imported_names(module, path) if name.split(".")[0] in SERVER_PACKAGES)
        for module, path in modules().items()
    }
    assert {module: names for module, names in offending.items() if names} == {}
