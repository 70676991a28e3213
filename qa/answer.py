"""The engine's contract types: ``Answer``, ``Citation``, ``Trace`` and stream events."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Status = Literal["answered", "partial", "insufficient_evidence", "conflicting_sources"]
Mode = Literal["local", "openai", "extractive"]


@dataclass(frozen=True)
class Citation:
    """Source of claim(s) marked ``[n]``: ``article.text[start:end] == quote`` always holds."""

    n: int
    article_id: str
    title: str
    chunk_id: str
    quote: str
    start: int
    end: int
    support: float
    source: str | None = None
    published: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Trace:
    """How the answer was made: query, filters, passages and timings (milliseconds)."""

    question: str
    query: str
    filters: dict[str, Any]
    time_notes: tuple[str, ...]
    passages: tuple[dict[str, Any], ...]
    prompt_id: str | None
    model: str | None
    timings_ms: dict[str, float]
    dropped_claims: tuple[dict[str, Any], ...] = ()
    raw_output: str | None = None


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    citations: tuple[Citation, ...]
    status: Status
    reason: str
    mode: Mode
    warnings: tuple[str, ...] = ()
    trace: Trace | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Delta:
    """A piece of answer text (a verified sentence with its ``[n]`` marker)."""

    text: str
    kind: Literal["delta"] = "delta"


@dataclass(frozen=True)
class CitationEvent:
    citation: Citation
    kind: Literal["citation"] = "citation"


@dataclass(frozen=True)
class Final:
    answer: Answer
    kind: Literal["final"] = "final"


@dataclass(frozen=True)
class Reset:
    """Withdraws the text streamed so far (the model's draft was replaced); ``reason`` says why.
    The text that follows replaces it, and ``Final`` holds the answer as it stands."""

    reason: str
    kind: Literal["reset"] = "reset"


Event = Delta | CitationEvent | Reset | Final


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant"]
    content: str
