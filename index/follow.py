"""Following publishers: feeds polled into the archive, with their state in SQLite.

The state (``<data_dir>/feeds.sqlite3``) survives restarts: feeds (URL, interval, ETag and
Last-Modified, last success and error, failures in a row, next poll) and items (the article
URLs seen, their state and reason). An item is *claimed* before it is fetched, atomically, so
two replicas never ingest the same item; a claim left by a process that died is taken over
after ``claim_timeout_s``. Ingestion is idempotent (the article id comes from the canonical
URL): a poll that is interrupted and run again loses and duplicates nothing.

A poll: a conditional GET of the feed (an unchanged feed costs one 304); for each item, a GET
of its page (conditional too when it was seen before) -> ``page_article`` -> the ingester. A
changed page replaces its article; an item that leaves the feed stays stored. Failures back
off (the interval doubled per failure in a row, at most six hours), with the reason kept.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.errors import ParseError
from index.feeds import FeedItem, page_article, parse_feed
from index.fetch import Fetcher, FetchFailed, FetchRefused
from index.model import Article, canonical_url, clean_url

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 6 * 3600.0
MAX_SITEMAPS = 20

SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    id TEXT PRIMARY KEY, url TEXT NOT NULL UNIQUE, every_s REAL NOT NULL, added REAL NOT NULL,
    title TEXT, etag TEXT, last_modified TEXT, last_success REAL, last_error TEXT,
    failures INTEGER NOT NULL DEFAULT 0, next_poll REAL NOT NULL DEFAULT 0,
    fetched INTEGER NOT NULL DEFAULT 0, skipped INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS items (
    url TEXT PRIMARY KEY, feed_id TEXT, state TEXT NOT NULL, reason TEXT, owner TEXT,
    claimed REAL, article_id TEXT, etag TEXT, last_modified TEXT, published REAL,
    ingested REAL);
"""


@dataclass
class PollReport:
    feed_id: str
    not_modified: bool = False
    items: int = 0
    ingested: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "feed": self.feed_id,
            "not_modified": self.not_modified,
            "items": self.items,
            "ingested": len(self.ingested),
            "unchanged": self.unchanged,
            "skipped": [{"item": u, "reason": r} for u, r in self.skipped],
            "failed": [{"item": u, "reason": r} for u, r in self.failed],
            "error": self.error,
        }


def feed_id(url: str) -> str:
    return "f" + hashlib.sha256(canonical_url(url).encode()).hexdigest()[:12]


def parse_every(text: str | float) -> float:
    """'15m', '1h', '30s', '2d' or seconds -> seconds (at least 60)."""
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        raw = text.strip().lower()
        units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
        try:
            seconds = float(raw[:-1]) * units[raw[-1]] if raw[-1] in units else float(raw)
        except (ValueError, IndexError):
            raise ValueError(f"not an interval: {text!r} (e.g. 15m, 1h)") from None
    if seconds < 60:
        raise ValueError("a feed is polled at most once a minute")
    return seconds


class FeedState:
    """The SQLite database of feeds and items, safe to share between threads."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # feeds ---------------------------------------------------------------------------------

    def add(self, url: str, every_s: float) -> dict[str, Any]:
        fid = feed_id(url)
        with self._tx() as db:
            db.execute(
                "INSERT INTO feeds (id, url, every_s, added) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET every_s = excluded.every_s",
                (fid, url, every_s, time.time()),
            )
        found = self.get(fid)
        assert found is not None
        return found

    def remove(self, fid: str) -> bool:
        with self._tx() as db:
            return db.execute("DELETE FROM feeds WHERE id = ?", (fid,)).rowcount > 0

    def get(self, fid: str) -> dict[str, Any] | None:
        rows = self.feeds(fid)
        return rows[0] if rows else None

    def feeds(self, fid: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            cur = self._db.execute(
                "SELECT * FROM feeds" + (" WHERE id = ?" if fid else "") + " ORDER BY added",
                (fid,) if fid else (),
            )
            cols = [d[0] for d in cur.description]
            rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
            for row in rows:
                row["items_ingested"], row["lag_s_median"] = self._ingested(row["id"])
        return rows

    def _ingested(self, fid: str) -> tuple[int, float | None]:
        lags = [
            r[0]
            for r in self._db.execute(
                "SELECT ingested - published FROM items WHERE feed_id = ? AND state = 'ingested'"
                " AND published IS NOT NULL",
                (fid,),
            )
        ]
        n = self._db.execute(
            "SELECT COUNT(*) FROM items WHERE feed_id = ? AND state = 'ingested'", (fid,)
        ).fetchone()[0]
        lags.sort()
        return int(n), (round(lags[len(lags) // 2], 1) if lags else None)

    def due(self, now: float | None = None) -> list[str]:
        now = time.time() if now is None else now
        with self._lock:
            return [
                r[0] for r in self._db.execute("SELECT id FROM feeds WHERE next_poll <= ?", (now,))
            ]

    def succeeded(self, fid: str, etag: str | None, modified: str | None, title: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE feeds SET etag = COALESCE(?, etag), last_modified = COALESCE(?,"
                " last_modified), title = COALESCE(NULLIF(?, ''), title), last_success = ?,"
                " last_error = NULL, failures = 0, next_poll = ? + every_s WHERE id = ?",
                (etag, modified, title, time.time(), time.time(), fid),
            )

    def failed(self, fid: str, reason: str, retry_after: float | None = None) -> None:
        with self._tx() as db:
            row = db.execute("SELECT every_s, failures FROM feeds WHERE id = ?", (fid,)).fetchone()
            if row is None:
                return
            every, failures = float(row[0]), int(row[1]) + 1
            wait = min(every * 2**failures, MAX_BACKOFF_S)
            if retry_after:
                wait = max(wait, retry_after)
            db.execute(
                "UPDATE feeds SET last_error = ?, failures = ?, next_poll = ? WHERE id = ?",
                (reason, failures, time.time() + wait, fid),
            )

    def count(self, fid: str, column: str, n: int = 1) -> None:
        assert column in ("fetched", "skipped", "failed")
        with self._tx() as db:
            db.execute(f"UPDATE feeds SET {column} = {column} + ? WHERE id = ?", (n, fid))

    # items ---------------------------------------------------------------------------------

    def item(self, url: str) -> dict[str, Any] | None:
        with self._lock:
            cur = self._db.execute("SELECT * FROM items WHERE url = ?", (url,))
            row = cur.fetchone()
            return dict(zip([d[0] for d in cur.description], row, strict=True)) if row else None

    def claim(self, url: str, fid: str, owner: str, timeout_s: float) -> bool:
        """Take the item for this poll; False when another poll holds a live claim on it."""
        now = time.time()
        with self._tx() as db:
            row = db.execute(
                "SELECT state, owner, claimed FROM items WHERE url = ?", (url,)
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO items (url, feed_id, state, owner, claimed)"
                    " VALUES (?, ?, 'claimed', ?, ?)",
                    (url, fid, owner, now),
                )
                return True
            state, holder, when = row
            live = bool(when) and now - float(when) < timeout_s and _alive(str(holder or ""))
            if state == "claimed" and holder != owner and live:
                return False
            db.execute(
                "UPDATE items SET state = 'claimed', owner = ?, claimed = ? WHERE url = ?",
                (owner, now, url),
            )
            return True

    def finish(self, url: str, state: str, reason: str | None = None, **more: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in more)
        with self._tx() as db:
            db.execute(
                f"UPDATE items SET state = ?, reason = ?, owner = NULL{', ' + cols if cols else ''}"
                " WHERE url = ?",
                (state, reason, *more.values(), url),
            )


def _alive(owner: str) -> bool:
    """False for a claim of a process of this host that is gone (a restart takes over at
    once); True otherwise (another host's claim waits for its timeout)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class FeedFollower:
    """Polls feeds into the archive through ``ingest`` (a list of articles -> their ids
    written: new or changed)."""

    def __init__(
        self,
        state: FeedState,
        fetcher: Fetcher,
        ingest: Callable[[Sequence[Article]], list[str]],
        claim_timeout_s: float = 600.0,
    ):
        self.state = state
        self.fetcher = fetcher
        self.ingest = ingest
        self.claim_timeout_s = claim_timeout_s
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def add(self, url: str, every: str | float = "15m") -> dict[str, Any]:
        """Follow a feed (the URL is checked against the fetch policy first)."""
        self.fetcher.policy.check(url)
        return self.state.add(url, parse_every(every))

    def poll_due(self) -> list[PollReport]:
        return [self.poll(fid) for fid in self.state.due()]

    def poll(self, fid: str) -> PollReport:
        feed = self.state.get(fid)
        if feed is None:
            raise KeyError(fid)
        report = PollReport(fid)
        try:
            got = self.fetcher.get(
                feed["url"], etag=feed["etag"], last_modified=feed["last_modified"]
            )
        except (FetchFailed, FetchRefused) as exc:
            report.error = str(exc)
            self.state.failed(fid, str(exc), getattr(exc, "retry_after", None))
            return report
        if got.not_modified:
            report.not_modified = True
            self.state.succeeded(fid, None, None, "")
            return report
        try:
            items, title = self._items(got.body)
        except (ParseError, FetchFailed, FetchRefused) as exc:
            report.error = str(exc)
            self.state.failed(fid, str(exc))
            return report
        report.items = len(items)
        for item in items:
            self._item(fid, item, report)
        self.state.count(fid, "fetched", len(report.ingested) + report.unchanged)
        self.state.count(fid, "skipped", len(report.skipped))
        self.state.count(fid, "failed", len(report.failed))
        self.state.succeeded(fid, got.headers.get("etag"), got.headers.get("last-modified"), title)
        return report

    def _items(self, body: bytes) -> tuple[list[FeedItem], str]:
        feed = parse_feed(body)
        items = list(feed.items)
        for url in feed.sitemaps[:MAX_SITEMAPS]:  # a sitemap index: its sitemaps' items
            items.extend(parse_feed(self.fetcher.get(url).body).items)
        return list({clean_url(i.url): i for i in items}.values()), feed.title

    def _item(self, fid: str, item: FeedItem, report: PollReport) -> None:
        url = clean_url(item.url)
        if not self.state.claim(url, fid, self.owner, self.claim_timeout_s):
            return  # another replica is on it
        seen = self.state.item(url) or {}
        try:
            page = self.fetcher.get(
                url, etag=seen.get("etag"), last_modified=seen.get("last_modified")
            )
            if page.not_modified:
                report.unchanged += 1
                kept = "ingested" if seen.get("article_id") else "skipped"
                self.state.finish(url, kept, seen.get("reason"))
                return
            article = page_article(page.body.decode("utf-8", "replace"), page.url, item)
        except FetchRefused as exc:
            report.skipped.append((url, f"refused: {exc}"))
            self.state.finish(url, "skipped", f"refused: {exc}")
            return
        except (FetchFailed, ParseError) as exc:
            bucket = report.skipped if isinstance(exc, ParseError) else report.failed
            bucket.append((url, str(exc)))
            self.state.finish(url, "skipped" if isinstance(exc, ParseError) else "failed", str(exc))
            return
        written = self.ingest([article])
        if written:
            report.ingested.append(article.id)
        else:
            report.unchanged += 1
        published = article.published.to_date() if article.published else None
        self.state.finish(
            url,
            "ingested",
            None,
            article_id=article.id,
            etag=page.headers.get("etag"),
            last_modified=page.headers.get("last-modified"),
            published=time.mktime(published.timetuple()) if published else None,
            ingested=time.time(),
        )
