"""The import rules of docs/ARCHITECTURE.md, read from the code (ast): the packages follow the
pipeline door → store → model → ranking → retrain → service → web / cli, nothing imports a
package after its own, there are no import cycles, and modules and classes stay small."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "recommender"

#: The layers in pipeline order: a module may import its own layer and the ones before it.
LAYERS: list[tuple[str, set[str]]] = [
    ("foundation", {"config", "errors", "logs", "crypto", "text"}),
    ("door", {"door"}),
    ("store", {"store"}),
    ("model", {"model"}),
    ("ranking", {"ranking"}),
    ("retrain", {"retrain"}),
    ("service", {"service"}),
    ("web", {"web"}),
    ("cli", {"cli", "__main__"}),
]
RANK = {part: i for i, (_, parts) in enumerate(LAYERS) for part in parts}

#: Third-party libraries only one place may import.
OWNED = {
    "fastapi": {"web"},
    "starlette": {"web"},
    "uvicorn": {"cli"},
    "sqlalchemy": {"store"},
    "alembic": {"store"},
    "itsdangerous": {"web"},
    "distributed": {"retrain"},
}

MAX_MODULE_LINES = 650
MAX_CLASS_LINES = 320
#: Larger on purpose; docs/ARCHITECTURE.md says why.
SIZE_EXCEPTIONS: set[str] = set()


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(path: Path, name: str) -> set[str]:
    """Every module named by an import anywhere in the file (function-level ones too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            submodules = {f"{base}.{alias.name}" for alias in node.names} & MODULES.keys()
            found |= submodules  # "from recommender.ranking import charts" names a module
            if len(submodules) < len(node.names):
                found.add(base)
    return found


def _internal(target: str) -> str | None:
    """The module of ours an import names (its longest known prefix), or None."""
    while target:
        if target in MODULES:
            return target
        target = target.rpartition(".")[0]
    return None


def _part(module: str) -> str | None:
    """The top-level part of ``recommender.<part>…`` (None for the package itself)."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else None


GRAPH: dict[str, set[str]] = {}
THIRD_PARTY: dict[str, set[str]] = {}
for _name, _path in MODULES.items():
    names = _imports(_path, _name)
    GRAPH[_name] = {m for m in (_internal(t) for t in names if t.startswith("recommender")) if m and m != _name}
    THIRD_PARTY[_name] = {t.split(".")[0] for t in names if not t.startswith("recommender")}


def test_every_part_has_a_layer():
    """Each top-level module or package of recommender/ is placed in ARCHITECTURE's layers."""
    parts = {_part(m) for m in MODULES} - {None}
    assert parts <= set(RANK), f"not in LAYERS: {sorted(parts - set(RANK))}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _part(m)), ids=str)
def test_no_upward_imports(module):
    """A module imports only its own layer and the layers before it in the pipeline."""
    mine = RANK[_part(module)]
    upward = sorted(
        target for target in GRAPH[module]
        if _part(target) is not None and RANK[_part(target)] > mine
    )
    assert not upward, f"{module} ({LAYERS[mine][0]}) imports {upward}"


@pytest.mark.parametrize("library", sorted(OWNED), ids=str)
def test_libraries_stay_in_their_package(library):
    """FastAPI only in web/, SQLAlchemy only in store/, and so on."""
    users = sorted(m for m, libs in THIRD_PARTY.items() if library in libs and _part(m) not in OWNED[library])
    assert not users, f"{library} imported outside {sorted(OWNED[library])}: {users}"


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = defaultdict(int)  # 0 new, 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state[nxt] == 1:
                return stack[stack.index(nxt):] + [nxt]
            if state[nxt] == 0 and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state[node] == 0 and (found := visit(node)):
            return found
    return None


def test_no_module_import_cycles():
    """No module imports itself through others (function-level imports count too)."""
    graph = {m: {t for t in targets if t != "recommender"} for m, targets in GRAPH.items() if m != "recommender"}
    assert _cycle(graph) is None, " → ".join(_cycle(graph))


def test_no_package_import_cycles():
    """The packages' own graph is acyclic (within a layer as well)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for module, targets in GRAPH.items():
        for target in targets:
            a, b = _part(module), _part(target)
            if a and b and a != b:
                graph[a].add(b)
    assert _cycle(graph) is None, " → ".join(_cycle(graph))


@pytest.mark.parametrize("module", sorted(MODULES), ids=str)
def test_modules_and_classes_are_small(module):
    """No module over MAX_MODULE_LINES lines, no class over MAX_CLASS_LINES (ARCHITECTURE's exceptions aside)."""
    path = MODULES[module]
    rel = path.relative_to(ROOT).as_posix()
    if rel in SIZE_EXCEPTIONS:
        pytest.skip("an exception named in docs/ARCHITECTURE.md")
    source = path.read_text(encoding="utf-8")
    assert source.count("\n") <= MAX_MODULE_LINES, f"{rel}: {source.count(chr(10))} lines"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            size = node.end_lineno - node.lineno + 1
            assert size <= MAX_CLASS_LINES, f"{rel}: class {node.name} has {size} lines"


def test_architecture_names_every_package():
    """docs/ARCHITECTURE.md's package map names every package and top-level module."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    for part in sorted({_part(m) for m in MODULES} - {None, "__main__"}):
        is_package = (PACKAGE / part).is_dir()
        assert (f"{part}/" if is_package else f"{part}.py") in text, part
