"""Tables of the monitor: users, website, region, ticks, status, public status pages."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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


# SQLite only auto-increments an INTEGER PRIMARY KEY, not a BIGINT one.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")
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
    name: Mapped[str | None] = mapped_column(String(200))
    interval_seconds: Mapped[int] = mapped_column(Integer, default=180)
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=10)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_check_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The public name of the website's badges: knowing it reveals that one website's status
    # and uptime, nothing else; rotating it breaks every badge link already shared.
    badge_key: Mapped[str] = mapped_column(
        String(BADGE_KEY_LENGTH), unique=True, default=new_badge_key
    )


class Region(Base):
    __tablename__ = "region"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class WebsiteTick(Base):
    __tablename__ = "website_tick"
    __table_args__ = (
        # A redelivered message must not produce a second tick (at-most-once per region).
        UniqueConstraint("region_id", "message_id"),
        Index("ix_website_tick_website_checked", "website_id", "checked_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    website_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("website.id", ondelete="CASCADE"))
    region_id: Mapped[str] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"))
    status: Mapped[Status] = mapped_column(StatusType)
    response_time_ms: Mapped[int | None] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(ERROR_MAX_LENGTH))
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    message_id: Mapped[str] = mapped_column(String(64))


class WebsiteStatus(Base):
    """The latest tick per (website, region): status reads never scan history."""

    __tablename__ = "website_status"

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
