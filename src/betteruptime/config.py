"""Settings read from the environment once, at the edge (cli.py), then passed down."""

from __future__ import annotations

import base64
import ipaddress
import os
import secrets
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import limits
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from betteruptime.checks.dns import parse_resolver
from betteruptime.checks.targets import TargetPolicy
from betteruptime.rules.checks import MAX_INTERVAL_SECONDS, MAX_TIMEOUT_SECONDS

MIN_JWT_SECRET_BYTES = 32
JWT_SECRET_FILE = "jwt_secret"  # noqa: S105 - a file name, not a secret
CHANNEL_KEY_FILE = "channel_key"


class Settings(BaseSettings):
    """Every setting of every component; each component uses only what it needs."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    data_dir: Path = Path("./data")
    database_url: str | None = None
    redis_addr: str | None = None
    redis_url: str | None = None
    region_id: str | None = None
    worker_id: str | None = None

    jwt_secret: SecretStr | None = None
    jwt_lifetime_seconds: int = Field(default=86_400, ge=60, le=30 * 86_400)

    min_interval_seconds: int = Field(default=10, ge=1, le=MAX_INTERVAL_SECONDS)
    default_interval_seconds: int = Field(default=180, ge=1, le=MAX_INTERVAL_SECONDS)
    default_timeout_seconds: int = Field(default=10, ge=1, le=MAX_TIMEOUT_SECONDS)
    max_timeout_seconds: int = Field(default=MAX_TIMEOUT_SECONDS, ge=1, le=MAX_TIMEOUT_SECONDS)
    max_websites_per_user: int = Field(default=1000, ge=1)

    stream_key: str = Field(default="Betteruptime:Websites", min_length=1)
    stream_maxlen: int = Field(default=1_000_000, ge=1000)
    claim_idle_seconds: float = Field(default=90, gt=0)
    max_deliveries: int = Field(default=5, ge=1)
    worker_concurrency: int = Field(default=500, ge=1, le=20_000)
    worker_batch_size: int = Field(default=500, ge=1, le=10_000)
    pusher_batch_size: int = Field(default=1000, ge=1, le=10_000)
    pusher_poll_seconds: float = Field(default=1.0, gt=0, le=60)

    confirmation_checks: int = Field(default=2, ge=1, le=100)
    recovery_checks: int = Field(default=2, ge=1, le=100)
    recheck_seconds: float = Field(default=10, ge=1, le=3600)
    region_failure_ratio: float = Field(default=0.5, gt=0, le=1)
    alerter_poll_seconds: float = Field(default=1.0, gt=0, le=60)

    allow_private_targets: bool = False
    allowed_target_networks: Annotated[
        tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...], NoDecode
    ] = ()
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_redirects: int = Field(default=5, ge=0, le=20)
    # Resolvers of dns checks ("ip" or "ip:port", comma-separated); empty: the system's.
    dns_resolvers: Annotated[tuple[str, ...], NoDecode] = ()

    max_request_bytes: int = Field(default=64 * 1024, ge=1024)
    login_rate_limit: str = "10/minute"
    # Public status pages are the same for every visitor: each is rendered at most once
    # per this many seconds per API process (0: on every request).
    status_page_cache_seconds: float = Field(default=10, ge=0, le=300)
    register_rate_limit: str = "5/minute"
    # Test sends per user: each one sends a real message through someone else's service.
    channel_test_rate_limit: str = "5/minute"

    channel_key: SecretStr | None = None
    public_url: str = "http://127.0.0.1:8080"
    notify_timeout_seconds: float = Field(default=15, ge=1, le=120)
    notify_max_attempts: int = Field(default=5, ge=1, le=20)
    notify_retry_seconds: float = Field(default=20, gt=0, le=3600)
    notify_concurrency: int = Field(default=20, ge=1, le=500)
    notify_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    notify_lease_seconds: float = Field(default=60, gt=0, le=3600)
    tick_retention_days: int = Field(default=30, ge=1, le=3650)
    hourly_retention_days: int = Field(default=400, ge=1, le=36500)
    daily_retention_days: int | None = Field(default=None, ge=1, le=36500)
    housekeeping_interval_seconds: float = Field(default=300, ge=1, le=86_400)

    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_token: SecretStr | None = None
    log_level: str = "INFO"

    @field_validator("allowed_target_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
            return tuple(ipaddress.ip_network(p, strict=False) for p in parts)
        return value

    @field_validator("dns_resolvers", mode="before")
    @classmethod
    def _split_resolvers(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = tuple(p.strip() for p in value.split(",") if p.strip())
        for resolver in value:
            try:
                parse_resolver(resolver)
            except ValueError:
                raise ValueError(f"not an address or address:port: {resolver[:64]!r}") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        normalize_database_url(value)
        return value

    @field_validator("redis_addr")
    @classmethod
    def _check_redis_addr(cls, value: str | None) -> str | None:
        if not value:
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port, e.g. 127.0.0.1:6379")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("login_rate_limit", "register_rate_limit", "channel_test_rate_limit")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        try:
            parsed = limits.parse_many(value)
        except ValueError:
            parsed = []
        if not parsed or any(item.amount < 1 for item in parsed):
            raise ValueError(
                "must be a rate like 10/minute, or several separated by ';' "
                "(e.g. 10/minute;100/hour)"
            )
        return value

    @field_validator("channel_key")
    @classmethod
    def _check_channel_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value().strip() == "":
            return None
        for key in value.get_secret_value().split(","):
            if not valid_fernet_key(key.strip()):
                raise ValueError(
                    "must be one or more comma-separated Fernet keys (32 bytes, url-safe "
                    "base64); generate one with: python3 -c 'import base64, os; "
                    "print(base64.urlsafe_b64encode(os.urandom(32)).decode())'"
                )
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL, e.g. https://uptime.example.com")
        if parts.query or parts.fragment or "@" in parts.netloc:
            raise ValueError("must be a base URL without credentials, query or fragment")
        return value.rstrip("/")

    @field_validator("daily_retention_days", mode="before")
    @classmethod
    def _unset_daily_retention(cls, value: Any) -> Any:
        # DAILY_RETENTION_DAYS= (empty) means keep daily rollups forever, like unset.
        return None if value == "" else value

    @field_validator("metrics_token")
    @classmethod
    def _check_metrics_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value() == "":
            return None
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return level

    @field_validator("jwt_secret")
    @classmethod
    def _check_jwt_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value() == "":
            return None
        if len(value.get_secret_value().encode()) < MIN_JWT_SECRET_BYTES:
            raise ValueError(
                f"must be at least {MIN_JWT_SECRET_BYTES} bytes; "
                "generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return value

    @model_validator(mode="after")
    def _check_intervals(self) -> Settings:
        if self.default_interval_seconds < self.min_interval_seconds:
            raise ValueError("DEFAULT_INTERVAL_SECONDS must be >= MIN_INTERVAL_SECONDS")
        if self.default_timeout_seconds > self.max_timeout_seconds:
            raise ValueError("DEFAULT_TIMEOUT_SECONDS must be <= MAX_TIMEOUT_SECONDS")
        return self

    @model_validator(mode="after")
    def _check_claim_idle(self) -> Settings:
        # A message is claimed from its worker once pending this long. A check may run
        # for its whole timeout before its result is written and acknowledged, so a claim
        # time not above the longest timeout takes over checks that are still running:
        # every slow website would be checked twice.
        if self.claim_idle_seconds <= self.max_timeout_seconds:
            raise ValueError(
                f"CLAIM_IDLE_SECONDS ({self.claim_idle_seconds:g}) must be above "
                f"MAX_TIMEOUT_SECONDS ({self.max_timeout_seconds}), the longest check timeout "
                "a website may have; otherwise checks still running are claimed and run twice"
            )
        return self

    @model_validator(mode="after")
    def _check_lease(self) -> Settings:
        # A claimed delivery is hidden from other notifiers for the lease; it must outlast
        # one send (Apprise gives up at the timeout), so only a notifier that died mid-send
        # leaves a delivery for another to take over.
        if self.notify_lease_seconds < self.notify_timeout_seconds + 1:
            raise ValueError("NOTIFY_LEASE_SECONDS must exceed NOTIFY_TIMEOUT_SECONDS by 1 s")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """Return the async SQLAlchemy URL, defaulting to a SQLite file in DATA_DIR."""
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'betteruptime.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        """Return True when the database is SQLite (embedded mode)."""
        return self.sqlalchemy_url.startswith("sqlite")

    @property
    def target_policy(self) -> TargetPolicy:
        """Return where checks may connect, the one policy for the API and the workers."""
        return TargetPolicy(
            allow_private=self.allow_private_targets,
            allowed_networks=self.allowed_target_networks,
        )

    @property
    def redis_connection_url(self) -> str | None:
        """Return a redis:// URL from REDIS_URL or REDIS_ADDR, or None when Redis is not set."""
        if self.redis_url:
            return self.redis_url
        if self.redis_addr:
            return f"redis://{self.redis_addr}/0"
        return None

    @property
    def consumer_name(self) -> str:
        """Return WORKER_ID, or a name unique to this host and process."""
        return self.worker_id or f"{socket.gethostname()}-{os.getpid()}"


def normalize_database_url(url: str) -> str:
    """Return the async SQLAlchemy form of a postgres://, postgresql:// or sqlite:// URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in {"postgres", "postgresql", "postgresql+asyncpg"}:
        if not parts.hostname and not parts.path.strip("/") and "host=" not in parts.query:
            raise ValueError("a PostgreSQL URL needs a host or a database name")
        # asyncpg knows `ssl`, not libpq's `sslmode`; users paste libpq URLs.
        query = [("ssl" if k == "sslmode" else k, v) for k, v in parse_qsl(parts.query)]
        return urlunsplit(("postgresql+asyncpg", parts.netloc, parts.path, urlencode(query), ""))
    if scheme in {"sqlite", "sqlite+aiosqlite"}:
        if not parts.path or parts.path == "/":
            raise ValueError("a SQLite URL needs a file path, e.g. sqlite:///data/betteruptime.db")
        # Swap the scheme only: urlunsplit would collapse `sqlite:////abs/path` to `//abs/path`.
        return "sqlite+aiosqlite" + url[len(parts.scheme) :]
    raise ValueError("must start with postgresql://, postgres:// or sqlite:///")


def load_settings(**overrides: Any) -> Settings:
    """Return settings from the environment; raise SettingsError with a readable message."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = "_".join(str(p) for p in error["loc"]).upper() or "settings"
            lines.append(f"  {name}: {error['msg']}")
        raise SettingsError("invalid configuration:\n" + "\n".join(lines)) from None


class SettingsError(Exception):
    """A setting has a value the service cannot start with."""


def valid_fernet_key(key: str) -> bool:
    """Return True when key is 32 bytes in url-safe base64, the form Fernet takes."""
    try:
        return len(base64.urlsafe_b64decode(key.encode("ascii"))) == 32 and len(key) == 44
    except (ValueError, UnicodeEncodeError):
        return False


def _generated_secret(data_dir: Path, name: str, make: Callable[[], str]) -> str:
    """Return the secret stored in DATA_DIR/name, creating it (mode 0600) when missing."""
    path = data_dir / name
    data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Write a private temp file, then link it into place: link() fails if another
        # process got there first, and nobody ever reads a half-written secret.
        tmp = path.with_name(f".{name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(make() + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def resolve_jwt_secret(settings: Settings) -> tuple[str, bool]:
    """Return the JWT secret and whether it was generated into DATA_DIR (not set by env)."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value(), False
    path = settings.data_dir / JWT_SECRET_FILE
    secret = _generated_secret(
        settings.data_dir, JWT_SECRET_FILE, lambda: secrets.token_urlsafe(48)
    )
    if len(secret.encode()) < MIN_JWT_SECRET_BYTES:
        raise SettingsError(f"{path} holds a secret shorter than {MIN_JWT_SECRET_BYTES} bytes")
    return secret, True


def resolve_channel_keys(settings: Settings) -> tuple[tuple[str, ...], bool]:
    """Return the channel URL keys (the first encrypts) and whether they were generated."""
    if settings.channel_key is not None:
        keys = tuple(k.strip() for k in settings.channel_key.get_secret_value().split(","))
        return keys, False
    path = settings.data_dir / CHANNEL_KEY_FILE
    key = _generated_secret(
        settings.data_dir,
        CHANNEL_KEY_FILE,
        lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii"),
    )
    if not valid_fernet_key(key):
        raise SettingsError(f"{path} does not hold a Fernet key")
    return (key,), True
