"""The package's import graph: layers that only import downwards, and no cycles.

Every import counts, at the top of a module or inside a function (a deferred import is
still a dependency). The layers, from the ground up, are those of docs/design.md.
"""

import ast
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# Each top-level part of the package and its floor; a part may import its own modules and
# any part on a lower floor, never one on its own floor or above.
FLOORS = {
    "statelab": 0,  # the package itself: lazy exports only
    "statelab._xla_flags": 0,
    "statelab.errors": -1,  # the one error type, beneath everything
    "statelab.defaults": 0,
    "statelab.files": 0,
    "statelab.layout": 0,
    "statelab.records": 0,
    "statelab.engine": 1,
    "statelab.stats": 1,
    "statelab.spec": 2,
    "statelab.data": 3,
    "statelab.execution": 4,
    "statelab.studies": 5,
    "statelab.outputs": 6,
    "statelab.report": 7,
    "statelab.api": 8,
    "statelab.commands": 9,
    "statelab.cli": 10,
    "statelab.__main__": 11,
}


def modules() -> dict[str, Path]:
    found = {}
    for path in (SRC / "statelab").rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            # `from package import module` depends on the module; `from module import name`
            # on the module.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def part(name: str) -> str:
    """The top-level part (a key of FLOORS) that module ``name`` belongs to."""
    while name not in FLOORS:
        name = name.rpartition(".")[0]
        assert name, "every module of the package has a floor in FLOORS"
    return name


GRAPH = {name: imports(name, path, modules()) for name, path in modules().items()}


def test_every_module_has_a_floor():
    assert {part(name) for name in GRAPH} <= set(FLOORS)


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_imports_only_point_down(name):
    mine = part(name)
    upward = [
        target
        for target in sorted(GRAPH[name])
        if part(target) != mine and FLOORS[part(target)] >= FLOORS[mine] and mine != "statelab"
    ]
    assert not upward, f"{name} (floor {FLOORS[mine]}) imports {upward}"


def test_no_import_cycles():
    # Depth-first search for a back edge; reports the first cycle found.
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(GRAPH[node]):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(GRAPH):
        if node not in state and (cycle := visit(node)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_the_checks_catch_a_cycle_and_an_upward_import(tmp_path):
    """The graph reader sees a deferred import and a relative one (so the tests above could
    fail): a module importing upwards inside a function, and a pair importing each other."""
    pkg = tmp_path / "statelab"
    (pkg / "engine").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "engine" / "__init__.py").write_text("")
    (pkg / "engine" / "a.py").write_text("def f():\n    from statelab import cli\n")
    (pkg / "engine" / "b.py").write_text("from . import a\n")
    (pkg / "cli.py").write_text("import statelab.engine.b\n")
    known = {"statelab": pkg / "__init__.py", "statelab.engine": pkg / "engine" / "__init__.py",
             "statelab.engine.a": pkg / "engine" / "a.py", "statelab.engine.b": pkg / "engine" / "b.py",
             "statelab.cli": pkg / "cli.py"}  # fmt: skip
    graph = {name: imports(name, path, known) for name, path in known.items()}
    assert graph["statelab.engine.a"] == {"statelab.cli"}  # deferred, and upwards
    assert graph["statelab.engine.b"] == {"statelab.engine.a"}  # relative
    assert graph["statelab.cli"] == {"statelab.engine.b"}  # a cycle through a and b


@pytest.mark.parametrize("name", sorted(set(GRAPH) - {"statelab.__main__"}))
def test_every_module_imports(name):
    """A name imported from a module that no longer has it fails here, not in a user's run."""
    importlib.import_module(name)
