"""Status pages of one owner, and the public read of a page by its slug."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from betteruptime.db.incidents import RESOLVED
from betteruptime.db.models import (
    Incident,
    StatusPage,
    StatusPageWebsite,
    Website,
    WebsiteStatus,
)
from betteruptime.rules.status import Status


class DuplicateSlug(Exception):
    """Another status page already has this slug."""


class ForeignWebsites(Exception):
    """Some website ids are not the owner's (or do not exist)."""

    def __init__(self, ids: Sequence[uuid.UUID]) -> None:
        super().__init__(f"{len(ids)} website ids are not yours")
        self.ids = list(ids)


async def list_owned(session: AsyncSession, owner_id: uuid.UUID) -> list[StatusPage]:
    """Return owner_id's status pages, oldest first."""
    rows = await session.scalars(
        select(StatusPage)
        .where(StatusPage.owner_id == owner_id)
        .order_by(StatusPage.created_at, StatusPage.id)
    )
    return list(rows)


async def get_owned(
    session: AsyncSession, page_id: uuid.UUID, owner_id: uuid.UUID
) -> StatusPage | None:
    """Return the page when owner_id owns it, else None (whether or not it exists)."""
    return await session.scalar(
        select(StatusPage).where(StatusPage.id == page_id, StatusPage.owner_id == owner_id)
    )


async def get_by_slug(session: AsyncSession, slug: str) -> StatusPage | None:
    """Return the page published at /s/{slug}, or None."""
    return await session.scalar(select(StatusPage).where(StatusPage.slug == slug))


async def website_ids_of(
    session: AsyncSession, page_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Return each page's website ids in page order (one query for any number of pages)."""
    found: dict[uuid.UUID, list[uuid.UUID]] = {page_id: [] for page_id in page_ids}
    if not page_ids:
        return found
    rows = await session.execute(
        select(StatusPageWebsite.status_page_id, StatusPageWebsite.website_id)
        .where(StatusPageWebsite.status_page_id.in_(page_ids))
        .order_by(StatusPageWebsite.status_page_id, StatusPageWebsite.position)
    )
    for page_id, website_id in rows:
        found[page_id].append(website_id)
    return found


async def websites_of(session: AsyncSession, page_id: uuid.UUID) -> list[Website]:
    """Return the page's websites in page order (one query, whatever their number)."""
    rows = await session.scalars(
        select(Website)
        .join(StatusPageWebsite, StatusPageWebsite.website_id == Website.id)
        .where(StatusPageWebsite.status_page_id == page_id)
        .order_by(StatusPageWebsite.position)
    )
    return list(rows)


@dataclass(slots=True)
class ShownWebsite:
    """What a public page needs of one chosen website (the id only to look up history)."""

    website_id: uuid.UUID
    name: str | None
    url: str
    interval_seconds: int
    regions: list[tuple[Status, datetime]] = field(default_factory=list)


async def shown_websites(session: AsyncSession, page_id: uuid.UUID) -> list[ShownWebsite]:
    """Return the page's websites in page order with their region states, in one query."""
    rows = await session.execute(
        select(
            StatusPageWebsite.website_id,
            Website.name,
            Website.url,
            Website.interval_seconds,
            WebsiteStatus.status,
            WebsiteStatus.checked_at,
        )
        .join(Website, Website.id == StatusPageWebsite.website_id)
        .outerjoin(WebsiteStatus, WebsiteStatus.website_id == Website.id)
        .where(StatusPageWebsite.status_page_id == page_id)
        .order_by(StatusPageWebsite.position, WebsiteStatus.region_id)
    )
    found: dict[uuid.UUID, ShownWebsite] = {}
    for website_id, name, url, interval, status, checked_at in rows:
        entry = found.get(website_id)
        if entry is None:
            entry = found[website_id] = ShownWebsite(website_id, name, url, interval)
        if status is not None:
            entry.regions.append((status, checked_at))
    return list(found.values())


@dataclass(frozen=True, slots=True)
class ShownIncident:
    """An incident of one of a page's websites, as a public page may show it."""

    website_id: uuid.UUID
    name: str | None
    url: str
    started_at: datetime
    resolved_at: datetime | None  # None while unresolved (acknowledged ones included)


async def shown_incidents(
    session: AsyncSession, page_id: uuid.UUID, since: datetime, resolved_limit: int
) -> list[ShownIncident]:
    """Return every unresolved incident of the page's websites (at most one each, a unique
    key), then up to resolved_limit of those resolved since `since`; each part newest first.

    Two queries whatever the number of websites; callers may take each website's status
    from this list, since every unresolved incident is in it.
    """
    shown = (
        select(
            Incident.website_id,
            Website.name,
            Website.url,
            Incident.started_at,
            Incident.resolved_at,
        )
        .join(StatusPageWebsite, StatusPageWebsite.website_id == Incident.website_id)
        .join(Website, Website.id == Incident.website_id)
    )
    on_page = StatusPageWebsite.status_page_id == page_id
    newest = (Incident.started_at.desc(), Incident.id)
    unresolved = await session.execute(
        shown.where(on_page, Incident.state != RESOLVED).order_by(*newest)
    )
    # ix_incident_website_resolved: a short range per website, however long its history.
    resolved = await session.execute(
        shown.where(on_page, Incident.state == RESOLVED, Incident.resolved_at >= since)
        .order_by(*newest)
        .limit(resolved_limit)
    )
    return [
        ShownIncident(website_id, name, url, started_at, None)
        for website_id, name, url, started_at, _ in unresolved
    ] + [ShownIncident(*row) for row in resolved]


async def create_page(
    session: AsyncSession,
    owner_id: uuid.UUID,
    *,
    title: str,
    slug: str,
    show_urls: bool,
    website_ids: Sequence[uuid.UUID],
    now: datetime,
) -> StatusPage:
    """Insert and commit a page; raise ForeignWebsites or DuplicateSlug."""
    await _check_owned(session, owner_id, website_ids)
    page = StatusPage(
        owner_id=owner_id,
        title=title,
        slug=slug,
        show_urls=show_urls,
        created_at=now,
        updated_at=now,
    )
    session.add(page)
    try:
        await session.flush()
        await _insert_websites(session, page.id, website_ids)
        await session.commit()
    except IntegrityError:
        # The unique slug caught a page created meanwhile (or long ago).
        await session.rollback()
        raise DuplicateSlug(slug) from None
    return page


async def update_page(
    session: AsyncSession,
    page: StatusPage,
    *,
    title: str,
    slug: str,
    show_urls: bool,
    website_ids: Sequence[uuid.UUID] | None,
    now: datetime,
) -> StatusPage:
    """Store the page's new values (website_ids None: unchanged) and commit."""
    if website_ids is not None:
        await _check_owned(session, page.owner_id, website_ids)
    page.title = title
    page.slug = slug
    page.show_urls = show_urls
    page.updated_at = now
    try:
        await session.flush()
        if website_ids is not None:
            await session.execute(
                delete(StatusPageWebsite).where(StatusPageWebsite.status_page_id == page.id)
            )
            await _insert_websites(session, page.id, website_ids)
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise DuplicateSlug(slug) from None
    return page


async def delete_page(session: AsyncSession, page: StatusPage) -> None:
    """Delete the page and its list of websites; commit."""
    await session.delete(page)
    await session.commit()


async def _check_owned(
    session: AsyncSession, owner_id: uuid.UUID, website_ids: Sequence[uuid.UUID]
) -> None:
    if not website_ids:
        return
    owned = set(
        await session.scalars(
            select(Website.id).where(Website.owner_id == owner_id, Website.id.in_(website_ids))
        )
    )
    foreign = [i for i in website_ids if i not in owned]
    if foreign:
        raise ForeignWebsites(foreign)


async def _insert_websites(
    session: AsyncSession, page_id: uuid.UUID, website_ids: Sequence[uuid.UUID]
) -> None:
    if website_ids:
        await session.execute(
            insert(StatusPageWebsite),
            [
                {"status_page_id": page_id, "website_id": w, "position": i}
                for i, w in enumerate(website_ids)
            ],
        )
