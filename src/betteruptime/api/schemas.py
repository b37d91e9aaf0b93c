"""Request and response bodies of the HTTP API."""

from __future__ import annotations

import re
import uuid
from datetime import date as date_type
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

# The input models live in a module the web pages share; re-exported for the routes.
from betteruptime.checks.options import public_options
from betteruptime.inputs import NAME_MAX_LENGTH as NAME_MAX_LENGTH
from betteruptime.inputs import PASSWORD_MAX_LENGTH as PASSWORD_MAX_LENGTH
from betteruptime.inputs import PASSWORD_MIN_LENGTH as PASSWORD_MIN_LENGTH
from betteruptime.inputs import THRESHOLD_FIELDS as THRESHOLD_FIELDS
from betteruptime.inputs import ChannelCreate as ChannelCreate
from betteruptime.inputs import ChannelUpdate as ChannelUpdate
from betteruptime.inputs import PasswordChange as PasswordChange
from betteruptime.inputs import StatusPageCreate as StatusPageCreate
from betteruptime.inputs import StatusPageUpdate as StatusPageUpdate
from betteruptime.inputs import UserLogin as UserLogin
from betteruptime.inputs import UserRegister as UserRegister
from betteruptime.inputs import WebsiteCreate as WebsiteCreate
from betteruptime.inputs import WebsiteUpdate as WebsiteUpdate
from betteruptime.rules.checks import MAX_INTERVAL_SECONDS as MAX_INTERVAL_SECONDS
from betteruptime.rules.checks import MAX_TIMEOUT_SECONDS as MAX_TIMEOUT_SECONDS
from betteruptime.rules.checks import CheckKind
from betteruptime.rules.status import Status


def _iso_time(value: Any) -> Any:
    # Pydantic would read "1700000000" as a Unix time; the documented form is ISO 8601 only.
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("must be an ISO 8601 time, e.g. 2030-01-01T00:00:00Z")
    return value


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
IsoTime = Annotated[datetime, BeforeValidator(_iso_time)]


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


class UserToken(BaseModel):
    """A user and a fresh bearer token for them."""

    id: uuid.UUID
    username: str
    email: str
    token: str


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
    badge_key: str = Field(
        description="Public key of the website's badges (/badge/{badge_key}/status.svg); "
        "POST /website/{id}/badge-key replaces it"
    )

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


class StatusPagePublic(BaseModel):
    """A public status page: its address is `/s/{slug}`."""

    id: uuid.UUID
    title: str
    slug: str
    show_urls: bool
    website_ids: list[uuid.UUID]
    created_at: datetime
    updated_at: datetime
