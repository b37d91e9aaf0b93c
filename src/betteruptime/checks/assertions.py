"""A small condition language for HTTP checks: parsed once, evaluated without eval.

A condition is `LEFT OP RIGHT`: LEFT is a placeholder — `[STATUS]`, `[RESPONSE_TIME]`
(milliseconds), `[CERTIFICATE_EXPIRATION]` (milliseconds left), `[BODY]` optionally
followed by a JSON path such as `.items[0].ok` — or `len(...)` of one; OP is one of
`== != < <= > >=`; RIGHT is a literal: a number, a duration (`500ms`, `30s`, `15m`,
`72h`, `7d`), `true`, `false`, `null`, a "quoted string" or a bare word.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

MAX_CONDITION_LENGTH = 200
_PLACEHOLDERS = ("STATUS", "RESPONSE_TIME", "CERTIFICATE_EXPIRATION", "BODY")
_OPERATORS = ("==", "!=", "<=", ">=", "<", ">")
_DURATION_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_NAME = re.compile(r"[A-Za-z0-9_\-]+")
# Observed values in errors are cut short: a body field may be long, and errors are stored.
_SHOWN = 40
_MISSING = object()


class AssertionSyntaxError(ValueError):
    """A condition that does not parse; the message names the position (1-based)."""

    def __init__(self, position: int, message: str) -> None:
        super().__init__(f"position {position}: {message}")
        self.position = position


@dataclass(frozen=True, slots=True)
class Observation:
    """What one HTTP check saw, as the conditions read it."""

    status: int | None
    response_time_ms: int | None
    certificate_expiration_ms: int | None
    body: bytes | None


@dataclass(frozen=True, slots=True)
class Condition:
    """One parsed condition."""

    text: str
    placeholder: str
    path: tuple[str | int, ...]
    length: bool
    operator: str
    literal: Any
    literal_text: str

    @property
    def reads_body(self) -> bool:
        """Return True when evaluating needs the response body."""
        return self.placeholder == "BODY"

    def failure(self, observation: Observation, parsed_body: Any = _MISSING) -> str | None:
        """Return None when the condition holds, else the error saying what was seen."""
        value, shown = self._observe(observation, parsed_body)
        if value is not _MISSING and _compare(value, self.operator, self.literal):
            return None
        return f"assertion {self.text} failed: {shown}"

    def _observe(self, observation: Observation, parsed_body: Any) -> tuple[Any, str]:
        if self.placeholder == "STATUS":
            value: Any = observation.status
        elif self.placeholder == "RESPONSE_TIME":
            value = observation.response_time_ms
        elif self.placeholder == "CERTIFICATE_EXPIRATION":
            value = observation.certificate_expiration_ms
            if value is None:
                return _MISSING, "no certificate"
        else:
            value = _walk_body(observation.body, parsed_body, self.path)
            if value is _MISSING:
                return _MISSING, "missing" if self.path else "no body"
        if value is None and self.placeholder != "BODY":
            return _MISSING, "none"
        if self.length:
            if not isinstance(value, str | list | dict | bytes):
                return _MISSING, "not a list, object or string"
            value = len(value)
        if self.placeholder == "BODY" and not self.path and not self.length:
            # The whole body may hold anything; it is compared, never shown.
            body = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            return body.strip(), f"body of {len(observation.body or b'')} bytes"
        return value, _show(value)


def parse_condition(text: str) -> Condition:
    """Return the parsed condition; raise AssertionSyntaxError naming the position."""
    if len(text) > MAX_CONDITION_LENGTH:
        raise AssertionSyntaxError(MAX_CONDITION_LENGTH + 1, "condition too long")
    pos = _skip_spaces(text, 0)
    length = False
    if text.startswith("len(", pos):
        length = True
        pos += 4
    placeholder, path, pos = _parse_placeholder(text, pos)
    if length:
        pos = _skip_spaces(text, pos)
        if not text.startswith(")", pos):
            raise AssertionSyntaxError(pos + 1, "expected ')'")
        pos += 1
    pos = _skip_spaces(text, pos)
    operator = next((op for op in _OPERATORS if text.startswith(op, pos)), None)
    if operator is None:
        raise AssertionSyntaxError(pos + 1, "expected one of == != < <= > >=")
    pos = _skip_spaces(text, pos + len(operator))
    raw = text[pos:].strip()
    if not raw:
        raise AssertionSyntaxError(pos + 1, "expected a value")
    literal = _parse_literal(raw, pos)
    if operator not in ("==", "!=") and not isinstance(literal, int | float):
        raise AssertionSyntaxError(pos + 1, f"{operator} needs a number or a duration")
    numeric = placeholder in ("RESPONSE_TIME", "CERTIFICATE_EXPIRATION", "STATUS") or length
    if numeric and (not isinstance(literal, int | float) or isinstance(literal, bool)):
        raise AssertionSyntaxError(pos + 1, "expected a number or a duration")
    left = f"len({_left_text(placeholder, path)})" if length else _left_text(placeholder, path)
    return Condition(
        text=f"{left} {operator} {raw}",
        placeholder=placeholder,
        path=path,
        length=length,
        operator=operator,
        literal=literal,
        literal_text=raw,
    )


def _skip_spaces(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] == " ":
        pos += 1
    return pos


def _parse_placeholder(text: str, pos: int) -> tuple[str, tuple[str | int, ...], int]:
    if not text.startswith("[", pos):
        raise AssertionSyntaxError(pos + 1, "expected a placeholder such as [STATUS]")
    end = text.find("]", pos)
    name = text[pos + 1 : end] if end != -1 else ""
    if name not in _PLACEHOLDERS:
        raise AssertionSyntaxError(
            pos + 1,
            "unknown placeholder; use [STATUS], [RESPONSE_TIME], [BODY] or "
            "[CERTIFICATE_EXPIRATION]",
        )
    pos = end + 1
    path: list[str | int] = []
    while pos < len(text) and text[pos] in ".[":
        if name != "BODY":
            raise AssertionSyntaxError(pos + 1, "only [BODY] takes a path")
        if text[pos] == ".":
            match = _NAME.match(text, pos + 1)
            if match is None:
                raise AssertionSyntaxError(pos + 2, "expected a field name")
            path.append(match.group())
            pos = match.end()
        else:
            close = text.find("]", pos)
            index = text[pos + 1 : close] if close != -1 else ""
            if not index.isdigit() or len(index) > 6:
                raise AssertionSyntaxError(pos + 2, "expected a list index such as [0]")
            path.append(int(index))
            pos = close + 1
        if len(path) > 16:
            raise AssertionSyntaxError(pos, "path too deep")
    return name, tuple(path), pos


def _parse_literal(raw: str, pos: int) -> Any:
    if raw.startswith('"'):
        if len(raw) < 2 or not raw.endswith('"') or '"' in raw[1:-1]:
            raise AssertionSyntaxError(pos + 1, "unterminated string")
        return raw[1:-1]
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if _NUMBER.match(raw):
        number = float(raw)
        return int(number) if number.is_integer() and "." not in raw else number
    duration = _DURATION.match(raw)
    if duration:
        return float(duration.group(1)) * _DURATION_MS[duration.group(2)]
    if any(c in raw for c in '[]()=<>!"') or any(c.isspace() for c in raw):
        raise AssertionSyntaxError(pos + 1, "a value with spaces or symbols needs quotes")
    return raw


def _left_text(placeholder: str, path: tuple[str | int, ...]) -> str:
    parts = [f"[{placeholder}]"]
    parts.extend(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    return "".join(parts)


def parse_body(body: bytes | None) -> Any:
    """Return the body as JSON, or a marker for a body that is absent or not JSON."""
    if not body:
        return _MISSING
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return _MISSING


def _walk_body(body: bytes | None, parsed: Any, path: tuple[str | int, ...]) -> Any:
    if not path:
        return body if body is not None else _MISSING
    value = parse_body(body) if parsed is _MISSING else parsed
    for step in path:
        if isinstance(step, int):
            if not (isinstance(value, list) and step < len(value)):
                return _MISSING
            value = value[step]
        else:
            if not (isinstance(value, dict) and step in value):
                return _MISSING
            value = value[step]
    return value


def _compare(value: Any, operator: str, literal: Any) -> bool:
    if literal is None or isinstance(literal, bool):
        if literal is None:
            equal = value is None
        else:
            spelled = "true" if literal else "false"
            equal = value is literal or (isinstance(value, str) and value.lower() == spelled)
        return equal if operator == "==" else not equal
    if isinstance(literal, int | float):
        number = _as_number(value)
        if number is None:
            return operator == "!="
        return _order(number, operator, float(literal))
    # A text literal: JSON numbers and booleans compare by their JSON spelling.
    text = value if isinstance(value, str) else json.dumps(value)
    same: bool = text == literal
    return same if operator == "==" else not same


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return float(value)
    return None


def _order(a: float, operator: str, b: float) -> bool:
    if operator == "==":
        return a == b
    if operator == "!=":
        return a != b
    if operator == "<":
        return a < b
    if operator == "<=":
        return a <= b
    if operator == ">":
        return a > b
    return a >= b


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def evaluate(conditions: tuple[Condition, ...], observation: Observation) -> str | None:
    """Return the error of the first condition that fails, or None when all hold."""
    parsed: Any = _MISSING
    if any(c.reads_body and c.path for c in conditions):
        parsed = parse_body(observation.body)
    for condition in conditions:
        failure = condition.failure(observation, parsed)
        if failure is not None:
            return failure
    return None
