"""Time and stories in the ranking: a named window, a named past year, the widening of an
empty window, and near-duplicate wire copies taking one slot (hash embedder: milliseconds)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from pydantic import ValidationError

from index.chunking import SentenceChunker
from index.embedder import HashEmbedder
from index.ingest import Ingester
from index.keyword import BM25Index
from index.model import PartialDate
from index.parse import make_article
from index.retrieval import HybridRetriever
from index.store import ChromaStore
from qa.engine import Engine
from qa.options import EngineOptions
from qa.settings import AnswerSettings
from qa.similarity import TextSimilarity
from qa.timewords import analyse
from qa.verifier import RuleVerifier

TODAY = dt.date(2023, 1, 10)
OLD = "The city council of Halden voted to raise the parking fee to 3 euros, the mayor said."
NEW = "The city council of Halden voted to raise the parking fee to 5 euros, the mayor said."
WIRE = (
    "Flooding along the Rhine forced the evacuation of 2,000 residents near Cologne on Monday,"
    " emergency services said. Water levels rose by two metres overnight after days of rain."
    " Schools in the area were closed and trains between Bonn and Cologne were suspended."
)


def engine_over(*articles):
    embedder = HashEmbedder()
    store = ChromaStore.ephemeral(f"time-{uuid.uuid4().hex[:8]}")
    keyword = BM25Index(None)
    Ingester(store, keyword, embedder, SentenceChunker()).ingest_articles(list(articles))
    retriever = HybridRetriever(store, keyword, embedder)
    verifier = RuleVerifier(TextSimilarity(embedder))
    return Engine(retriever, verifier, {}, "extractive", EngineOptions(min_topical=0.2))


def article(text: str, date: PartialDate, source: str, title: str = "Halden parking fee"):
    return make_article(title=title, text=text, source=source, published=date)


@pytest.fixture(scope="module")
def halden():
    return engine_over(
        article(OLD, PartialDate(2019, 1, 8), "Old Gazette"),
        article(NEW, PartialDate(2023, 1, 9), "New Herald"),
    )


def test_this_week_cites_the_recent_article(halden) -> None:
    answer = halden.answer("What parking fee did Halden set this week?", as_of=TODAY)
    assert [c.source for c in answer.citations] == ["New Herald"], answer.text
    assert answer.trace is not None
    assert any(
        "'this week' -> published in the 8 days up to 2023-01-10" in n
        for n in answer.trace.time_notes
    )
    assert not answer.warnings


def test_a_named_past_year_cites_the_old_article(halden) -> None:
    answer = halden.answer("What parking fee did Halden set in 2019?", as_of=TODAY)
    assert [c.source for c in answer.citations] == ["Old Gazette"], answer.text
    assert answer.trace is not None
    assert "a past time is named: no recency prior" in answer.trace.time_notes


def test_an_empty_window_widens_and_says_so(halden) -> None:
    later = dt.date(2023, 3, 1)  # nothing in the week before: widened to 32 days, then 128
    answer = halden.answer("What parking fee did Halden set this week?", as_of=later)
    assert answer.trace is not None
    notes = " ".join(answer.trace.time_notes)
    assert "nothing in the window; widened to 32 days" in notes
    assert [c.source for c in answer.citations] == ["New Herald"]
    assert any("('this week') matches: the sources found are older" in w for w in answer.warnings)


def test_five_wire_copies_take_one_slot() -> None:
    sites = ["Reuters Daily", "Courier", "Post", "Herald", "Tribune"]
    copies = [
        article(
            WIRE.replace("on Monday", f"on Monday ({s})"),
            PartialDate(2023, 1, 9),
            s,
            "Rhine floods",
        )
        for s in sites
    ]
    other = article(
        "Flood defences on the Elbe held as water levels fell near Dresden, officials said on Monday.",
        PartialDate(2023, 1, 9),
        "Elbe News",
        "Elbe defences hold",
    )
    eng = engine_over(*copies, other)
    answer = eng.answer("How many residents were evacuated near Cologne?", as_of=TODAY)
    assert answer.trace is not None
    titles = [p["title"] for p in answer.trace.passages]
    assert titles.count("Rhine floods") == 1 and "Elbe defences hold" in titles
    cite = answer.citations[0]
    assert "2,000" in cite.quote and cite.outlets == 5 and len(cite.also_in) == 4


@pytest.mark.parametrize(
    ("question", "days"),
    [
        ("Which football team won the Carabao Cup final on Sunday?", 8),
        ("The former CEO of which company testified Wednesday during a Senate hearing?", 8),
        ("The arrival carpet at this Sunday’s Oscars will not be its usual red. What color?", 8),
        ("Which striker scored last Saturday?", 15),
        ("How much did shoppers spend on Black Friday?", None),
        ("Who won the Super Bowl Sunday halftime vote?", None),
        ("Who plays the lead in Netflix's Wednesday?", None),
        ("Which team won on Sunday in 2019?", None),  # a past year: no window, no recency
    ],
)
def test_a_weekday_names_the_last_seven_days(question: str, days: int | None) -> None:
    scope = analyse(question, TODAY)
    assert scope.window_days == days, scope.notes


def test_a_weekday_question_cites_the_recent_article(halden) -> None:
    answer = halden.answer("What parking fee did Halden set on Monday?", as_of=TODAY)
    assert [c.source for c in answer.citations] == ["New Herald"], answer.text


@pytest.mark.parametrize(
    "question",
    [
        "Which candy brand is facing criticism over one of its new packaging designs?",
        "Which major sports tournament is currently underway?",
        "Which dog breed is now the most popular in the U.S.?",
    ],
)
def test_a_now_word_never_weakens_the_recency_prior(question: str) -> None:
    fitted = analyse(question, TODAY, default=(0.6, 90.0)).recency
    assert fitted is not None and (fitted.weight, fitted.half_life_days) == (0.6, 90.0)
    # with the prior switched off, the word still asks for recent articles
    off = analyse(question, TODAY, default=(0.0, 30.0)).recency
    assert off is not None and off.weight == 0.2, question


def test_new_in_a_place_name_is_not_a_time_word() -> None:
    scope = analyse("Who has served as New Zealand's prime minister since 2017?", TODAY)
    assert not any("'New'" in n for n in scope.notes), scope.notes
    scope = analyse("Which city rang in the Lunar New Year first?", TODAY, default=(0.0, 30.0))
    assert scope.recency is not None and scope.recency.weight == 0.0, scope.notes


def test_the_recency_weight_setting_admits_priors_past_the_score_range() -> None:
    # the tune grid reaches weight 3 (a prior that can lift a fresh mid-list passage over a
    # stale top one); a weight past 5 is refused, with the field named
    assert AnswerSettings(recency_weight=2.0).recency_weight == 2.0
    with pytest.raises(ValidationError, match="recency_weight"):
        AnswerSettings(recency_weight=6)


@pytest.mark.parametrize(
    ("question", "days"),
    [
        ("Newspapers, including the USA TODAY Network, dropped which comic strip?", None),
        ("Who co-hosts NBC's Today show?", None),
        ("What did Psychology Today report about sleep?", None),
        ("Which storm hit Florida today?", 2),
        ("Today, which team clinched the title?", 2),
    ],
)
def test_today_in_a_name_is_not_a_time_word(question: str, days: int | None) -> None:
    """'USA TODAY' (the name of the paper whose quiz RealtimeQA reads) opened a two-day window
    that left out the week's articles."""
    assert analyse(question, TODAY).window_days == days
