"""Input rules shared by the API and the web pages: input models and the checks needing settings.

Both front doors validate with exactly these, so a value the API refuses is refused by a
form with the same message, and the other way round.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from betteruptime.checks.targets import literal_host_blocked
from betteruptime.config import Settings
from betteruptime.db.models import URL_MAX_LENGTH
from betteruptime.rules.checks import MAX_INTERVAL_SECONDS, MAX_TIMEOUT_SECONDS, CheckKind

PASSWORD_MIN_LENGTH = 8
# argon2 hashes any length, but an unbounded password is free CPU for an attacker.
PASSWORD_MAX_LENGTH = 128
NAME_MAX_LENGTH = 200
MAX_STREAK_CHECKS = 100
MAX_REGIONS_REQUIRED = 100
MAX_REMINDER_MINUTES = 7 * 24 * 60

_EMAIL = re.compile(
    r"^[^@\s\x00-\x1f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)*[A-Za-z0-9-]{1,63}$"
)


def _check_email(value: str) -> str:
    # Deliberately simple: one @, a plausible local part and a dotted DNS name. Whether
    # mail is deliverable is not the API's business.
    if not _EMAIL.fullmatch(value) or "." not in value.rpartition("@")[2]:
        raise ValueError("must be an email address like name@example.com")
    return value.lower()


def _whole_number(value: Any) -> Any:
    # JSON Schema counts 60.0 as an integer, so the API does too; 60.5 and "60" stay errors.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Username = Annotated[
    str,
    Field(
        min_length=3,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="3-64 letters, digits, `_`, `.` or `-`, starting with a letter or digit",
        examples=["alice"],
    ),
]
Email = Annotated[
    str,
    Field(
        min_length=3,
        max_length=320,
        examples=["alice@example.com"],
        json_schema_extra={"format": "email"},
    ),
    AfterValidator(_check_email),
]
Password = Annotated[
    str,
    Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH),
]


class _Input(BaseModel):
    # Strict: "60" is not an interval and 1 is not `true`; unknown fields are mistakes.
    model_config = ConfigDict(extra="forbid", strict=True)


class UserRegister(_Input):
    username: Username
    email: Email
    password: Password


class UserLogin(_Input):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)]


class PasswordChange(_Input):
    current_password: Annotated[str, Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)]
    new_password: Password


Url = Annotated[
    str,
    Field(
        min_length=1,
        max_length=URL_MAX_LENGTH,
        description="http:// or https:// URL with a host and no credentials",
        examples=["https://example.com/health"],
    ),
]
Name = Annotated[str, Field(max_length=NAME_MAX_LENGTH)]
Interval = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_INTERVAL_SECONDS,
        description="Seconds between checks; at least MIN_INTERVAL_SECONDS (default 10)",
    ),
    BeforeValidator(_whole_number),
]
Timeout = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_TIMEOUT_SECONDS,
        description="Seconds a check may take; at most the interval",
    ),
    BeforeValidator(_whole_number),
]


MAX_CHANNELS_PER_WEBSITE = 50
# UUIDs arrive as JSON strings; strict mode would refuse a string for a UUID.
ChannelIds = Annotated[
    list[Annotated[uuid.UUID, Field(strict=False)]],
    Field(max_length=MAX_CHANNELS_PER_WEBSITE, description="Ids of your channels to notify"),
]

MAX_CHANNELS_PER_USER = 100
ChannelName = Annotated[str, Field(min_length=1, max_length=NAME_MAX_LENGTH)]
ChannelUrlField = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2048,
        description="An Apprise URL: mailto://, slack://, discord://, tgram://, ntfy://, "
        "json://, form://, … (see the README); stored encrypted, shown masked",
        examples=["json://hooks.example.com/uptime", "mailto://user:app-password@gmail.com"],
    ),
]


class ChannelCreate(_Input):
    name: ChannelName
    url: ChannelUrlField


def _channel_fields_not_nullable(schema: dict[str, Any]) -> None:
    for name in ("name", "url"):
        prop = schema["properties"][name]
        variants = [v for v in prop.pop("anyOf", []) if v.get("type") != "null"]
        if len(variants) == 1:
            prop.update(variants[0])
        prop.pop("default", None)


class ChannelUpdate(_Input):
    """Fields to change; an absent field keeps its value."""

    model_config = ConfigDict(json_schema_extra=_channel_fields_not_nullable)

    name: ChannelName | None = None
    url: ChannelUrlField | None = None

    @field_validator("name", "url", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be omitted but not null")
        return value


ConfirmationChecks = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_STREAK_CHECKS,
        description="Consecutive failing checks before a region counts as failing; "
        "null: CONFIRMATION_CHECKS (default 2)",
    ),
    BeforeValidator(_whole_number),
]
RecoveryChecks = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_STREAK_CHECKS,
        description="Consecutive good checks before a failing region counts as recovered; "
        "null: RECOVERY_CHECKS (default 2)",
    ),
    BeforeValidator(_whole_number),
]
RegionsRequired = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_REGIONS_REQUIRED,
        description="Failing regions that open an incident; "
        "null: a strict majority of the regions with a fresh result",
    ),
    BeforeValidator(_whole_number),
]
ReminderMinutes = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_REMINDER_MINUTES,
        description="Minutes between reminders while an incident is open and not "
        "acknowledged; null: no reminders",
    ),
    BeforeValidator(_whole_number),
]


class _Thresholds(_Input):
    confirmation_checks: ConfirmationChecks | None = None
    recovery_checks: RecoveryChecks | None = None
    regions_required: RegionsRequired | None = None
    reminder_minutes: ReminderMinutes | None = None


THRESHOLD_FIELDS = tuple(_Thresholds.model_fields)


Kind = Annotated[
    CheckKind,
    # Not strict: JSON carries the kind's value ("http"), never the enum itself.
    Field(
        strict=False,
        description="What the check does: http (the default), tcp, dns or heartbeat",
    ),
]


Options = Annotated[
    dict[str, Any],
    Field(description='The kind\'s options (see README "Kinds of checks"); omitted: defaults'),
]


class WebsiteCreate(_Thresholds):
    kind: Kind = CheckKind.HTTP
    url: Url | None = Field(default=None, description="Required for http; absent otherwise")
    options: Options | None = None
    name: Name | None = None
    interval_seconds: Interval | None = Field(
        default=None, description="Default DEFAULT_INTERVAL_SECONDS (180)"
    )
    timeout_seconds: Timeout | None = Field(
        default=None, description="Default DEFAULT_TIMEOUT_SECONDS (10)"
    )
    enabled: bool = True
    channel_ids: ChannelIds | None = Field(
        default=None, description="Default: every channel you have at creation time"
    )


_NOT_NULLABLE = ("url", "options", "interval_seconds", "timeout_seconds", "enabled", "channel_ids")


def _not_nullable_in_schema(schema: dict[str, Any]) -> None:
    # The fields are optional but not nullable; say so in OpenAPI, as `_not_null` enforces.
    for name in _NOT_NULLABLE:
        prop = schema["properties"][name]
        variants = [v for v in prop.pop("anyOf", []) if v.get("type") != "null"]
        if len(variants) == 1:
            prop.update(variants[0])
        prop.pop("default", None)


class WebsiteUpdate(_Thresholds):
    """Fields to change; an absent field keeps its value; `name: null` clears the name and
    a null threshold goes back to the default."""

    model_config = ConfigDict(json_schema_extra=_not_nullable_in_schema)

    url: Url | None = None
    options: Options | None = Field(default=None, description="Replaces all the options")
    name: Name | None = None
    interval_seconds: Interval | None = None
    timeout_seconds: Timeout | None = None
    enabled: bool | None = None
    channel_ids: ChannelIds | None = None

    @field_validator(
        "url",
        "options",
        "interval_seconds",
        "timeout_seconds",
        "enabled",
        "channel_ids",
        mode="before",
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Validators do not run on defaults, so this only refuses an explicit null.
        if value is None:
            raise ValueError("may be omitted but not null")
        return value


class InputError(Exception):
    """A value passed schema validation but breaks a rule that needs settings or the database."""

    def __init__(self, loc: Sequence[str | int], msg: str, type_: str = "value_error") -> None:
        super().__init__(msg)
        self.loc = tuple(loc)
        self.msg = msg
        self.type = type_

    def as_dict(self) -> dict[str, Any]:
        """Return the error in the same shape as a request validation error."""
        return {"loc": list(self.loc), "msg": self.msg, "type": self.type}


ALLOWED_SCHEMES = frozenset({"http", "https"})
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")


def validate_target_url(
    url: str, settings: Settings, loc: tuple[str, ...] = ("body", "url")
) -> str:
    """Return the URL when a check may target it; raise InputError (a 422) otherwise."""
    # The single gate for every URL a user gives, on create and on change.
    if len(url) > URL_MAX_LENGTH:
        raise InputError(loc, f"must be at most {URL_MAX_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise InputError(loc, "must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced "[" in the host
        raise InputError(loc, "is not a valid URL") from None
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise InputError(loc, "must start with http:// or https://")
    if "@" in parts.netloc:
        raise InputError(loc, "must not contain a username or password")
    host = parts.hostname
    if not host:
        raise InputError(loc, "must have a host")
    try:
        parts.port  # noqa: B018 - raises ValueError on a port outside 0-65535 or not a number
    except ValueError:
        raise InputError(loc, "has an invalid port") from None
    if not _valid_host(host, bracketed=parts.netloc.split(":")[0].startswith("[")):
        raise InputError(loc, "has an invalid host")
    # Refuse early what the checker would refuse anyway (it re-checks every address it
    # connects to, since a DNS name can point anywhere): 127.1, [::ffff:10.0.0.1], localhost.
    reason = literal_host_blocked(url, settings.target_policy)
    if reason is not None:
        raise InputError(loc, f"is not an allowed target: {reason}")
    return url


def _valid_host(host: str, *, bracketed: bool) -> bool:
    if bracketed:
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return False
        return True
    if host.isascii():
        labels = host.rstrip(".").split(".")
        return set(host) <= _HOST_CHARS and all(0 < len(label) <= 63 for label in labels)
    try:
        host.encode("idna")
    except UnicodeError:
        return False
    return True


def validate_schedule(interval_seconds: int, timeout_seconds: int, settings: Settings) -> None:
    """Raise InputError unless the interval and timeout fit the settings and each other."""
    if not settings.min_interval_seconds <= interval_seconds <= MAX_INTERVAL_SECONDS:
        raise InputError(
            ("body", "interval_seconds"),
            f"must be between {settings.min_interval_seconds} and {MAX_INTERVAL_SECONDS}",
        )
    if not 1 <= timeout_seconds <= settings.max_timeout_seconds:
        raise InputError(
            ("body", "timeout_seconds"), f"must be between 1 and {settings.max_timeout_seconds}"
        )
    if timeout_seconds > interval_seconds:
        raise InputError(("body", "timeout_seconds"), "must not exceed interval_seconds")


SLUG_MAX_LENGTH = 64
TITLE_MAX_LENGTH = 200
# A user may put every website they have on one page.
MAX_STATUS_PAGE_WEBSITES = 1000

Slug = Annotated[
    str,
    Field(
        min_length=1,
        max_length=SLUG_MAX_LENGTH,
        pattern=r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$",
        description="The page's address /s/{slug}: lower-case letters, digits and inner `-`",
        examples=["acme"],
    ),
]
Title = Annotated[str, Field(min_length=1, max_length=TITLE_MAX_LENGTH, examples=["Acme status"])]
# Ids arrive as JSON strings; strict mode would accept only UUID objects.
WebsiteIds = Annotated[
    list[Annotated[uuid.UUID, Field(strict=False)]],
    Field(max_length=MAX_STATUS_PAGE_WEBSITES, description="Websites shown, in this order"),
]


def _title_has_text(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("must not be blank")
    return value


def _unique_ids(value: list[uuid.UUID] | None) -> list[uuid.UUID] | None:
    if value is not None and len(set(value)) != len(value):
        raise ValueError("must not list a website twice")
    return value


class StatusPageCreate(_Input):
    title: Title
    slug: Slug
    website_ids: WebsiteIds = Field(default_factory=list)
    show_urls: bool = Field(default=False, description="Show each website's URL on the page")

    _title = field_validator("title")(_title_has_text)
    _ids = field_validator("website_ids")(_unique_ids)


class StatusPageUpdate(_Input):
    """Fields to change; an absent field keeps its value."""

    title: Title | None = None
    slug: Slug | None = None
    website_ids: WebsiteIds | None = None
    show_urls: bool | None = None

    _title = field_validator("title")(_title_has_text)
    _ids = field_validator("website_ids")(_unique_ids)

    @field_validator("title", "slug", "website_ids", "show_urls", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be omitted but not null")
        return value


def website_schedule(
    interval_seconds: int | None,
    timeout_seconds: int | None,
    settings: Settings,
    current: tuple[int, int] | None = None,
) -> tuple[int, int]:
    """Return the (interval, timeout) a website gets; raise InputError when they do not fit.

    Values not given keep `current` (a change) or take the defaults (a new website); a
    short interval given without a timeout gets a timeout that fits inside it.
    """
    if current is not None:
        interval = interval_seconds or current[0]
        timeout = timeout_seconds or current[1]
    else:
        interval = interval_seconds or settings.default_interval_seconds
        timeout = timeout_seconds or min(settings.default_timeout_seconds, interval)
    validate_schedule(interval, timeout, settings)
    return interval, timeout
