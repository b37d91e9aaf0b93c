"""The import direction of DESIGN: `checks` and `queue` never reach for the database or web."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import betteruptime

PACKAGE = Path(betteruptime.__file__).parent
FORBIDDEN = ("betteruptime.db", "betteruptime.api", "betteruptime.app", "betteruptime.config")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", ["checks", "queue"])
def test_layer_imports_no_database_web_or_settings(layer: str) -> None:
    files = sorted((PACKAGE / layer).glob("*.py"))
    assert files, f"no modules found in {layer}/"
    offending = {
        f"{path.name}: {name}"
        for path in files
        for name in _imports(path)
        if name.startswith(FORBIDDEN) or name.split(".")[0] in {"sqlalchemy", "fastapi"}
    }
    assert not offending, offending


def _package_imports(layer: str) -> set[str]:
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, f"no modules found in {layer}/"
    return {f"{path.relative_to(PACKAGE)}: {name}" for path in files for name in _imports(path)}


LOOPS = ("betteruptime.scheduler", "betteruptime.worker", "betteruptime.runtime")


def test_web_imports_neither_the_api_nor_the_loops() -> None:
    offending = {
        entry
        for entry in _package_imports("web")
        if entry.split(": ")[1].startswith(("betteruptime.api", "betteruptime.app", *LOOPS))
    }
    assert not offending, offending


def test_api_imports_neither_the_pages_nor_the_loops() -> None:
    offending = {
        entry
        for entry in _package_imports("api")
        if entry.split(": ")[1].startswith(("betteruptime.web", "betteruptime.app", *LOOPS))
    }
    assert not offending, offending


def test_the_shared_input_and_limit_modules_import_no_front_door() -> None:
    # inputs.py and ratelimit.py are what the API and the pages share: neither may lean on
    # one of them, or the other would inherit it.
    offending = {
        f"{name}: {imported}"
        for name in ("inputs.py", "ratelimit.py")
        for imported in _imports(PACKAGE / name)
        if imported.startswith(("betteruptime.api", "betteruptime.web", *LOOPS))
    }
    assert not offending, offending
