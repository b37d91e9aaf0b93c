"""Settings: URLs as users write them, clear refusals, and the generated JWT secret."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from betteruptime.config import (
    Settings,
    SettingsError,
    load_settings,
    normalize_database_url,
    resolve_channel_keys,
    resolve_jwt_secret,
)
from betteruptime.notify.crypto import ChannelCipher
from betteruptime.rules.checks import MAX_TIMEOUT_SECONDS


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/app", "postgresql+asyncpg://u:p@db:5432/app"),
        ("postgresql://u@db/app", "postgresql+asyncpg://u@db/app"),
        ("postgresql://u@db/app?sslmode=require", "postgresql+asyncpg://u@db/app?ssl=require"),
        ("sqlite:///data/bu.db", "sqlite+aiosqlite:///data/bu.db"),
        ("sqlite:////var/lib/bu.db", "sqlite+aiosqlite:////var/lib/bu.db"),
    ],
)
def test_database_urls_are_accepted_as_users_write_them(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


@pytest.mark.parametrize("bad", ["mysql://db/app", "sqlite://", "not a url", "postgres://"])
def test_unsupported_database_urls_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"must start with|needs"):
        normalize_database_url(bad)


def test_default_database_is_sqlite_in_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.is_sqlite
    assert settings.sqlalchemy_url == f"sqlite+aiosqlite:///{tmp_path / 'betteruptime.db'}"
    assert settings.redis_connection_url is None


def test_redis_addr_becomes_a_url_and_redis_url_wins() -> None:
    assert Settings(redis_addr="10.1.2.3:6380").redis_connection_url == "redis://10.1.2.3:6380/0"
    both = Settings(redis_addr="a:1", redis_url="redis://b:2/3")
    assert both.redis_connection_url == "redis://b:2/3"


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"redis_addr": "localhost"}, "REDIS_ADDR"),
        ({"redis_url": "http://x"}, "REDIS_URL"),
        ({"database_url": "mysql://x/y"}, "DATABASE_URL"),
        ({"jwt_secret": "too-short"}, "JWT_SECRET"),
        ({"min_interval_seconds": 0}, "MIN_INTERVAL_SECONDS"),
        ({"log_level": "LOUD"}, "LOG_LEVEL"),
        ({"allowed_target_networks": "10.0.0.0/33"}, "ALLOWED_TARGET_NETWORKS"),
        ({"channel_key": "not-a-fernet-key"}, "CHANNEL_KEY"),
        ({"public_url": "ftp://uptime.example.com"}, "PUBLIC_URL"),
        ({"notify_max_attempts": 0}, "NOTIFY_MAX_ATTEMPTS"),
    ],
)
def test_bad_values_name_the_setting(overrides: dict[str, object], names: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(**overrides)
    assert names in str(caught.value)


def test_allowed_networks_parse_from_a_comma_list() -> None:
    settings = Settings.model_validate({"allowed_target_networks": "10.0.0.0/8, 192.168.1.7"})
    assert [str(n) for n in settings.allowed_target_networks] == ["10.0.0.0/8", "192.168.1.7/32"]


def test_generated_jwt_secret_is_private_stable_and_strong(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    secret, generated = resolve_jwt_secret(settings)
    again, _ = resolve_jwt_secret(settings)
    path = tmp_path / "data" / "jwt_secret"

    assert generated
    assert secret == again
    assert len(secret.encode()) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["jwt_secret"]


def test_set_jwt_secret_is_used_and_nothing_is_written(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, jwt_secret="x" * 40)
    assert resolve_jwt_secret(settings) == ("x" * 40, False)
    assert not (tmp_path / "jwt_secret").exists()


def test_cli_refuses_a_bad_setting_with_a_clear_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "betteruptime", "migrate"],
        env={"DATABASE_URL": "mysql://db/app", "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_generated_channel_key_is_private_stable_and_a_fernet_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    keys, generated = resolve_channel_keys(settings)
    again, _ = resolve_channel_keys(settings)
    path = tmp_path / "data" / "channel_key"

    assert generated
    assert keys == again and len(keys) == 1
    ChannelCipher(keys).decrypt(ChannelCipher(keys).encrypt("json://h/x"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_set_channel_keys_are_used_first_one_encrypting(tmp_path: Path) -> None:
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings = Settings(data_dir=tmp_path, channel_key=f"{new}, {old}")
    assert resolve_channel_keys(settings) == ((new, old), False)
    assert not (tmp_path / "channel_key").exists()


def test_public_url_loses_its_trailing_slash() -> None:
    assert Settings(public_url="https://up.example.com/").public_url == "https://up.example.com"


@pytest.mark.parametrize(
    ("overrides", "shown"),
    [
        ({}, None),  # the defaults hold the rule: 90 s above 60 s
        ({"claim_idle_seconds": 61}, None),
        (
            {"claim_idle_seconds": 60},
            "CLAIM_IDLE_SECONDS (60) must be above MAX_TIMEOUT_SECONDS (60)",
        ),
        (
            {"claim_idle_seconds": 30},
            "CLAIM_IDLE_SECONDS (30) must be above MAX_TIMEOUT_SECONDS (60)",
        ),
        (
            {"claim_idle_seconds": 4, "max_timeout_seconds": 5, "default_timeout_seconds": 5},
            "CLAIM_IDLE_SECONDS (4) must be above MAX_TIMEOUT_SECONDS (5)",
        ),
        ({"claim_idle_seconds": 4, "max_timeout_seconds": 3, "default_timeout_seconds": 3}, None),
    ],
)
def test_claim_idle_must_be_above_the_longest_check_timeout(
    overrides: dict[str, object], shown: str | None
) -> None:
    if shown is None:
        load_settings(**overrides)
        return
    with pytest.raises(SettingsError) as caught:
        load_settings(**overrides)
    assert shown in str(caught.value)


def test_the_longest_timeout_setting_is_capped_by_the_api_limit() -> None:
    # The API's limit is MAX_TIMEOUT_SECONDS itself (rules.checks): one name, one place.
    assert Settings().max_timeout_seconds == MAX_TIMEOUT_SECONDS
    with pytest.raises(SettingsError, match="MAX_TIMEOUT_SECONDS"):
        load_settings(max_timeout_seconds=MAX_TIMEOUT_SECONDS + 1, claim_idle_seconds=3600)
    with pytest.raises(SettingsError, match="DEFAULT_TIMEOUT_SECONDS must be <= MAX_TIMEOUT"):
        load_settings(max_timeout_seconds=5, claim_idle_seconds=6)


def test_dns_resolvers_are_addresses_with_optional_ports() -> None:
    assert Settings(dns_resolvers="127.0.0.1:5353, [::1]:53,192.0.2.1").dns_resolvers == (
        "127.0.0.1:5353",
        "[::1]:53",
        "192.0.2.1",
    )
    with pytest.raises(SettingsError, match=r"DNS_RESOLVERS|dns_resolvers"):
        load_settings(dns_resolvers="resolver.example.com")
