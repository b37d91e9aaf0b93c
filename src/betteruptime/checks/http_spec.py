"""An http website's options compiled once for checking: status ranges, keyword, conditions."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from betteruptime.checks.assertions import Condition, Observation, evaluate, parse_condition
from betteruptime.checks.options import HttpOptions, load_options, status_ranges
from betteruptime.checks.result import TlsFacts
from betteruptime.rules.checks import CheckKind

_DEFAULT_RANGES = ((200, 399),)


@dataclass(frozen=True, slots=True)
class HttpSpec:
    """What to send and how to judge the answer."""

    method: str
    headers: dict[str, str] | None
    body: bytes | None
    follow_redirects: bool
    ranges: tuple[tuple[int, int], ...]
    keyword: str | None
    keyword_absent: bool
    keyword_case_sensitive: bool
    conditions: tuple[Condition, ...]
    degraded_after_ms: int | None

    @property
    def reads_body(self) -> bool:
        """Return True when judging needs the response body."""
        return self.keyword is not None or any(c.reads_body for c in self.conditions)

    def status_ok(self, code: int) -> bool:
        """Return True when the status code is one of the expected ones."""
        return any(low <= code <= high for low, high in self.ranges)

    def judge(
        self,
        code: int,
        response_time_ms: int | None,
        body: bytes | None,
        tls: TlsFacts | None,
        now: datetime,
    ) -> str | None:
        """Return why the answer fails the website's conditions, or None when it passes."""
        if self.conditions:
            expiry = None
            if tls is not None:
                expiry = int((tls.expires_at - now).total_seconds() * 1000)
            failure = evaluate(self.conditions, Observation(code, response_time_ms, expiry, body))
            if failure is not None:
                return failure
        if not self.status_ok(code):
            return f"status {code}"
        if self.keyword is not None:
            text = (body or b"").decode("utf-8", "replace")
            found = (
                self.keyword in text
                if self.keyword_case_sensitive
                else self.keyword.casefold() in text.casefold()
            )
            if found and self.keyword_absent:
                return "keyword present"
            if not found and not self.keyword_absent:
                return "keyword absent"
        return None


@functools.lru_cache(maxsize=8192)
def http_spec(options: str) -> HttpSpec:
    """Return the spec of stored http options; raise ValueError when they are invalid."""
    parsed: HttpOptions = load_options(CheckKind.HTTP, options)
    return HttpSpec(
        method=parsed.method,
        headers=dict(parsed.headers) or None,
        body=parsed.body.encode() if parsed.body is not None else None,
        follow_redirects=parsed.follow_redirects,
        ranges=status_ranges(parsed.expected_status) if parsed.expected_status else _DEFAULT_RANGES,
        keyword=parsed.keyword,
        keyword_absent=parsed.keyword_mode == "absent",
        keyword_case_sensitive=parsed.keyword_case_sensitive,
        conditions=tuple(parse_condition(text) for text in parsed.assertions),
        degraded_after_ms=parsed.degraded_after_ms,
    )
