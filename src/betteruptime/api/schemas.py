"""Request and response bodies of the HTTP API."""

from __future__ import annotations

import re
import uuid
from datetime import date as date_type
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from betteruptime.checks.options import public_options
from betteruptime.db.models import URL_MAX_LENGTH
from betteruptime.rules.checks import MAX_INTERVAL_SECONDS, MAX_TIMEOUT_SECONDS, CheckKind
from betteruptime.rules.status import Status

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


def _iso_time(value: Any) -> Any:
    # Pydantic would read "1700000000" as a Unix time; the documented form is ISO 8601 only.
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("must be an ISO 8601 time, e.g. 2030-01-01T00:00:00Z")
    return value


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
IsoTime = Annotated[datetime, BeforeValidator(_iso_time)]

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


class ErrorResponse(BaseModel):
    """The body of every 4xx/5xx except validation errors."""

    detail: str


class ValidationErrorItem(BaseModel):
    """One invalid value: where it is (`loc`), why (`msg`) and a machine-readable `type`."""

    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorResponse(BaseModel):
    """The body of a 422."""

    detail: list[ValidationErrorItem]


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


class UserToken(BaseModel):
    """A user and a fresh bearer token for them."""

    id: uuid.UUID
    username: str
    email: str
    token: str


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


IncidentState = Literal["open", "acknowledged", "resolved"]


class WebsitePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: CheckKind
    url: str
    options: dict[str, Any] = Field(description="Every option of the kind, defaults included")
    ping_key: str | None = Field(
        default=None, description="Heartbeats: the secret of `/ping/{ping_key}`"
    )
    name: str | None
    interval_seconds: int
    timeout_seconds: int
    enabled: bool
    created_at: datetime
    next_check_at: datetime
    confirmation_checks: int | None = Field(description="null: the CONFIRMATION_CHECKS default")
    recovery_checks: int | None = Field(description="null: the RECOVERY_CHECKS default")
    regions_required: int | None = Field(
        description="null: a strict majority of the regions with a fresh result"
    )
    reminder_minutes: int | None = Field(description="null: no reminders")
    channel_ids: list[uuid.UUID] = Field(default_factory=list)

    @field_validator("options", mode="before")
    @classmethod
    def _stored_options(cls, value: Any, info: ValidationInfo) -> Any:
        # Read from a row: the stored compact JSON (or NULL) becomes every option.
        if value is None or isinstance(value, str):
            return public_options(info.data["kind"], value)
        return value


class WebsitePage(BaseModel):
    """One page of the caller's websites, oldest first."""

    items: list[WebsitePublic]
    total: int
    limit: int
    offset: int


class RegionTick(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    region_id: str
    status: Status
    status_code: int | None
    response_time_ms: int | None
    error: str | None
    checked_at: datetime


class TickPublic(RegionTick):
    """One stored check; `scheduled_at` is the slot it was checked for (ticks are paged by it)."""

    scheduled_at: datetime


class TickPage(BaseModel):
    """Ticks newest first; pass `next_cursor` as `cursor` for the next page (null: no more)."""

    items: list[TickPublic]
    next_cursor: str | None = Field(
        description="Where the next page starts; never skips ticks that share a time"
    )
    next_before: datetime | None = Field(
        description="The last tick's time, for `before`: skips ticks sharing that exact time"
    )


class RegionStatus(RegionTick):
    """A region's latest check; `status` is UNKNOWN once that check is stale."""


class IncidentCause(BaseModel):
    """What the failing checks said when the incident opened."""

    error: str | None = None
    status_code: int | None = None
    regions: list[str] = Field(default_factory=list)


class IncidentPublic(BaseModel):
    """A confirmed outage; `resolved_by` is null when it resolved by itself."""

    id: uuid.UUID
    website_id: uuid.UUID
    state: IncidentState
    started_at: datetime = Field(description="The first failing check of the confirming streak")
    detected_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: uuid.UUID | None
    resolved_at: datetime | None
    resolved_by: uuid.UUID | None
    cause: IncidentCause
    duration_seconds: float = Field(description="Until resolved, or until now while unresolved")


class DeliveryAttemptPublic(BaseModel):
    """One attempt to send a notification: `error` is short, the channel's secrets masked."""

    at: datetime
    ok: bool
    error: str | None
    elapsed_ms: int


class DeliveryPublic(BaseModel):
    """A notification of one event to one channel, and every attempt to send it."""

    channel_id: uuid.UUID
    channel_name: str
    channel_scheme: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None = Field(
        description="When it is tried next; null unless pending"
    )
    last_error: str | None
    delivered_at: datetime | None
    log: list[DeliveryAttemptPublic]


class IncidentEventPublic(BaseModel):
    """One step of an incident's timeline, with the notifications it sent."""

    id: int
    kind: Literal["opened", "acknowledged", "reminder", "resolved"]
    at: datetime
    actor_id: uuid.UUID | None = Field(description="The user who acted; null for the monitor")
    detail: dict[str, Any]
    deliveries: list[DeliveryPublic] = Field(
        default_factory=list,
        description="One per channel the website notified when the event was fanned out "
        "(empty until then)",
    )


class IncidentDetail(IncidentPublic):
    """An incident and its timeline, oldest event first."""

    events: list[IncidentEventPublic]


class IncidentPage(BaseModel):
    """Incidents newest first; pass `next_before` as `before` for the next page (null: no more)."""

    items: list[IncidentPublic]
    next_before: datetime | None


class WebsiteStatusPublic(BaseModel):
    """A website's overall status and the latest state seen from each region."""

    id: uuid.UUID
    url: str
    status: Status = Field(
        description="DOWN exactly while an incident is unresolved; otherwise UP when any "
        "region has a fresh result, else UNKNOWN"
    )
    last_checked_at: datetime | None
    regions: list[RegionStatus]
    incident: IncidentPublic | None = Field(description="The unresolved incident, if any")


AvailabilityWindow = Literal["24h", "7d", "30d", "90d", "365d"]


class Availability(BaseModel):
    """The share of the window without a confirmed incident."""

    website_id: uuid.UUID
    window: AvailabilityWindow
    start: datetime
    end: datetime
    availability: float = Field(ge=0, le=1, description="1 - incident time in window / window")


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    database: str = Field(examples=["ok"])
    redis: str = Field(examples=["ok", "not configured"])


class HealthError(ErrorResponse):
    database: str
    redis: str


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


class ChannelPublic(BaseModel):
    """A channel; `url` is masked (scheme and host only), the stored URL never leaves."""

    id: uuid.UUID
    name: str
    scheme: str
    url: str = Field(examples=["json://hooks.example.com/***"])
    created_at: datetime


class ChannelList(BaseModel):
    """The caller's channels, oldest first."""

    items: list[ChannelPublic]


class DeliveryResult(BaseModel):
    """The outcome of one send: `error` is short and masked."""

    ok: bool
    error: str | None
    elapsed_ms: int


StatsWindow = Literal["24h", "7d", "30d", "90d", "365d"]


class ResponseTimesPublic(BaseModel):
    """Response times in ms of the checks that measured one; null when none did.

    Percentiles come from a histogram with buckets 30 % wide and are within one bucket.
    """

    avg: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    max: int | None


class RegionStatsPublic(BaseModel):
    """One region's figures over the window."""

    region_id: str
    checks: int
    failures: int
    success_ratio: float | None = Field(description="(checks - failures) / checks; null: none")
    response_time_ms: ResponseTimesPublic


class WebsiteStatsPublic(BaseModel):
    """A website's figures over [from, to): all regions, then each region."""

    model_config = ConfigDict(populate_by_name=True)

    window: StatsWindow
    from_: datetime = Field(
        alias="from", description="now - window, rounded down to the hour (UTC)"
    )
    to: datetime
    checks: int
    failures: int
    success_ratio: float | None = Field(description="(checks - failures) / checks; null: none")
    availability: float = Field(
        ge=0, le=1, description="1 - confirmed incident time in [from, to) / (to - from)"
    )
    response_time_ms: ResponseTimesPublic
    regions: list[RegionStatsPublic]


class DayResponseTimesPublic(BaseModel):
    """A day's mean and 95th percentile response time in ms (null: none measured)."""

    avg: float | None
    p95: float | None


class DayStatsPublic(BaseModel):
    """One UTC day of a website's checks, all regions together."""

    date: date_type
    checks: int
    failures: int
    success_ratio: float | None
    response_time_ms: DayResponseTimesPublic


class DailyStatsPage(BaseModel):
    """One item per UTC day, oldest first, today (so far) last."""

    items: list[DayStatsPublic]
