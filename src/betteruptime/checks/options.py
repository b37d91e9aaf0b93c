"""The options of each kind: validated on input, stored as compact JSON, read by checkers."""

from __future__ import annotations

import functools
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from betteruptime.checks.assertions import AssertionSyntaxError, parse_condition
from betteruptime.checks.targets import parse_ip_literal
from betteruptime.rules.checks import HTTP_METHODS, MAX_TIMEOUT_SECONDS, CheckKind
from betteruptime.rules.heartbeat import parse_schedule

MAX_HEADERS = 20
MAX_HEADER_VALUE = 2048
MAX_REQUEST_BODY = 10_240
MAX_ASSERTIONS = 20
DEFAULT_CERTIFICATE_EXPIRY_DAYS = (30, 14, 7, 1)
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$")
# Headers the client itself must own: framing and the connection. A user setting them
# could smuggle a second request or desynchronise the connection.
_RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer"}
)
_STATUS_RANGE = re.compile(r"^([1-5]\d\d)(?:-([1-5]\d\d))?$")
_HOST_NAME = re.compile(
    r"^(?=.{1,253}\.?$)(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?$"
)


class _Options(BaseModel):
    # Strict and closed, like every input of the API: unknown fields are mistakes.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _method(value: str) -> str:
    if value not in HTTP_METHODS:
        raise ValueError(f"must be one of {', '.join(HTTP_METHODS)}")
    return value


def _headers(value: dict[str, str]) -> dict[str, str]:
    if len(value) > MAX_HEADERS:
        raise ValueError(f"at most {MAX_HEADERS} headers")
    for name, text in value.items():
        if not _TOKEN.match(name):
            raise ValueError("a header name must be a token (letters, digits, - and the like)")
        if name.lower() in _RESERVED_HEADERS:
            raise ValueError(f"header {name} is set by the checker")
        if len(text) > MAX_HEADER_VALUE or any(c in text for c in "\r\n\x00"):
            raise ValueError(
                f"a header value must be one line of at most {MAX_HEADER_VALUE} characters"
            )
    return value


def _body(value: str) -> str:
    if len(value.encode()) > MAX_REQUEST_BODY:
        raise ValueError(f"at most {MAX_REQUEST_BODY} bytes")
    return value


def status_ranges(value: list[int | str]) -> tuple[tuple[int, int], ...]:
    """Return (low, high) status ranges; raise ValueError for anything not a code or range."""
    ranges = []
    for item in value:
        text = str(item) if isinstance(item, int) and not isinstance(item, bool) else item
        match = _STATUS_RANGE.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError('each entry is a status code (301) or a range ("200-299")')
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if high < low:
            raise ValueError(f"range {text} ends before it starts")
        ranges.append((low, high))
    return tuple(ranges)


def _expected_status(value: list[int | str]) -> list[int | str]:
    if not 1 <= len(value) <= 20:
        raise ValueError("give 1 to 20 codes or ranges")
    status_ranges(value)
    return value


def _condition(value: str) -> str:
    try:
        parse_condition(value)
    except AssertionSyntaxError as exc:
        raise ValueError(str(exc)) from None
    return value


def _expiry_days(value: list[int]) -> list[int]:
    if len(value) > 10 or any(not 1 <= d <= 365 for d in value):
        raise ValueError("at most 10 thresholds, each 1 to 365 days")
    return sorted(set(value), reverse=True)


def _host(value: str) -> str:
    if parse_ip_literal(value) is None and not _HOST_NAME.match(value):
        raise ValueError("must be a host name or an IP address")
    return value


def _dns_name(value: str) -> str:
    if parse_ip_literal(value) is not None or not _HOST_NAME.match(value):
        raise ValueError("must be a DNS name, not an IP address")
    return value


class HttpOptions(_Options):
    method: Annotated[str, AfterValidator(_method)] = "GET"
    headers: Annotated[dict[str, str], AfterValidator(_headers)] = Field(default_factory=dict)
    body: Annotated[str, AfterValidator(_body)] | None = None
    expected_status: Annotated[list[int | str], AfterValidator(_expected_status)] | None = None
    follow_redirects: bool = True
    keyword: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    keyword_mode: Literal["present", "absent"] = "present"
    keyword_case_sensitive: bool = False
    assertions: Annotated[
        list[Annotated[str, AfterValidator(_condition)]], Field(max_length=MAX_ASSERTIONS)
    ] = Field(default_factory=list)
    degraded_after_ms: Annotated[int, Field(ge=1, le=MAX_TIMEOUT_SECONDS * 1000)] | None = None
    certificate_expiry_days: Annotated[list[int], AfterValidator(_expiry_days)] = Field(
        default_factory=lambda: list(DEFAULT_CERTIFICATE_EXPIRY_DAYS)
    )


class TcpOptions(_Options):
    host: Annotated[str, Field(min_length=1, max_length=253), AfterValidator(_host)]
    port: Annotated[int, Field(ge=1, le=65535)]
    tls: bool = False
    degraded_after_ms: Annotated[int, Field(ge=1, le=MAX_TIMEOUT_SECONDS * 1000)] | None = None


RecordType = Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS"]


class DnsOptions(_Options):
    host: Annotated[str, Field(min_length=1, max_length=253), AfterValidator(_dns_name)]
    record_type: RecordType = "A"
    expected: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=255)]], Field(max_length=20)
    ] = Field(default_factory=list)
    expected_mode: Literal["any", "all"] = "any"


class HeartbeatOptions(_Options):
    period_seconds: Annotated[int, Field(ge=60, le=366 * 86_400)] | None = None
    cron: Annotated[str, Field(min_length=9, max_length=100)] | None = None
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = "UTC"
    grace_seconds: Annotated[int, Field(ge=60, le=31 * 86_400)] = 3600

    @model_validator(mode="after")
    def _one_schedule(self) -> HeartbeatOptions:
        # Exactly one of period or cron, and a cron expression and timezone that parse.
        parse_schedule(self.period_seconds, self.cron, self.timezone)
        return self


OPTIONS_OF: dict[CheckKind, type[_Options]] = {
    CheckKind.HTTP: HttpOptions,
    CheckKind.TCP: TcpOptions,
    CheckKind.DNS: DnsOptions,
    CheckKind.HEARTBEAT: HeartbeatOptions,
}


def validate_options(kind: CheckKind, raw: dict[str, Any] | None) -> _Options:
    """Return the kind's options from API input; raise pydantic's ValidationError."""
    return OPTIONS_OF[kind].model_validate(raw or {})


def dump_options(options: BaseModel) -> str | None:
    """Return options as compact JSON without defaults, or None when all are defaults."""
    text = options.model_dump_json(exclude_defaults=True)
    return None if text == "{}" else text


def public_options(kind: CheckKind, stored: str | None) -> dict[str, Any]:
    """Return every option of a stored website, defaults included (for responses)."""
    options: BaseModel = load_options(kind, stored)
    return options.model_dump(mode="json")


@functools.lru_cache(maxsize=8192)
def load_options(kind: CheckKind, stored: str | None) -> Any:
    """Return the options stored as JSON (or the defaults); raise ValueError if invalid."""
    # Jobs repeat the same few thousand option strings: parse each once per process.
    try:
        return OPTIONS_OF[kind].model_validate_json(stored or "{}")
    except ValidationError as exc:
        raise ValueError(f"invalid {kind.value} options") from exc


__all__ = [
    "DnsOptions",
    "HeartbeatOptions",
    "HttpOptions",
    "TcpOptions",
    "dump_options",
    "load_options",
    "public_options",
    "status_ranges",
    "validate_options",
]
