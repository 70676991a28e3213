"""The time-scoped search: the question's time words as filters and a recency prior, widened
to every date when the range it names holds nothing. Used by the engine and the eval alike."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from index.model import Filters, Passage
from index.retrieval import HybridRetriever, Method
from qa.timewords import DEFAULT_RECENCY, WIDEN, TimeScope, analyse


@dataclass(frozen=True)
class ScopedResult:
    passages: list[Passage]
    filters: Filters  # the filters the passages were searched with first
    notes: tuple[str, ...]  # what the time words meant, and any widening
    widened: str | None = None  # why the sources lie outside the window the question named


def scoped_search(
    retriever: HybridRetriever,
    question: str,
    query: str,
    k: int,
    filters: Filters | None = None,
    as_of: dt.date | None = None,
    method: Method = "hybrid",
    stages: dict[str, tuple[int, int]] | None = None,
    recency: tuple[float, float] = DEFAULT_RECENCY,
) -> ScopedResult:
    """The ``k`` best passages for ``query`` within the time scope of ``question``
    (``recency``: the default prior's weight and half-life, as in ``analyse``)."""
    scope: TimeScope = analyse(question, as_of, recency)
    user = filters or Filters()
    eff = replace(
        user,
        date_from=user.date_from or scope.date_from,
        date_to=user.date_to or scope.date_to,
    )
    notes = list(scope.notes)
    widened = None
    window = named = scope.window_days or 0
    if window and not (user.date_from or user.date_to):
        # a named window, widened only while it holds nothing
        while True:
            start = scope.as_of - dt.timedelta(days=window)
            inside = replace(eff, date_from=start, date_to=scope.as_of)
            passages = retriever.search(
                query, k=k, filters=inside, method=method, recency=scope.recency, stages=stages
            )
            if passages:
                return ScopedResult(passages, inside, tuple(notes), widened)
            if window >= named * WIDEN**2:
                break
            window *= WIDEN
            widened = _older(scope)
            notes.append(f"'{scope.window_words}': nothing in the window; widened to {window} days")
        notes.append(f"'{scope.window_words}': nothing in {window} days either; searched all dates")
    else:
        passages = retriever.search(
            query, k=k, filters=eff, method=method, recency=scope.recency, stages=stages
        )
        if passages or eff == user:
            return ScopedResult(passages, eff, tuple(notes))
        notes.append("no article in the date range the question names: searched all dates")
    passages = retriever.search(
        query, k=k, filters=user, method=method, recency=scope.recency, stages=stages
    )
    if window:
        widened = _older(scope)
    return ScopedResult(passages, eff, tuple(notes), widened if passages else None)


def _older(scope: TimeScope) -> str:
    return (
        f"nothing dated in the {scope.window_days} days up to {scope.as_of}"
        f" ('{scope.window_words}') matches: the sources found are older or undated"
    )


def one_per_story(
    passages: list[Passage], k: int
) -> tuple[list[Passage], dict[str, list[Passage]]]:
    """The first ``k`` passages of different stories (near-duplicate copies of one wire story
    take one slot), and the copies set aside, by the story they repeat."""
    kept: list[Passage] = []
    copies: dict[str, list[Passage]] = {}
    first: dict[str, str] = {}  # story -> article id of the passage that holds its slot
    for p in passages:
        story = p.story or p.article_id
        holder = first.get(story)
        if holder is not None and holder != p.article_id:
            copies.setdefault(story, []).append(p)
            continue
        if len(kept) < k:
            first.setdefault(story, p.article_id)
            kept.append(p)
    return kept, copies
