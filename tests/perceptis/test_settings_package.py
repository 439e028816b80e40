"""Settings are plain assignments anyone can grep, one place each, all of them documented.

``perceptis/settings/`` reads each variable of the environment into the setting of its own name,
so ``grep -rn "^NAME =" perceptis/settings/`` finds every knob the README's configuration table
names, and the table names every knob the settings read.
"""

import ast
import re
from pathlib import Path

import pytest

from perceptis import settings as package

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "perceptis" / "settings"
# Variables of the table that are not settings, and the file that reads each.
READ_ELSEWHERE = {
    # Read straight into DATABASES: it holds the password, which Django's error reports hide
    # in DATABASES but would show in a setting named DATABASE_URL.
    "DATABASE_URL": "perceptis/settings/database.py",
    "GUNICORN_BIND": "gunicorn.conf.py",
    "GUNICORN_WORKER_CLASS": "gunicorn.conf.py",
    "GUNICORN_THREADS": "gunicorn.conf.py",
    "GUNICORN_TIMEOUT": "gunicorn.conf.py",
    "GUNICORN_GRACEFUL_TIMEOUT": "gunicorn.conf.py",
    "GUNICORN_ACCESS_LOG": "gunicorn.conf.py",
    "GUNICORN_ERROR_LOG": "gunicorn.conf.py",
    "GUNICORN_LOG_LEVEL": "gunicorn.conf.py",
    # bin/run's address.
    "HOST": "bin/run",
    "PORT": "bin/run",
    # prometheus-client reads it itself.
    "PROMETHEUS_MULTIPROC_DIR": "perceptis/metrics.py",
}


def _modules() -> dict[str, ast.Module]:
    return {path.name: ast.parse(path.read_text()) for path in sorted(PACKAGE.glob("*.py"))}


def _readme_variables() -> set[str]:
    section = (ROOT / "README.md").read_text().split("\n## Configuration\n")[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert len(rows) > 30, "the configuration table was not found"
    # The variables are the first column; the others may name settings as defaults.
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def _top_level_assignments(tree: ast.Module):
    """Yield ``(name, statement)`` for each name assigned at module level, under ifs too."""
    statements = list(tree.body)
    while statements:
        statement = statements.pop(0)
        if isinstance(statement, ast.If):
            statements += statement.body + statement.orelse
        targets = getattr(statement, "targets", None) or [getattr(statement, "target", None)]
        for target in targets:
            if isinstance(target, ast.Name):
                yield target.id, statement


def _environment_reads(tree: ast.Module):
    """Yield ``(variable, the setting it is assigned to)`` for each ``env.<type>("NAME")``."""
    for name, statement in _top_level_assignments(tree):
        for node in ast.walk(statement):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "env"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                yield node.args[0].value, name


def test_every_variable_of_the_readme_is_a_plain_assignment():
    sources = "\n".join(path.read_text() for path in PACKAGE.glob("*.py"))
    missing = []
    for name in sorted(_readme_variables()):
        if name in READ_ELSEWHERE:
            found = re.search(rf"\b{name}\b", (ROOT / READ_ELSEWHERE[name]).read_text()) is not None
        else:
            found = re.search(rf"^{name} = ", sources, re.M) is not None
        if not found:
            missing.append(name)
    assert missing == [], f"no `^NAME =` in perceptis/settings/ for: {missing}"


def test_every_variable_the_settings_read_is_in_the_readme():
    read = {variable for tree in _modules().values() for variable, _ in _environment_reads(tree)}
    assert read - _readme_variables() == set()


def test_each_variable_is_read_into_the_setting_of_its_name():
    renamed = [
        f"{module}: {setting} reads {variable}"
        for module, tree in _modules().items()
        for variable, setting in _environment_reads(tree)
        if variable != setting and variable not in READ_ELSEWHERE
    ]
    assert renamed == []


def test_each_setting_is_assigned_in_one_module():
    homes: dict[str, set[str]] = {}
    for module, tree in _modules().items():
        for name, _ in _top_level_assignments(tree):
            if name.isupper():
                homes.setdefault(name, set()).add(module)
    assert {name: sorted(m) for name, m in homes.items() if len(m) > 1} == {}


@pytest.mark.parametrize("module", sorted(path.name for path in PACKAGE.glob("*.py")))
def test_no_setting_is_made_out_of_sight(module):
    # globals().update(...) or setattr would add settings that no `grep "^NAME ="` finds.
    source = (PACKAGE / module).read_text()
    assert "globals()" not in source
    assert "setattr(" not in source


def test_every_setting_django_loads_is_found_by_its_assignment():
    sources = "\n".join(path.read_text() for path in PACKAGE.glob("*.py"))
    names = [name for name in dir(package) if name.isupper()]
    assert len(names) > 100
    hidden = [name for name in names if not re.search(rf"^{name} = ", sources, re.M)]
    assert hidden == []
