"""Real MiniLM over the seed plus the whole BBC set: the Guilin passage comes first."""

from __future__ import annotations

import pytest

from tests.conftest import GUILIN_Q

pytestmark = pytest.mark.slow


def test_guilin_passage_first_over_bbc(bbc_corpus) -> None:
    # every file of the BBC folder (its README.TXT too) and the seed was read; the BBC set
    # holds exact duplicates, which are stored once
    from index.parse import iter_files, parse_path
    from tests.conftest import BBC, EXAMPLES

    distinct = len(set(bbc_corpus.report.added))
    files = list(iter_files([EXAMPLES, BBC]))
    assert bbc_corpus.report.files == len(files) > 2000
    ids = {a.id for f in files for a in parse_path(f).articles}
    assert distinct == len(ids) < len(files)  # one article per distinct text
    assert bbc_corpus.store.count_articles() == distinct
    for method in ("hybrid", "dense", "bm25"):
        top = bbc_corpus.retriever.search(GUILIN_Q, k=5, method=method)[0]
        assert "regional security dialogue platform" in top.text, method
        assert top.source == "PTI" and top.published == "--03-23"
        record = bbc_corpus.store.get_articles([top.article_id])[top.article_id]
        assert record.article.text[top.start : top.end] == top.text


def test_bbc_questions_find_their_article(bbc_corpus) -> None:
    got = bbc_corpus.retriever.search("Time Warner quarterly profits advertising sales", k=3)
    assert got[0].title == "Ad sales boost Time Warner profit"
    got = bbc_corpus.retriever.search("Why did Chelsea sack Adrian Mutu?", k=3)
    assert any(p.title == "Chelsea sack Mutu" for p in got)


def test_reingest_of_bbc_is_a_noop(bbc_corpus) -> None:
    from tests.conftest import BBC, EXAMPLES

    before = bbc_corpus.store.count_chunks()
    report = bbc_corpus.ingester.ingest_paths([EXAMPLES, BBC])
    assert len(report.unchanged) == bbc_corpus.store.count_articles() and report.chunks == 0
    assert bbc_corpus.store.count_chunks() == before
