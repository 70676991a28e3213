"""``/v1/feeds`` (follow, list, read, stop following, poll now) and ``/v1/documents/url``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.deps import AnswersDep, FeedsDep

router = APIRouter(tags=["feeds"])

Url = Annotated[str, StringConstraints(min_length=8, max_length=2000, pattern=r"^\S+$")]
FeedId = Annotated[str, Path(pattern=r"^f[0-9a-f]{12}$", description="as listed")]


class FeedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Url = Field(examples=["https://www.example.org/news/rss.xml"])
    every: str | None = Field(None, examples=["15m"], description="polling interval (default 15m)")


class UrlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Url = Field(examples=["https://www.example.org/news/2024/05/02/bridge.html"])


@router.post("/feeds", status_code=201, summary="Follow an RSS/Atom feed or a sitemap")
async def add_feed(body: FeedIn, feeds: FeedsDep, answers: AnswersDep) -> dict[str, Any]:
    """The URL is checked against the fetch policy (a refused one is a 400 that says so)."""
    return await answers.run(feeds.add, body.url, body.every)


@router.get("/feeds", summary="Followed feeds with their state and counts")
async def list_feeds(feeds: FeedsDep, answers: AnswersDep) -> dict[str, Any]:
    return {"feeds": await answers.run(feeds.all)}


@router.get("/feeds/{feed_id}", summary="One followed feed")
async def get_feed(feed_id: FeedId, feeds: FeedsDep, answers: AnswersDep) -> dict[str, Any]:
    return await answers.run(feeds.get, feed_id)


@router.delete("/feeds/{feed_id}", summary="Stop following a feed (its articles stay)")
async def remove_feed(feed_id: FeedId, feeds: FeedsDep, answers: AnswersDep) -> dict[str, Any]:
    feed = await answers.run(feeds.remove, feed_id)
    return {"id": feed["id"], "url": feed["url"], "removed": True}


@router.post("/feeds/{feed_id}/poll", summary="Poll a feed now")
async def poll_feed(feed_id: FeedId, feeds: FeedsDep, answers: AnswersDep) -> dict[str, Any]:
    reports = await answers.run(feeds.poll, feed_id)
    return reports[0].as_dict()


@router.post(
    "/documents/url",
    status_code=201,
    summary="Fetch one article page and store it",
    responses={200: {"description": "already stored, unchanged"}},
)
async def add_url(
    body: UrlIn, response: Response, feeds: FeedsDep, answers: AnswersDep
) -> dict[str, Any]:
    article, written = await answers.run(feeds.add_url, body.url)
    if not written:
        response.status_code = 200
    return {
        "id": article.id,
        "title": article.title,
        "url": article.url,
        "published": article.published.iso() if article.published else None,
        "status": "stored" if written else "unchanged",
    }
