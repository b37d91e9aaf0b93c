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


@pytest.mark.parametrize("layer", ["checks", "queue", "notify"])
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


def test_only_notify_imports_apprise() -> None:
    # Apprise connects outside aiohttp; keeping it in one package keeps every send behind
    # that package's socket guard.
    offending = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.parent.name != "notify"
        and any(name.split(".")[0] == "apprise" for name in _imports(path))
    }
    assert not offending, offending


def test_alerting_never_imports_other_loops_api_or_web() -> None:
    forbidden = (
        "betteruptime.api",
        "betteruptime.app",
        "betteruptime.web",
        "betteruptime.scheduler",
        "betteruptime.worker",
        "betteruptime.runtime",
        "betteruptime.config",
    )
    offending = {
        f"{path.name}: {name}"
        for path in sorted((PACKAGE / "alerting").glob("*.py"))
        for name in _imports(path)
        if name.startswith(forbidden)
    }
    assert not offending, offending
