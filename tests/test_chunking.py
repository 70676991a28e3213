"""Chunk offsets round-trip and chunks fit MiniLM's window."""

from __future__ import annotations

import itertools

import pytest

from index.chunking import SentenceChunker, embedding_text, sentence_spans
from index.parse import make_article, parse_path
from tests.conftest import BBC, SEED


def test_offsets_round_trip_on_seed_and_bbc() -> None:
    articles = parse_path(SEED).articles
    if BBC.is_dir():
        for f in sorted((BBC / "politics").glob("*.txt"))[:60]:
            articles += parse_path(f).articles
    chunker = SentenceChunker(max_tokens=200, overlap=1)
    for a in articles:
        chunks = chunker.split(a)
        assert chunks
        for c in chunks:
            assert a.text[c.start : c.end] == c.text
        # every sentence is covered by some chunk
        covered = set()
        for c in chunks:
            covered.update(range(c.start, c.end))
        for s, e in sentence_spans(a.text):
            assert s in covered and e - 1 in covered
        # consecutive chunks overlap by one sentence
        for x, y in itertools.pairwise(chunks):
            assert y.start < x.end


def test_sentence_splitter_respects_abbreviations() -> None:
    text = "Mr. Smith went to Washington. The U.S. Senate met on Mar. 3 at 10 a.m. today. Done!"
    spans = [text[s:e] for s, e in sentence_spans(text)]
    assert spans == [
        "Mr. Smith went to Washington.",
        "The U.S. Senate met on Mar. 3 at 10 a.m. today.",
        "Done!",
    ]


def test_a_question_mark_before_a_lower_case_word_does_not_end_the_sentence() -> None:
    text = (
        "The French bulldog is now the most popular (pup-ular?) dog breed of 2022. "
        '"Why not?" she asked. Is it? Yes.'
    )
    spans = [text[s:e] for s, e in sentence_spans(text)]
    assert spans == [
        "The French bulldog is now the most popular (pup-ular?) dog breed of 2022.",
        '"Why not?" she asked.',
        "Is it?",
        "Yes.",
    ]


def test_overlong_sentence_is_cut_at_words() -> None:
    a = make_article(title="t", text=" ".join(["word"] * 1000) + ".")
    chunks = SentenceChunker(max_tokens=100, overlap=0).split(a)
    assert len(chunks) > 5
    assert all(a.text[c.start : c.end] == c.text for c in chunks)


@pytest.mark.slow
def test_chunks_fit_minilm_window(minilm) -> None:
    [a] = parse_path(SEED).articles
    for c in SentenceChunker().split(a):
        pieces = minilm.count_tokens(embedding_text(a.title, None, c.text)) + 2
        assert pieces <= minilm.max_seq_length, pieces
