"""Checks of websites: plain values in, CheckResult out; no database, queue or settings."""

from betteruptime.checks.http import HttpChecker
from betteruptime.checks.result import CheckResult
from betteruptime.checks.targets import TargetPolicy, literal_host_blocked, parse_ip_literal

__all__ = ["CheckResult", "HttpChecker", "TargetPolicy", "literal_host_blocked", "parse_ip_literal"]
