"""The package's own value types: ``PartialDate``, ``Article``, ``Chunk``, ``Passage``."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True, order=True)
class PartialDate:
    """A calendar date whose parts may be unknown. A missing year is never guessed."""

    year: int | None = None
    month: int | None = None
    day: int | None = None

    def __post_init__(self) -> None:
        if self.month is not None and not 1 <= self.month <= 12:
            raise ValueError(f"month out of range: {self.month}")
        if self.day is not None and not 1 <= self.day <= 31:
            raise ValueError(f"day out of range: {self.day}")
        if self.year is not None and self.month is not None and self.day is not None:
            dt.date(self.year, self.month, self.day)  # raises on 31 February

    @property
    def complete(self) -> bool:
        return None not in (self.year, self.month, self.day)

    def to_date(self) -> dt.date | None:
        if self.year is None or self.month is None or self.day is None:
            return None
        return dt.date(self.year, self.month, self.day)

    def ordinal(self) -> int | None:
        """Days since 1970-01-01 for complete dates (used for range filters), else None."""
        d = self.to_date()
        return None if d is None else (d - _EPOCH).days

    def iso(self) -> str:
        """ISO 8601 where possible; a date without year is ``--MM-DD``."""
        if self.year is not None:
            out = f"{self.year:04d}"
            if self.month is not None:
                out += f"-{self.month:02d}"
                if self.day is not None:
                    out += f"-{self.day:02d}"
            return out
        if self.month is not None and self.day is not None:
            return f"--{self.month:02d}-{self.day:02d}"
        if self.month is not None:
            return f"--{self.month:02d}"
        return ""

    def human(self) -> str:
        """'23 March 2021', '23 March' (no year known), 'March 2021', '2021'."""
        parts: list[str] = []
        if self.day is not None:
            parts.append(str(self.day))
        if self.month is not None:
            parts.append(dt.date(2000, self.month, 1).strftime("%B"))
        if self.year is not None:
            parts.append(str(self.year))
        return " ".join(parts)

    @classmethod
    def from_iso(cls, text: str) -> PartialDate | None:
        m = re.fullmatch(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", text)
        if m:
            y, mo, d = m.groups()
            return cls(int(y), int(mo) if mo else None, int(d) if d else None)
        m = re.fullmatch(r"--(\d{2})(?:-(\d{2}))?", text)
        if m:
            mo, d = m.groups()
            return cls(None, int(mo), int(d) if d else None)
        return None


@dataclass(frozen=True)
class Article:
    """One news article. ``text`` is the body that chunk offsets and citation spans index."""

    id: str
    title: str
    text: str
    source: str | None = None
    author: str | None = None
    published: PartialDate | None = None
    url: str | None = None
    dateline: str | None = None
    path: str | None = None
    content_hash: str = ""
    language: str | None = None
    story: str | None = None  # shared by near-duplicate copies (the same wire story)

    def metadata(self) -> dict[str, str | int]:
        """Flat, None-free metadata as stored beside every chunk in Chroma."""
        meta: dict[str, str | int] = {"article_id": self.id, "title": self.title}
        for key in ("source", "author", "url", "dateline", "path", "language", "story"):
            value = getattr(self, key)
            if value:
                meta[key] = value
        if self.published is not None:
            meta["published"] = self.published.iso()
            ordinal = self.published.ordinal()
            if ordinal is not None:
                meta["published_day"] = ordinal
        meta["dated"] = 1 if "published_day" in meta else 0
        meta["content_hash"] = self.content_hash
        return meta


@dataclass(frozen=True)
class Chunk:
    """A slice of an article: ``article.text[start:end] == text``."""

    id: str
    article_id: str
    position: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its article's metadata and the scores that ranked it."""

    chunk_id: str
    article_id: str
    title: str
    text: str
    start: int
    end: int
    source: str | None = None
    published: str | None = None
    url: str | None = None
    author: str | None = None
    score: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)
    story: str | None = None  # near-duplicate copies of one story share it

    @property
    def published_date(self) -> PartialDate | None:
        return PartialDate.from_iso(self.published) if self.published else None


_TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ref|cmpid|ocid)$", re.I)


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop fragment, tracking parameters and trailing slash."""
    parts = urlsplit(url.strip())
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query) if not _TRACKING.match(k)))
    host = parts.netloc.lower().removeprefix("www.")
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower() or "https", host, path, query, ""))


def clean_url(url: str) -> str:
    """The URL without its fragment and tracking parameters (what is stored and cited)."""
    parts = urlsplit(url.strip())
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if not _TRACKING.match(k)])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def normalise_text(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def content_hash(title: str, text: str) -> str:
    """Hash of the normalised title and text: whitespace and case changes are not changes."""
    digest = hashlib.sha256(f"{normalise_text(title)}\n{normalise_text(text)}".encode())
    return digest.hexdigest()[:32]


def article_id_for(url: str | None, title: str, text: str) -> str:
    """Stable id: from the canonical URL when there is one, else from the content."""
    if url:
        return "u" + hashlib.sha256(canonical_url(url).encode()).hexdigest()[:20]
    return "c" + content_hash(title, text)[:20]


def chunk_id_for(article_id: str, position: int, text: str) -> str:
    return f"{article_id}:{position}:{hashlib.sha256(text.encode()).hexdigest()[:10]}"


@dataclass(frozen=True)
class Filters:
    """Metadata filters: any of ``sources``; published date within [date_from, date_to].

    Date bounds only match articles whose date is complete (a date without a year cannot be
    placed in a range).
    """

    sources: tuple[str, ...] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    article_ids: tuple[str, ...] = ()
    # the archive as it stood on this day: dated articles published later are excluded,
    # undated ones (or dates without a year) are kept
    as_of: dt.date | None = None

    def __post_init__(self) -> None:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError(f"date_from {self.date_from} is after date_to {self.date_to}")

    @property
    def empty(self) -> bool:
        return not (
            self.sources or self.date_from or self.date_to or self.article_ids or self.as_of
        )

    def day_range(self) -> tuple[int | None, int | None]:
        lo = (self.date_from - _EPOCH).days if self.date_from else None
        hi = (self.date_to - _EPOCH).days if self.date_to else None
        return lo, hi

    def to_where(self) -> dict[str, object] | None:
        """The Chroma ``where`` clause for these filters (None when empty)."""
        clauses: list[dict[str, object]] = []
        if self.sources:
            clauses.append({"source": {"$in": list(self.sources)}})
        if self.article_ids:
            clauses.append({"article_id": {"$in": list(self.article_ids)}})
        lo, hi = self.day_range()
        if lo is not None:
            clauses.append({"published_day": {"$gte": lo}})
        if hi is not None:
            clauses.append({"published_day": {"$lte": hi}})
        if self.as_of is not None:
            day = (self.as_of - _EPOCH).days
            clauses.append({"$or": [{"dated": 0}, {"published_day": {"$lte": day}}]})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def accepts(self, meta: dict[str, object]) -> bool:
        """The same test as ``to_where``, in Python (for the keyword index)."""
        if self.sources and meta.get("source") not in self.sources:
            return False
        if self.article_ids and meta.get("article_id") not in self.article_ids:
            return False
        lo, hi = self.day_range()
        if lo is not None or hi is not None:
            day = meta.get("published_day")
            if not isinstance(day, int):
                return False
            if (lo is not None and day < lo) or (hi is not None and day > hi):
                return False
        if self.as_of is not None:
            day = meta.get("published_day")
            if isinstance(day, int) and day > (self.as_of - _EPOCH).days:
                return False
        return True
