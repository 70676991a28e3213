"""The time-scoped search: the question's time words as filters and a recency prior, widened
to every date when the range it names holds nothing. Used by the engine and the eval alike."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from index.model import Filters, Passage
from index.retrieval import HybridRetriever, Method
from qa.timewords import TimeScope, analyse


@dataclass(frozen=True)
class ScopedResult:
    passages: list[Passage]
    filters: Filters  # the filters the passages were searched with first
    notes: tuple[str, ...]  # what the time words meant, and any widening


def scoped_search(
    retriever: HybridRetriever,
    question: str,
    query: str,
    k: int,
    filters: Filters | None = None,
    as_of: dt.date | None = None,
    method: Method = "hybrid",
) -> ScopedResult:
    """The ``k`` best passages for ``query`` within the time scope of ``question``."""
    scope: TimeScope = analyse(question, as_of)
    user = filters or Filters()
    eff = replace(
        user,
        date_from=user.date_from or scope.date_from,
        date_to=user.date_to or scope.date_to,
    )
    notes = list(scope.notes)
    passages = retriever.search(query, k=k, filters=eff, method=method, recency=scope.recency)
    if not passages and eff != user:
        notes.append("no article in the date range the question names: searched all dates")
        passages = retriever.search(query, k=k, filters=user, method=method, recency=scope.recency)
    return ScopedResult(passages, eff, tuple(notes))
