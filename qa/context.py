"""What the model reads: whole passages, or the best evidence sentences of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from index.model import Passage
from qa.extractive import Pick


def model_context(
    ranked: Sequence[Pick],
    passages: list[Passage],
    kind: Literal["sentences", "passages"] = "sentences",
    n_sentences: int = 5,
) -> list[Passage]:
    """``passages`` as they are, or the ``n_sentences`` best-ranked sentences as passages of
    their own (in article order within each passage, passages in retrieval order). Sentences
    read better for the 135M-270M local models and make 3-5x shorter prompts."""
    if kind == "passages":
        return passages
    best = sorted(ranked[:n_sentences], key=lambda p: (p.span.passage, p.span.start))
    return [
        replace(passages[p.span.passage], text=p.span.text, start=p.span.start, end=p.span.end)
        for p in best
    ]
