"""The code's dependencies run one way, as the README's code map says.

Every import counts, also those inside functions, ``TYPE_CHECKING`` blocks and admin modules.
Migrations and tests are left out: migrations name models of other apps by label.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Lowest first: a package may import only packages before it in this list (and itself).
LAYERS = [
    "perceptis",
    "accounts",
    "billing",
    "apikeys.keys",
    "apikeys.usage",
    "apikeys.projects",
    "apikeys",  # the app's own modules: models, admin, apps, management commands
    "webhooks",
    "exposure",
    "jobs",
    "alerts",
]


def _package(module: str) -> str | None:
    """Return the layer a dotted module belongs to, or None for a third-party module."""
    parts = module.split(".")
    if parts[0] == "apikeys" and len(parts) > 1 and f"apikeys.{parts[1]}" in LAYERS:
        return f"apikeys.{parts[1]}"
    return parts[0] if parts[0] in LAYERS else None


def _source_files() -> list[Path]:
    files = []
    for app in sorted({layer.split(".")[0] for layer in LAYERS}):
        files += [p for p in sorted((ROOT / app).rglob("*.py")) if "migrations" not in p.parts]
    return files


def _imports(path: Path, source: str):
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            yield name, node.lineno


def edges(sources: dict[Path, str] | None = None) -> set[tuple[str, str, str]]:
    """Return ``(from layer, to layer, "file:line")`` for every import across layers."""
    if sources is None:
        sources = {path: path.read_text() for path in _source_files()}
    found = set()
    for path, text in sources.items():
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for imported, line in _imports(path, text):
            source, target = _package(module), _package(imported)
            if target is not None and source != target:
                found.add((source, target, f"{path.relative_to(ROOT)}:{line}"))
    return found


def test_the_base_package_imports_no_app():
    upward = sorted(where for source, _, where in edges() if source == "perceptis")
    assert upward == [], f"perceptis/ imports an app: {upward}"


def test_every_import_points_down_the_layers():
    upward = sorted(
        f"{where}: {source} -> {target}"
        for source, target, where in edges()
        if LAYERS.index(target) > LAYERS.index(source)
    )
    assert upward == [], "imports against the layer order:\n" + "\n".join(upward)


@pytest.mark.parametrize(
    "module, layer",
    [
        ("jobs.api", "jobs"),
        ("apikeys.keys.models", "apikeys.keys"),
        ("apikeys.usage.middleware", "apikeys.usage"),
        ("apikeys.models", "apikeys"),
        ("django.apps", None),
    ],
)
def test_modules_are_placed_in_their_layer(module, layer):
    assert _package(module) == layer


def test_an_import_inside_a_function_is_found():
    probe = ROOT / "perceptis" / "probe.py"
    found = edges({probe: "def f():\n    from jobs.models import Job\n"})
    assert found == {("perceptis", "jobs", "perceptis/probe.py:2")}


# --- Inside an app: no module imports itself through others ------------------------------------


def _module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def module_graph(sources: dict[Path, str] | None = None) -> dict[str, set[str]]:
    """Return each module's imports of our modules (``from a import b`` names ``a.b`` when
    that is a module), also those inside functions."""
    if sources is None:
        sources = {path: path.read_text() for path in _source_files()}
    modules = {_module_name(path): path for path in sources}

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {module: set() for module in modules}
    for module, path in modules.items():
        for imported, _ in _imports(path, sources[path]):
            target = resolve(imported)
            # A package's own modules are imported through it, not by it: not an edge back.
            if target is not None and target != module and not module.startswith(target + "."):
                graph[module].add(target)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected groups of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return cycles


def test_no_module_imports_itself_through_others():
    assert import_cycles(module_graph()) == []


def test_a_circle_through_an_import_inside_a_function_is_found():
    api, events = ROOT / "jobs" / "probe_api.py", ROOT / "jobs" / "probe_events.py"
    graph = module_graph(
        {
            api: "from jobs.probe_events import publish\n",
            events: "def publish():\n    from jobs.probe_api import body\n",
        }
    )
    assert import_cycles(graph) == [["jobs.probe_api", "jobs.probe_events"]]
