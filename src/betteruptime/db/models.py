"""Tables: users, websites, regions, ticks, status, rollups, incidents, status pages."""

from __future__ import annotations

import enum
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.types import JSON, TypeEngine

from betteruptime.rules import histogram
from betteruptime.rules.checks import ERROR_MAX_LENGTH, CheckKind
from betteruptime.rules.status import Status

# Stable constraint names, so Alembic batch migrations on SQLite can find them again.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

URL_MAX_LENGTH = 2048


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite returns naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        # SQLite compares timestamps as text: store them all in one naive UTC form.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


BADGE_KEY_LENGTH = 24


def new_badge_key() -> str:
    """Return a fresh unguessable badge key (144 random bits, URL-safe)."""
    return secrets.token_urlsafe(18)


class NextRef(ColumnElement[int]):
    """The next `ref` of a table, as SQL evaluated inside the INSERT that needs it.

    PostgreSQL draws refs from the column's identity sequence, so concurrent inserts
    never collide. SQLite has one writer at a time, so max + 1 inside the INSERT is
    exclusive, but only row by row: SQLite engines are made with insertmanyvalues off
    (db/session.py), so an executemany inserts one row per statement instead of one
    multi-row VALUES list, whose rows would all read the same max.
    """

    inherit_cache = True
    type = Integer()

    def __init__(self, table: str) -> None:
        self.table = table


@compiles(NextRef)
def _next_ref_max(element: NextRef, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(SELECT coalesce(max(ref), 0) + 1 FROM {element.table})"  # noqa: S608 - built from constants, no input


@compiles(NextRef, "postgresql")
def _next_ref_postgres(element: NextRef, compiler: SQLCompiler, **kw: Any) -> str:
    return f"nextval('{element.table}_ref_seq')"


StatusType = Enum(
    Status,
    name="status",
    native_enum=False,
    create_constraint=True,
    length=7,
    values_callable=lambda e: [m.value for m in e],
)
# No CHECK constraint on kinds: a new kind is then a code change, not a rebuild of the
# website table on SQLite. The API and the job decoder accept only known kinds.
KindType = Enum(
    CheckKind,
    name="check_kind",
    native_enum=False,
    create_constraint=False,
    length=16,
    values_callable=lambda e: [m.value for m in e],
)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # Tokens issued before this instant are refused (set on a password change).
    tokens_valid_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RevokedToken(Base):
    """A token ended before its expiry (a logout), refused until it would have expired."""

    __tablename__ = "revoked_token"

    # The token's jti. Only revoked tokens are stored, not every token issued, so the
    # check per request is one primary-key probe of a small table.
    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The token's own expiry: past it the row is useless and may be deleted.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Website(Base):
    __tablename__ = "website"
    __table_args__ = (
        UniqueConstraint("owner_id", "url"),
        Index("ix_website_due", "enabled", "next_check_at"),
        CheckConstraint("interval_seconds > 0", name="interval_positive"),
        CheckConstraint("timeout_seconds > 0", name="timeout_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[CheckKind] = mapped_column(
        KindType, default=CheckKind.HTTP, server_default=CheckKind.HTTP.value
    )
    url: Mapped[str] = mapped_column(String(URL_MAX_LENGTH))
    # The kind's options as compact JSON without defaults (checks/options.py), NULL when all
    # are defaults. One column rather than typed columns per kind: a new kind or option
    # needs no migration, the pusher copies the text into the job as it is, and checkers
    # parse each distinct text once.
    options: Mapped[str | None] = mapped_column(Text)
    # A heartbeat's secret: /ping/{ping_key} needs no login. NULL for the other kinds.
    ping_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    interval_seconds: Mapped[int] = mapped_column(Integer, default=180)
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=10)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_check_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Incident thresholds; NULL means the operator's default from settings, so changing
    # the default changes every website that never chose its own.
    confirmation_checks: Mapped[int | None] = mapped_column(SmallInteger)
    recovery_checks: Mapped[int | None] = mapped_column(SmallInteger)
    # NULL: a strict majority of the regions with a fresh result.
    regions_required: Mapped[int | None] = mapped_column(SmallInteger)
    # NULL: no reminders.
    reminder_minutes: Mapped[int | None] = mapped_column(Integer)
    # A small surrogate of the id inside tick tables (4 bytes instead of 16).
    ref: Mapped[int] = mapped_column(Integer, Identity(), default=NextRef("website"), unique=True)
    # The public name of the website's badges: knowing it reveals that one website's status
    # and uptime, nothing else; rotating it breaks every badge link already shared.
    badge_key: Mapped[str] = mapped_column(
        String(BADGE_KEY_LENGTH), unique=True, default=new_badge_key
    )


class Region(Base):
    __tablename__ = "region"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Set while the probe-side outage guard ignores this region's votes (most of its
    # checks fail at once: the probe's network, not the websites, is down).
    votes_ignored_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A small surrogate of the id inside tick tables; regions are few and register rarely.
    ref: Mapped[int] = mapped_column(
        SmallInteger, Identity(), default=NextRef("region"), unique=True
    )


class TickStatus(enum.IntEnum):
    """A tick's status as stored: a small integer, not text."""

    UP = 0
    DOWN = 1
    # Reserved: up but slower than its threshold; counted as up.
    DEGRADED = 2


TICK_STATUS_OF: dict[Status, TickStatus] = {Status.UP: TickStatus.UP, Status.DOWN: TickStatus.DOWN}


def status_of_tick(value: int) -> Status:
    """Return the API status of a stored tick status (DEGRADED reads as UP)."""
    return Status.DOWN if value == TickStatus.DOWN else Status.UP


class TickError(Base):
    """Error texts of failed checks, stored once each: ticks carry only the id."""

    __tablename__ = "tick_error"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    text: Mapped[str] = mapped_column(String(ERROR_MAX_LENGTH), unique=True)


class WebsiteTick(Base):
    """One check result: about 60 bytes of heap and 28 of index per row on PostgreSQL.

    Columns are ordered widest first so PostgreSQL packs them without padding, and there
    are at most eight so the null bitmap fits in the 24-byte tuple header. The primary
    key is the only index: it deduplicates redeliveries (a redelivered message has the
    same website, region and scheduled time) and serves per-website time reads. On
    PostgreSQL the table is partitioned by UTC day of scheduled_at (see db/partitions.py);
    the partitions are made by SQL, not by this model.
    """

    __tablename__ = "website_tick"
    __table_args__ = (
        PrimaryKeyConstraint("website_ref", "region_ref", "scheduled_at"),
        {"postgresql_partition_by": "RANGE (scheduled_at)"},
    )

    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    website_ref: Mapped[int] = mapped_column(Integer)
    # checked_at - scheduled_at in milliseconds; see checked_at() and CHECKED_AT_SQL.
    delay_ms: Mapped[int] = mapped_column(Integer)
    response_time_ms: Mapped[int | None] = mapped_column(Integer)
    error_id: Mapped[int | None] = mapped_column(Integer)
    region_ref: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[int] = mapped_column(SmallInteger)
    status_code: Mapped[int | None] = mapped_column(SmallInteger)

    @property
    def checked_at(self) -> datetime:
        """Return when the check finished."""
        return self.scheduled_at + timedelta(milliseconds=self.delay_ms)


# checked_at as SQL over website_tick columns, per dialect: for queries that need it
# server-side. SQLite keeps timestamps as naive UTC text in SQLAlchemy's format.
_CHECKED_AT = {
    "postgresql": "({t}.scheduled_at + {t}.delay_ms * interval '1 millisecond')",
    "sqlite": (
        "(strftime('%Y-%m-%d %H:%M:%f', {t}.scheduled_at, "
        "printf('%+.3f seconds', {t}.delay_ms / 1000.0)) || '000')"
    ),
}


def checked_at_sql(dialect: str, alias: str = "t") -> str:
    """Return checked_at as SQL over the website_tick columns of alias, for dialect."""
    return _CHECKED_AT[dialect].format(t=alias)


CHECKED_AT_SQL = {dialect: checked_at_sql(dialect) for dialect in _CHECKED_AT}


def _streak_start(context: Any) -> Any:
    # A row made through the ORM (tests, tools) starts its streak with its own check.
    return context.get_current_parameters()["checked_at"]


class WebsiteStatus(Base):
    """The latest tick per (website, region): status reads never scan history.

    Every tick updates its row, so pages keep half their room free (PostgreSQL, migration
    0009) and no index covers an updated column: updates stay HOT, with no index entry.
    """

    __tablename__ = "website_status"
    __table_args__ = {"postgresql_with": {"fillfactor": 50}}

    website_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("website.id", ondelete="CASCADE"), primary_key=True
    )
    region_id: Mapped[str] = mapped_column(
        ForeignKey("region.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[Status] = mapped_column(StatusType)
    response_time_ms: Mapped[int | None] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(ERROR_MAX_LENGTH))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the status last changed in this region: the seed of incidents and uptime.
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Consecutive checks with the current status, this one included, and the checked_at
    # of the first of them; written by the same statement as the row itself.
    streak: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    streak_started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_streak_start)


class Evaluation(Base):
    """Websites whose region state moved in a way that may open or close an incident."""

    __tablename__ = "evaluation"

    website_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("website.id", ondelete="CASCADE"), primary_key=True
    )
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


INCIDENT_STATES = ("open", "acknowledged", "resolved")
EVENT_KINDS = ("opened", "acknowledged", "reminder", "resolved")


class Incident(Base):
    """A confirmed outage of one website, from detection to resolution."""

    __tablename__ = "incident"
    __table_args__ = (
        # At most one unresolved incident per website: a key, not a convention, so two
        # alerters deciding at once cannot both open one.
        Index(
            "uq_incident_unresolved",
            "website_id",
            unique=True,
            postgresql_where=text("state <> 'resolved'"),
            sqlite_where=text("state <> 'resolved'"),
        ),
        Index("ix_incident_website_started", "website_id", "started_at"),
        # Status pages: incidents resolved lately (migration 0010_status_page_index).
        Index("ix_incident_website_resolved", "website_id", "resolved_at"),
        # The incidents page and GET /incidents: one owner's incidents newest first, read
        # in order (the page's unresolved ones first, from the small partial index) instead
        # of sorting every incident of the owner (migration 0012_incident_owner_list).
        Index(
            "ix_incident_owner_unresolved",
            "owner_id",
            "started_at",
            "id",
            postgresql_where=text("state <> 'resolved'"),
            sqlite_where=text("state <> 'resolved'"),
        ),
        Index("ix_incident_owner_started", "owner_id", "started_at", "id"),
        Index(
            "ix_incident_awaiting_recovery",
            "website_id",
            postgresql_where=text("awaiting_recovery"),
            sqlite_where=text("awaiting_recovery"),
        ),
        CheckConstraint("state IN ('open', 'acknowledged', 'resolved')", name="state_valid"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    website_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("website.id", ondelete="CASCADE"))
    # The website's owner, copied by a database trigger on insert (migration
    # 0012_incident_owner_list), so whatever inserts an incident needs not know it; a
    # website never changes owner. Reads of "my incidents" filter on it (a row without it,
    # were the trigger missing, would be seen by nobody rather than by someone else).
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    state: Mapped[str] = mapped_column(String(12), default="open")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    cause: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Resolved by hand while still failing: no new incident until the website recovers.
    awaiting_recovery: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    # The last reminder (a conditional update on it lets one alerter of many send it).
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# SQLite only auto-increments an INTEGER PRIMARY KEY, not a BIGINT one.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class IncidentEvent(Base):
    """One step of an incident's timeline, and the outbox notifications are made from."""

    __tablename__ = "incident_event"
    __table_args__ = (
        Index("ix_incident_event_incident_id", "incident_id", "id"),
        # Only the rows still to fan out are indexed, so the notifier's claim stays small.
        Index(
            "ix_incident_event_unfanned",
            "id",
            postgresql_where=text("fanned_out_at IS NULL"),
            sqlite_where=text("fanned_out_at IS NULL"),
        ),
        Index("ix_incident_event_website_id", "website_id"),
        CheckConstraint(
            "kind IN ('opened', 'acknowledged', 'reminder', 'resolved', 'certificate')",
            name="kind_valid",
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    # An incident's event names its incident; a website-level event (a certificate about
    # to expire) names its website instead, and fans out to that website's channels.
    incident_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE")
    )
    website_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("website.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # NULL until the notifier has turned the event into deliveries.
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


DELIVERY_STATES = ("pending", "delivered", "failed")


class Channel(Base):
    """Where a user's notifications go: an Apprise URL, stored encrypted."""

    __tablename__ = "channel"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    # Fernet token of the URL (tokens and passwords live in it): a dump alone reveals
    # neither the URL nor its secrets, only the scheme below.
    url_encrypted: Mapped[str] = mapped_column(String(4096))
    scheme: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebsiteChannel(Base):
    """Which channels a website notifies."""

    __tablename__ = "website_channel"

    website_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("website.id", ondelete="CASCADE"), primary_key=True
    )
    channel_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("channel.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class NotificationDelivery(Base):
    """One incident event to one channel: pending until delivered or given up on."""

    __tablename__ = "notification_delivery"
    __table_args__ = (
        # Fan-out is idempotent: a second notifier (or a retried one) inserts nothing.
        UniqueConstraint("event_id", "channel_id"),
        # Only deliveries still to send are indexed, so the claim stays small.
        Index(
            "ix_notification_delivery_due",
            "next_attempt_at",
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
        Index("ix_notification_delivery_channel_id", "channel_id"),
        CheckConstraint("state IN ('pending', 'delivered', 'failed')", name="state_valid"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("incident_event.id", ondelete="CASCADE")
    )
    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("channel.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(ERROR_MAX_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeliveryAttempt(Base):
    """The delivery log: every attempt to send a delivery, with its outcome."""

    __tablename__ = "delivery_attempt"
    __table_args__ = (Index("ix_delivery_attempt_delivery_id", "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("notification_delivery.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean)
    # Short, with the channel's secrets masked.
    error: Mapped[str | None] = mapped_column(String(ERROR_MAX_LENGTH))
    elapsed_ms: Mapped[int] = mapped_column(Integer)


class WebsiteCertificate(Base):
    """The latest certificate an https (or TLS tcp) check saw, kept beside, not in, ticks."""

    __tablename__ = "website_certificate"

    website_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("website.id", ondelete="CASCADE"), primary_key=True
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issuer: Mapped[str] = mapped_column(String(200))
    hostname_ok: Mapped[bool] = mapped_column(Boolean)
    fingerprint: Mapped[str] = mapped_column(String(64))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The smallest expiry threshold (days) already announced for this fingerprint.
    notified_days: Mapped[int | None] = mapped_column(SmallInteger)


class Heartbeat(Base):
    """The push side of a heartbeat website: its secret key and what its pings said."""

    __tablename__ = "heartbeat"

    website_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("website.id", ondelete="CASCADE"), primary_key=True
    )
    last_ping_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_ms: Mapped[int | None] = mapped_column(Integer)
    last_exit_status: Mapped[int | None] = mapped_column(SmallInteger)
    last_body: Mapped[str | None] = mapped_column(Text)
    # When silence makes it DOWN (rules/heartbeat.py); the late loop reads this index.
    down_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # True once the late loop recorded DOWN for the current silence: reported once.
    late: Mapped[bool] = mapped_column(Boolean, default=False)


# Rollups: per website, region and UTC hour (or day), what its ticks add up to. One column
# per histogram bucket rather than an array or a JSON document: the same SQL computes and
# merges them on PostgreSQL and SQLite (a SUM per column), and an empty bucket is NULL,
# which PostgreSQL stores as one bit of the row's null bitmap. A typical hour fills 3-6
# of the 43 buckets, so a row stays near 90 bytes.
HISTOGRAM_COLUMNS = tuple(f"h{i:02d}" for i in range(histogram.BUCKETS))


def _rollup_table(
    name: str, period: Column[Any], count: TypeEngine[int], big: TypeEngine[int]
) -> Table:
    return Table(
        name,
        Base.metadata,
        Column(
            "website_ref",
            Integer,
            ForeignKey("website.ref", ondelete="CASCADE"),
            primary_key=True,
        ),
        Column(
            "region_ref",
            SmallInteger,
            ForeignKey("region.ref", ondelete="CASCADE"),
            primary_key=True,
        ),
        period,
        Column("checks", count, nullable=False),
        Column("failures", count, nullable=False),
        Column("degraded", count, nullable=False),
        # Checks that measured a response time, their sum, smallest and largest.
        Column("rt_count", count, nullable=False),
        Column("rt_sum", big, nullable=False),
        Column("rt_min", Integer),
        Column("rt_max", Integer),
        *(Column(c, count) for c in HISTOGRAM_COLUMNS),
        # Retention deletes by time: a BRIN index on PostgreSQL (rows arrive in time order,
        # a few kilobytes for years of rows), a B-tree on SQLite.
        Index(f"ix_{name}_{period.name}", period.name, postgresql_using="brin"),
    )


# Hourly counts fit SMALLINT (3,600 checks an hour at the shortest interval); their sum
# of response times fits INTEGER. Daily ones need INTEGER and BIGINT.
tick_rollup_hourly = _rollup_table(
    "tick_rollup_hourly",
    Column("hour", UTCDateTime, primary_key=True),
    SmallInteger(),
    Integer(),
)
tick_rollup_daily = _rollup_table(
    "tick_rollup_daily", Column("day", Date, primary_key=True), Integer(), BigInteger()
)
# Status pages read many websites' daily checks and failures from this index alone on
# PostgreSQL (see migration 0010_status_page_index).
Index(
    "ix_tick_rollup_daily_uptime",
    tick_rollup_daily.c.website_ref,
    tick_rollup_daily.c.day,
    postgresql_include=["checks", "failures"],
)


class RollupProgress(Base):
    """How far rollups are complete, shared by every process that maintains them."""

    __tablename__ = "rollup_progress"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Every hour before this one has been rolled up at least once.
    rolled_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the recent hours were last recomputed to fold in late ticks.
    recomputed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StatusPage(Base):
    """A public page at /s/{slug} showing the websites its owner chose."""

    __tablename__ = "status_page"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    # Unique across all users: the slug is the page's public address.
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    show_urls: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StatusPageWebsite(Base):
    """One website chosen for a status page, in the order the owner listed them."""

    __tablename__ = "status_page_website"

    status_page_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("status_page.id", ondelete="CASCADE"), primary_key=True
    )
    website_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("website.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
