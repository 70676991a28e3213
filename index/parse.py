"""Files -> ``Article`` records: plain text (wire copy, BBC), Markdown, HTML, JSON, JSONL.

``parse_path`` never raises for a bad record inside a good file: it reports it as a problem
and goes on. A file that cannot be read at all raises ``ParseError`` with the reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.dates import MONTH_RE, parse_date
from index.errors import ParseError
from index.model import Article, PartialDate, article_id_for, content_hash

TEXT_EXT = {".txt", ".text", ""}
MD_EXT = {".md", ".markdown"}
HTML_EXT = {".html", ".htm", ".xhtml"}
JSON_EXT = {".json"}
JSONL_EXT = {".jsonl", ".ndjson"}
KNOWN_EXT = TEXT_EXT | MD_EXT | HTML_EXT | JSON_EXT | JSONL_EXT
MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass
class ParseResult:
    """Articles read from one file, and per-record problems ('line 3: invalid JSON ...')."""

    path: Path
    articles: list[Article] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Expand folders recursively (sorted, hidden entries skipped); files pass through."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                if child.is_file() and not any(p.startswith(".") for p in rel.parts):
                    yield child
        else:
            yield path


def decode_bytes(raw: bytes, name: str = "input") -> str:
    """UTF-8 first (BOM tolerated), then a detected encoding, then Latin-1. Rejects binary."""
    if not raw.strip():
        raise ParseError(f"{name}: empty file")
    if b"\x00" in raw[:8192]:
        raise ParseError(f"{name}: binary file (contains NUL bytes)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(raw).best()
        text = str(best) if best is not None else raw.decode("latin-1")
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > max(8, len(text[:8192]) // 100):
        raise ParseError(f"{name}: looks binary ({controls} control characters)")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_path(path: Path) -> ParseResult:
    """Read one file into articles. Raises ParseError when the file as a whole is unusable."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ParseError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not path.is_file():
        raise ParseError(f"{path}: not a regular file (a device, pipe or socket)")
    if size > MAX_FILE_BYTES:
        raise ParseError(f"{path}: too large ({size} bytes > {MAX_FILE_BYTES})")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ParseError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return parse_bytes(raw, path.name, path=str(path))


def parse_bytes(raw: bytes, filename: str, path: str | None = None) -> ParseResult:
    """Parse file content by extension, sniffing the content when the extension is unknown."""
    text = decode_bytes(raw, path or filename)
    ext = Path(filename).suffix.lower()
    result = ParseResult(Path(path or filename))
    kind = _kind(ext, text)
    if kind == "json":
        records, problems = _json_records(text)
        result.problems.extend(problems)
        records_to_articles(records, path, result)
    elif kind == "jsonl":
        records = []
        for lineno, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                result.problems.append(f"line {lineno}: invalid JSON ({exc.msg})")
                continue
            records.append((f"line {lineno}", obj))
        records_to_articles(records, path, result)
    elif kind == "html":
        result.articles.append(parse_html(text, path))
    elif kind == "markdown":
        result.articles.append(parse_markdown(text, path))
    else:
        result.articles.append(parse_plain_text(text, path))
    if not result.articles and not result.problems:
        result.problems.append("no article found")
    return result


def _kind(ext: str, text: str) -> str:
    head = text.lstrip()[:512].lower()
    if ext in JSONL_EXT:
        return "jsonl"
    if ext in JSON_EXT:
        return "json"
    if ext in HTML_EXT:
        return "html"
    if ext in MD_EXT:
        return "markdown"
    if ext not in TEXT_EXT:
        # unknown extension: trust the content, not the name
        if head.startswith(("<!doctype html", "<html")) or "<body" in head:
            return "html"
        if head.startswith(("{", "[")):
            return "jsonl" if "\n{" in text.strip() else "json"
    return "text"


def _json_records(text: str) -> tuple[list[tuple[str, Any]], list[str]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        # a .json file holding JSON lines is common enough to accept
        if "\n" in text.strip():
            records: list[tuple[str, Any]] = []
            problems: list[str] = []
            for lineno, line in enumerate(text.split("\n"), 1):
                if line.strip():
                    try:
                        records.append((f"line {lineno}", json.loads(line)))
                    except json.JSONDecodeError as e2:
                        problems.append(f"line {lineno}: invalid JSON ({e2.msg})")
            if records:
                return records, problems
        raise ParseError(f"invalid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(data, dict) and isinstance(data.get("articles"), list):
        data = data["articles"]
    if isinstance(data, list):
        return [(f"record {i}", obj) for i, obj in enumerate(data)], []
    return [("record 0", data)], []


_FIELDS = {
    "title": ("title", "headline", "name"),
    "text": ("text", "content", "body", "article", "maintext", "story"),
    "url": ("url", "link", "canonical_url", "source_url"),
    "source": ("source", "publisher", "site", "sitename", "outlet", "agency"),
    "author": ("author", "authors", "byline", "creator"),
    "published": ("published", "date", "published_at", "publishedAt", "pubDate", "datetime"),
}


def _field(obj: dict[str, Any], role: str) -> str | None:
    for key in _FIELDS[role]:
        value = obj.get(key)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = ", ".join(v.strip() for v in value if v.strip())
        if isinstance(value, dict) and role == "source":
            value = value.get("name")
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            text = str(value).strip()
            if text:
                return text
    return None


def records_to_articles(
    records: list[tuple[str, Any]], path: str | None, result: ParseResult
) -> None:
    for where, obj in records:
        if not isinstance(obj, dict):
            result.problems.append(f"{where}: not a JSON object")
            continue
        body = _field(obj, "text")
        if not body:
            result.problems.append(f"{where}: no text (expected one of text/content/body)")
            continue
        body = body.replace("\r\n", "\n").strip()
        meta = _wire_metadata(body)
        published_raw = _field(obj, "published")
        published = parse_date(published_raw) if published_raw else meta.published
        result.articles.append(
            make_article(
                title=_field(obj, "title") or _fallback_title(body),
                text=meta.text,
                source=_field(obj, "source") or meta.source,
                author=_field(obj, "author") or meta.author,
                published=published,
                url=_field(obj, "url"),
                dateline=meta.dateline,
                path=path,
            )
        )


def make_article(
    *,
    title: str,
    text: str,
    source: str | None = None,
    author: str | None = None,
    published: PartialDate | None = None,
    url: str | None = None,
    dateline: str | None = None,
    path: str | None = None,
) -> Article:
    """Build an ``Article`` with its stable id and content hash. Raises ParseError if empty."""
    title = " ".join(title.split())[:500]
    if not text.strip():
        raise ParseError("article has no text")
    return Article(
        id=article_id_for(url, title, text),
        title=title or _fallback_title(text),
        text=text,
        source=source,
        author=author,
        published=published,
        url=url,
        dateline=dateline,
        path=path,
        content_hash=content_hash(title, text),
    )


def _fallback_title(text: str) -> str:
    first = text.strip().split("\n", 1)[0]
    return first if len(first) <= 120 else first[:117].rsplit(" ", 1)[0] + "..."


# --- plain text: wire copy and BBC shapes -------------------------------------------------

_READ_TIME = re.compile(r"^[\W_]*\d+[\s-]*min(?:ute)?s?\.?[\s-]*read\W*$", re.I)
_BYLINE = re.compile(r"^(?:by\s+)?((?:[A-Z][\w'’.-]*\.?\s*){1,6})$")
_DATELINE = re.compile(
    rf"^(?P<place>[A-Z][A-Za-z.'’ -]{{1,40}}?)"
    rf"(?:,\s*(?P<date>{MONTH_RE}\s+\d{{1,2}}(?:,?\s+\d{{4}})?|\d{{1,2}}\s+{MONTH_RE}(?:\s+\d{{4}})?))?"
    rf"\s*\((?P<agency>[A-Z][A-Za-z]{{1,12}})\)\s*(?:[-–—:]\s*)?"
)


@dataclass
class _WireMeta:
    text: str
    source: str | None = None
    author: str | None = None
    published: PartialDate | None = None
    dateline: str | None = None


def _wire_metadata(body: str) -> _WireMeta:
    """Dateline ('Beijing, Mar 23 (PTI)') and trailing agency slugs ('PTI KJV RS')."""
    meta = _WireMeta(text=body)
    m = _DATELINE.match(body)
    if m:
        meta.dateline = m.group(0).strip().rstrip("-–—:").strip()
        meta.source = m.group("agency")
        if m.group("date"):
            meta.published = parse_date(m.group("date"))
        slug = re.search(rf"\s+{re.escape(m.group('agency'))}(?:\s+[A-Z]{{2,5}})+\s*$", body)
        if slug:
            meta.text = body[: slug.start()]
    return meta


def parse_plain_text(text: str, path: str | None = None) -> Article:
    """Headline on the first line; optional byline/date/read-time lines; then the body."""
    lines = text.split("\n")
    idx = 0
    while idx < len(lines) and not lines[idx].strip():
        idx += 1
    if idx == len(lines):
        raise ParseError("no text")
    title = lines[idx].strip()
    idx += 1
    author: str | None = None
    published: PartialDate | None = None
    # header lines: short lines before the first real paragraph
    while idx < len(lines):
        line = lines[idx].strip()
        if not line:
            idx += 1
            continue
        if len(line) > 80 or (re.search(r"[.!?\"”]$", line) and len(line.split()) > 6):
            break
        if _READ_TIME.match(line) or re.match(r"^(updated|published)\b", line, re.I):
            date = parse_date(line)
            published = published or date
            idx += 1
            continue
        date = parse_date(line) if re.search(r"\d", line) else None
        if date is not None and len(line.split()) <= 8:
            published = published or date
            idx += 1
            continue
        m = _BYLINE.match(line)
        if m and author is None and not _DATELINE.match(line):
            author = " ".join(m.group(1).split())
            idx += 1
            continue
        break
    if idx >= len(lines):
        # a single-line file: the line is both headline and text
        body = title
    else:
        offset = sum(len(x) + 1 for x in lines[:idx])
        body = text[offset:].strip()
    meta = _wire_metadata(body)
    return make_article(
        title=title,
        text=meta.text,
        source=meta.source,
        author=author,
        published=meta.published or published,
        dateline=meta.dateline,
        path=path,
    )


# --- Markdown -----------------------------------------------------------------------------


def parse_markdown(text: str, path: str | None = None) -> Article:
    """Front matter (title, date, author, url, source), a '# ' heading, body as plain text."""
    front: dict[str, Any] = {}
    m = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    if m:
        import yaml

        try:
            loaded = yaml.safe_load(m.group(1))
        except yaml.YAMLError:
            loaded = None
        if isinstance(loaded, dict):
            front = {str(k): v for k, v in loaded.items()}
        text = text[m.end() :]
    title = str(front.get("title") or "").strip()
    heading = re.search(r"^#\s+(.+?)\s*#*\s*$", text, re.M)
    if heading and (not title or heading.group(1).strip() == title):
        title = title or heading.group(1).strip()
        text = text[: heading.start()] + text[heading.end() :]
    body = _markdown_to_text(text).strip()
    if not title:
        first, _, rest = body.partition("\n")
        title, body = first.strip(), rest.strip() or first.strip()
    meta = _wire_metadata(body)
    fm = {k: str(v) for k, v in front.items() if v is not None}
    published = parse_date(fm.get("date") or fm.get("published")) or meta.published
    return make_article(
        title=title,
        text=meta.text,
        source=fm.get("source") or meta.source,
        author=fm.get("author") or meta.author,
        published=published,
        url=fm.get("url"),
        dateline=meta.dateline,
        path=path,
    )


def _markdown_to_text(md: str) -> str:
    md = re.sub(r"```.*?```", "", md, flags=re.S)
    md = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", md)
    md = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", md)
    md = re.sub(r"^#{1,6}\s+", "", md, flags=re.M)
    md = re.sub(r"^>\s?", "", md, flags=re.M)
    md = re.sub(r"(\*\*|__)(.+?)\1", r"\2", md)
    md = re.sub(r"(?<!\w)([*_])(\S.*?\S|\S)\1(?!\w)", r"\2", md)
    md = re.sub(r"`([^`]*)`", r"\1", md)
    md = re.sub(r"<[^>]+>", "", md)
    return re.sub(r"\n{3,}", "\n\n", md)


# --- HTML ---------------------------------------------------------------------------------


def parse_html(html: str, path: str | None = None) -> Article:
    """Main text and metadata by trafilatura (scripts, styles and boilerplate dropped)."""
    import trafilatura

    raw = trafilatura.extract(
        html, output_format="json", with_metadata=True, include_comments=False
    )
    if not raw:
        raise ParseError("HTML has no extractable main text")
    data = json.loads(raw)
    text = (data.get("text") or "").strip()
    title = (data.get("title") or "").strip()
    if title and text.startswith(title + "\n"):
        text = text[len(title) + 1 :].lstrip()
    if not text:
        raise ParseError("HTML has no extractable main text")
    meta = _wire_metadata(text)
    return make_article(
        title=title or _fallback_title(text),
        text=meta.text,
        source=data.get("sitename") or meta.source or data.get("hostname"),
        author=data.get("author") or meta.author,
        published=parse_date(data.get("date")) or meta.published,
        url=data.get("source") if str(data.get("source") or "").startswith("http") else None,
        dateline=meta.dateline,
        path=path,
    )
