"""Article parsing: the seed's wire-copy shape, BBC, Markdown, HTML, JSON(L), bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.errors import ParseError
from index.model import PartialDate
from index.parse import parse_bytes, parse_path
from tests.conftest import BBC, SEED


def test_seed_article_metadata() -> None:
    [a] = parse_path(SEED).articles
    assert (
        a.title == "China, Russia FMs attacks US, EU; propose regional security dialogue platform"
    )
    assert a.author == "K J M Varma"
    assert a.source == "PTI"
    assert a.dateline == "Beijing, Mar 23 (PTI)"
    # "Mar 23" has no year: it stays partial, never a guessed year
    assert a.published == PartialDate(None, 3, 23)
    assert a.published.human() == "23 March"
    assert a.published.iso() == "--03-23"
    assert a.text.startswith("Beijing, Mar 23 (PTI) China and Russia proposed")
    # agency slugs at the end are metadata, not text
    assert not a.text.rstrip().endswith("RS")
    assert a.text.endswith("without being punished,” she said.")
    assert "4-min read" not in a.text


def test_bbc_shape_and_latin1_file() -> None:
    if not BBC.is_dir():
        pytest.skip("BBC data not available")
    [a] = parse_path(BBC / "business" / "001.txt").articles
    assert a.title == "Ad sales boost Time Warner profit"
    assert a.text.startswith("Quarterly profits at US media giant TimeWarner")
    assert a.author is None and a.published is None  # nothing invented
    [latin] = parse_path(BBC / "sport" / "199.txt").articles  # the Latin-1 file
    assert latin.title and "\ufffd" not in latin.text


def test_markdown_with_front_matter() -> None:
    md = (
        "---\ntitle: Floods in Valencia\ndate: 2024-10-30\nauthor: Ana Ruiz\n"
        "url: https://example.com/valencia?utm_source=x\nsource: Example News\n---\n"
        "# Floods in Valencia\n\nHeavy rain **flooded** the [city](https://x.y) on Tuesday.\n"
    )
    [a] = parse_bytes(md.encode(), "valencia.md").articles
    assert a.title == "Floods in Valencia"
    assert a.published == PartialDate(2024, 10, 30)
    assert a.author == "Ana Ruiz" and a.source == "Example News"
    assert a.text == "Heavy rain flooded the city on Tuesday."
    # the id comes from the canonical URL: tracking parameters do not change it
    [b] = parse_bytes(md.replace("?utm_source=x", "").encode(), "v2.md").articles
    assert a.id == b.id


def test_html_main_text_without_scripts() -> None:
    html = (
        "<html><head><title>Port strike ends</title>"
        "<meta name='author' content='Li Wei'>"
        "<meta property='article:published_time' content='2023-05-02'>"
        "<style>p{color:red}</style></head><body><nav>Home | World</nav><article>"
        "<h1>Port strike ends</h1><p>Dock workers in Rotterdam ended a week-long strike on "
        "Tuesday after unions accepted a new pay offer from the port operators.</p>"
        "<script>alert('steal cookies')</script><p>Shipping lines expect the backlog of "
        "containers to clear within ten days, the port authority said.</p></article></body></html>"
    )
    [a] = parse_bytes(html.encode(), "strike.html").articles
    assert a.title == "Port strike ends"
    assert "Rotterdam" in a.text and "backlog" in a.text
    assert "alert" not in a.text and "color:red" not in a.text and "Home | World" not in a.text
    assert a.published == PartialDate(2023, 5, 2)


def test_jsonl_records_and_bad_line() -> None:
    rows = [
        {
            "title": "A",
            "text": "Alpha text here.",
            "url": "https://e.com/a",
            "date": "2022-01-05",
            "source": "Wire",
            "author": ["X", "Y"],
        },
        "not json {",
        {"headline": "B", "content": "Beta text here.", "published": "March 4, 2021"},
        {"title": "C"},
    ]
    raw = "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows).encode()
    result = parse_bytes(raw, "feed.jsonl")
    assert [a.title for a in result.articles] == ["A", "B"]
    assert result.articles[0].author == "X, Y"
    assert result.articles[0].published == PartialDate(2022, 1, 5)
    assert result.articles[1].published == PartialDate(2021, 3, 4)
    assert any("line 2" in p and "invalid JSON" in p for p in result.problems)
    assert any("line 4" in p and "no text" in p for p in result.problems)


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "empty"), (b"   \n\n", "empty"), (b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "binary")],
)
def test_unusable_files_raise_with_reason(tmp_path: Path, content: bytes, reason: str) -> None:
    f = tmp_path / "bad.txt"
    f.write_bytes(content)
    with pytest.raises(ParseError, match=reason):
        parse_path(f)


def test_invalid_json_file(tmp_path: Path) -> None:
    f = tmp_path / "x.json"
    f.write_text('{"title": "a", ')
    with pytest.raises(ParseError, match="invalid JSON"):
        parse_path(f)


def test_file_lying_about_type_is_sniffed() -> None:
    html = b"<!DOCTYPE html><html><body><article><p>" + b"Lorem ipsum dolor sit amet. " * 20
    html += b"</p></article></body></html>"
    [a] = parse_bytes(html, "story.dat").articles
    assert "<p>" not in a.text and "Lorem ipsum" in a.text
