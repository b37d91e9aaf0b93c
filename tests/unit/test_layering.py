"""The import rules of the layout (DESIGN's map), checked on every module of the package.

Each rule is one line of data: a room (a package or module under `betteruptime`), and
either the only project rooms it may import, or the names it must never import. A new
room is a new line. Imports anywhere in a module count, including those inside functions
and under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import betteruptime

PACKAGE = Path(betteruptime.__file__).parent
ROOT = "betteruptime"

LOOPS = frozenset({"scheduler", "worker", "alerting"})
# Frameworks of the outer layers: the pure and inner layers stay importable without them.
WEB_AND_SQL = frozenset({"sqlalchemy", "fastapi", "starlette", "alembic"})


@dataclass(frozen=True)
class Rule:
    """What the modules of one room may import."""

    room: str
    # When set: the only project rooms the room may import (besides itself).
    only: frozenset[str] | None = None
    # Project rooms (bare names) or third-party top-level packages it must never import.
    never: frozenset[str] = frozenset()
    # Modules (rooms or third-party packages) only this room may import.
    sole_importer_of: frozenset[str] = frozenset()


def rule(
    room: str,
    *,
    only: set[str] | None = None,
    never: set[str] | frozenset[str] = frozenset(),
    sole_importer_of: set[str] | frozenset[str] = frozenset(),
) -> Rule:
    return Rule(
        room,
        None if only is None else frozenset(only),
        frozenset(never),
        frozenset(sole_importer_of),
    )


RULES = [
    rule("rules", only=set(), never=WEB_AND_SQL),
    rule("redact", only=set()),
    rule("log", only={"redact"}),
    rule("checks", only={"rules", "retry", "log"}, never=WEB_AND_SQL),
    rule("queue", only={"rules", "retry", "log"}, never=WEB_AND_SQL),
    # Channel URLs and sends: shared by the API (validation, test sends) and the notifier.
    # Apprise connects outside aiohttp, so only here, behind the socket guard.
    rule(
        "notify",
        only={"checks", "rules", "retry", "log", "redact"},
        never=WEB_AND_SQL,
        sole_importer_of={"apprise"},
    ),
    # db also keeps its hands off FastAPI: the web pages to come share its queries.
    rule("db", only={"rules"}, never={"fastapi", "starlette"}),
    rule("scheduler", never=(LOOPS - {"scheduler"}) | {"api", "web", "app", "runtime", "cli"}),
    rule("worker", never=(LOOPS - {"worker"}) | {"api", "web", "app", "runtime", "cli"}),
    rule("alerting", never=(LOOPS - {"alerting"}) | {"api", "web", "app", "runtime", "cli"}),
    rule("api", never=LOOPS | {"web", "app", "runtime", "cli"}),
    # Pages read through db's query functions, never over HTTP (not even from our own API).
    rule("web", never=LOOPS | {"api", "app", "runtime", "cli", "httpx", "aiohttp", "requests"}),
    # What the API and the pages share: neither door may lean on one of them.
    rule("inputs", never=LOOPS | {"api", "web", "app", "runtime", "cli"}),
    rule("ratelimit", never=LOOPS | {"api", "web", "app", "runtime", "cli"}),
    rule("routes", never=LOOPS | {"api", "web", "app", "runtime", "cli"}),
    rule("cli", sole_importer_of={"runtime"}),
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(module: str, source: str, *, is_package: bool = False) -> set[str]:
    """Return every module name the source imports, relative imports made absolute."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")
                anchor = package if is_package else package[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            # `from betteruptime import db` imports the room db.
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _room(name: str) -> str | None:
    """Return the project room a module name belongs to, or None outside the project."""
    parts = name.split(".")
    if parts[0] != ROOT or len(parts) < 2:
        return None
    return parts[1]


def violations(module: str, imported: set[str]) -> list[str]:
    """Return each broken rule as `module imports name (rule)`; empty when all hold."""
    own = _room(module)
    found: list[str] = []
    for r in RULES:
        for name in sorted(imported):
            room = _room(name)
            top = name.split(".")[0]
            if own == r.room:
                if r.only is not None and room is not None and room not in r.only | {own}:
                    found.append(f"{module} imports {name} (only {sorted(r.only)} for {own})")
                if (room if room is not None else top) in r.never and room != own:
                    found.append(f"{module} imports {name} ({own} never imports it)")
            elif (room if room is not None else top) in r.sole_importer_of and room != own:
                found.append(f"{module} imports {name} (only {r.room} may)")
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[_module_name(p) for p in MODULES])
def test_module_follows_the_import_rules(path: Path) -> None:
    module = _module_name(path)
    imported = imports_of(module, path.read_text(), is_package=path.name == "__init__.py")
    assert violations(module, imported) == []


def test_every_ruled_room_that_exists_has_modules() -> None:
    # A typo in a rule's room would silently rule nothing.
    rooms = {_room(_module_name(p)) for p in MODULES}
    assert {"rules", "checks", "queue", "db", "scheduler", "worker", "api", "cli"} <= rooms
    unknown = {r.room for r in RULES} - rooms - {"alerting", "web"}
    assert not unknown, f"rules for rooms that do not exist: {unknown}"


def _breaking_import(r: Rule) -> tuple[str, str]:
    """Return (module, imported name) that breaks rule r."""
    if r.sole_importer_of:
        other = "api" if r.room != "api" else "worker"
        return f"{ROOT}.{other}.x", _qualified(sorted(r.sole_importer_of)[0])
    if r.never:
        return f"{ROOT}.{r.room}.x", _qualified(sorted(r.never)[0])
    assert r.only is not None
    outside = sorted({"api", "db", "config", "worker"} - r.only - {r.room})[0]
    return f"{ROOT}.{r.room}.x", f"{ROOT}.{outside}.y"


def _qualified(name: str) -> str:
    project_rooms = {_room(_module_name(p)) for p in MODULES} | LOOPS | {"web", "retry"}
    return f"{ROOT}.{name}.y" if name in project_rooms else f"{name}.y"


@pytest.mark.parametrize("r", RULES, ids=[r.room for r in RULES])
def test_each_rule_catches_a_synthetic_violation(r: Rule) -> None:
    module, name = _breaking_import(r)
    assert violations(module, {name}), f"{module} importing {name} went unnoticed"
    # And the same module without that import is clean.
    assert violations(module, set()) == []


def test_imports_inside_functions_and_relative_imports_are_seen() -> None:
    source = "def f():\n    from ..db import models\n    import sqlalchemy\n"
    names = imports_of(f"{ROOT}.checks.http", source)
    assert f"{ROOT}.db.models" in names and "sqlalchemy" in names
    assert len(violations(f"{ROOT}.checks.http", names)) >= 2
