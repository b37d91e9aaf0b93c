"""Facts several layers rely on agree, because each has one name in one place."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest
from sqlalchemy import String

from betteruptime.checks.errors import CheckRefused, describe
from betteruptime.config import Settings, SettingsError, load_settings
from betteruptime.db.models import TickError, WebsiteStatus
from betteruptime.rules.checks import ERROR_MAX_LENGTH, MAX_TIMEOUT_SECONDS


def test_a_check_error_fits_the_error_columns() -> None:
    text = describe(CheckRefused("x" * 10_000))
    assert len(text) == ERROR_MAX_LENGTH
    # Ticks keep error texts once each in tick_error; the latest state keeps its own.
    for column in (TickError.__table__.c.text, WebsiteStatus.__table__.c.error):
        column_type = column.type
        assert isinstance(column_type, String)
        assert column_type.length == ERROR_MAX_LENGTH


def test_default_timeout_is_bounded_like_a_websites_timeout() -> None:
    assert Settings(default_timeout_seconds=MAX_TIMEOUT_SECONDS).default_timeout_seconds == 60
    with pytest.raises(SettingsError, match="DEFAULT_TIMEOUT_SECONDS"):
        load_settings(default_timeout_seconds=MAX_TIMEOUT_SECONDS + 1)


def test_target_policy_follows_the_settings() -> None:
    loopback = ip_address("127.0.0.1")
    assert Settings().target_policy.blocked_reason(loopback) is not None
    assert Settings(allow_private_targets=True).target_policy.blocked_reason(loopback) is None
    listed = Settings(allowed_target_networks=(ip_network("127.0.0.0/8"),)).target_policy
    assert listed.blocked_reason(loopback) is None
    assert listed.blocked_reason(ip_address("10.0.0.1")) is not None
