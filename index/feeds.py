"""Feeds and pages: RSS 2.0 / Atom feeds (feedparser), news and plain sitemaps (including
sitemap indexes), and article pages (trafilatura) -> ``Article``.

A feed gives item URLs (with the title and date it announces); the article text always comes
from the item's own page. When a page cannot be read or has no main text the item is skipped
with the reason: a feed's summary is never stored as an article's text.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
import xml.sax
from dataclasses import dataclass
from typing import Any

from index.dates import parse_date
from index.errors import ParseError
from index.model import Article, PartialDate, clean_url
from index.parse import make_article


@dataclass(frozen=True)
class FeedItem:
    url: str
    title: str = ""
    published: str | None = None  # as the feed gives it


@dataclass(frozen=True)
class Feed:
    kind: str  # "rss", "atom", "sitemap", "sitemapindex"
    title: str
    items: tuple[FeedItem, ...]
    sitemaps: tuple[str, ...] = ()  # a sitemap index: the sitemaps it lists


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_feed(body: bytes) -> Feed:
    """A feed or sitemap from its bytes; ParseError when it is neither (not XML, truncated,
    or XML of another kind)."""
    head = body.lstrip()[:2048].lower()
    if not head.startswith(b"<"):
        raise ParseError("not XML: the feed does not start with a tag")
    if b"<urlset" in head or b"<sitemapindex" in head:
        return _sitemap(body)
    import feedparser

    parsed: Any = feedparser.parse(body)
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if isinstance(problem, xml.sax.SAXParseException):  # cut off half-way, or not XML at all
        raise ParseError(f"truncated or malformed feed XML: {problem.getMessage()}")
    if problem is not None and not parsed.entries:
        raise ParseError(f"not a readable feed: {problem}")
    version = str(parsed.get("version") or "")
    if not version:
        raise ParseError("XML, but not an RSS, Atom or sitemap document")
    items = []
    for e in parsed.entries:
        link = e.get("link") or ""
        if not link:
            continue
        items.append(
            FeedItem(str(link), str(e.get("title") or ""), e.get("published") or e.get("updated"))
        )
    title = str(parsed.feed.get("title") or "")
    return Feed("atom" if version.startswith("atom") else "rss", title, tuple(items))


def _sitemap(body: bytes) -> Feed:
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise ParseError(f"truncated or invalid sitemap XML: {exc}") from None
    kind = _local(root.tag)
    if kind == "sitemapindex":
        locs = [(c.text or "").strip() for c in root.iter() if _local(c.tag) == "loc"]
        return Feed("sitemapindex", "", (), tuple(u for u in locs if u))
    if kind != "urlset":
        raise ParseError(f"XML root <{kind}> is not a sitemap")
    items = []
    for url in root:
        if _local(url.tag) != "url":
            continue
        loc = title = date = ""
        for node in url.iter():
            name = _local(node.tag)
            text = (node.text or "").strip()
            if name == "loc" and not loc:
                loc = text
            elif name == "title":  # news:title
                title = text
            elif name in ("publication_date", "lastmod") and not date:
                date = text
        if loc:
            items.append(FeedItem(loc, title, date or None))
    return Feed("sitemap", "", tuple(items))


_LANG = re.compile(r"<html[^>]*\blang=[\"']?([A-Za-z-]{2,12})", re.I)


def page_article(html: str, url: str, item: FeedItem | None = None) -> Article:
    """The main text and metadata of an article page; ParseError when it holds no text."""
    import trafilatura

    raw = trafilatura.extract(
        html,
        url=url,
        output_format="json",
        with_metadata=True,
        include_comments=False,  # (no deduplicate: its cache is global, a second copy of a
        # text would come out empty)
    )
    data: dict[str, Any] = json.loads(raw) if raw else {}
    text = str(data.get("text") or "").strip()
    if len(text.split()) < 20:
        raise ParseError("the page has no article text (under 20 words)")
    title = str(data.get("title") or (item.title if item else "") or "").strip()
    if title and text.startswith(title + "\n"):
        text = text[len(title) + 1 :].lstrip()
    published: PartialDate | None = parse_date(data.get("date")) if data.get("date") else None
    if published is None and item is not None and item.published:
        published = parse_date(item.published)
    canonical = str(data.get("source") or "")
    url_kept = canonical if canonical.startswith(("http://", "https://")) else url
    lang = data.get("language") or (m.group(1) if (m := _LANG.search(html[:4000])) else None)
    article = make_article(
        title=title or url,
        text=text,
        source=str(
            data.get("sitename") or data.get("source-hostname") or data.get("hostname") or ""
        )
        or None,
        author=str(data.get("author") or "") or None,
        published=published,
        url=clean_url(url_kept),
    )
    if lang:
        from dataclasses import replace

        article = replace(article, language=str(lang).lower())
    return article
