"""How the engine answers: plain values, set from the settings by the wiring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from qa.timewords import DEFAULT_RECENCY


@dataclass(frozen=True)
class EngineOptions:
    k: int = 5
    unsupported: Literal["drop", "flag"] = "drop"
    allow_fallback: bool = True
    generator_context: Literal["sentences", "passages"] = "sentences"
    context_sentences: int = 5
    min_topical: float = 0.35  # the best sentence's topicality below which the engine abstains
    # follow-ups: "model" asks the generator for a standalone question and falls back to the
    # heuristic when it cannot or its output is unusable; "heuristic" never calls a model
    rewrite: Literal["heuristic", "model"] = "heuristic"
    record_text: bool = False  # the question's text on trace spans
    # how much the answerability model's P(this sentence answers) adds to a sentence's
    # relevance (0: the features alone; 0.2 scored lower on RealtimeQA Jan-Feb 2023)
    answer_weight: float = 0.0
    # abstain on the answerability model's word alone (a question's year that no passage
    # holds is an abstention either way)
    answerability_gate: bool = False
    # the recency prior of a question without time words: (weight, half-life in days)
    recency: tuple[float, float] = DEFAULT_RECENCY
