"""Feeds and article URLs as the callers see them (the CLI's ``qa feeds``, ``/v1/feeds``,
``/v1/documents/url``): the follower of ``index.follow`` with its errors in the qa tree.

A refused URL (the fetch policy's: scheme, private address, robots.txt) is an ``InputError``
whose message says it was refused, and nothing is fetched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from index.errors import ParseError
from index.feeds import page_article
from index.fetch import Fetcher, FetchFailed, FetchPolicy, FetchRefused
from index.follow import FeedFollower, FeedState, PollReport
from index.model import Article
from qa.archive import Archive
from qa.errors import InputError, NotFound, SourceUnavailable


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except FetchRefused as exc:
        raise InputError(f"refused: {exc}") from exc
    except FetchFailed as exc:
        raise SourceUnavailable(str(exc)) from exc
    except ParseError as exc:
        raise InputError(str(exc)) from exc


class Feeds:
    """Follow feeds into an archive; fetch single article URLs."""

    def __init__(self, archive: Archive, state_path: Path, policy: FetchPolicy, every: str):
        self.archive = archive
        self.fetcher = Fetcher(policy)
        self.state = FeedState(state_path)
        self.every = every
        self.follower = FeedFollower(self.state, self.fetcher, self._ingest)

    def _ingest(self, articles: Sequence[Article]) -> list[str]:
        report = self.archive.add(articles)
        return [*report.added, *report.updated]

    def close(self) -> None:
        self.fetcher.close()
        self.state.close()

    def add(self, url: str, every: str | None = None) -> dict[str, Any]:
        with _translated():
            try:
                return self.follower.add(url, every or self.every)
            except ValueError as exc:
                raise InputError(str(exc)) from exc

    def all(self) -> list[dict[str, Any]]:
        return self.state.feeds()

    def get(self, feed_id: str) -> dict[str, Any]:
        found = self.state.get(feed_id)
        if found is None:
            raise NotFound(f"no feed with id {feed_id!r}")
        return found

    def remove(self, feed_id: str) -> dict[str, Any]:
        found = self.get(feed_id)
        self.state.remove(feed_id)
        return found

    def poll(self, feed_id: str | None = None) -> list[PollReport]:
        """Poll one feed now, or every feed that is due."""
        if feed_id is None:
            return self.follower.poll_due()
        self.get(feed_id)
        return [self.follower.poll(feed_id)]

    def poll_all(self) -> list[PollReport]:
        """Poll every feed now, due or not."""
        return [self.follower.poll(f["id"]) for f in self.state.feeds()]

    def add_url(self, url: str) -> tuple[Article, bool]:
        """Fetch one article page and store it: (the article, whether anything was written)."""
        with _translated():
            page = self.fetcher.get(url)
            article = page_article(page.body.decode("utf-8", "replace"), page.url)
        return article, bool(self._ingest([article]))
