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
    "apikeys.alerts",
    "apikeys",  # the app's own modules: models, admin, apps, management commands
    "webhooks",
    "exposure",
    "jobs",
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
