"""The engine's contract types: ``Answer``, ``Citation``, ``Trace`` and stream events."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any, Literal

from index.model import Filters, Passage

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
    # the same story elsewhere: the other copies' article ids, and how many outlets carry it
    also_in: tuple[str, ...] = ()
    outlets: int = 1


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
    # tokens the model read and wrote, by its own tokenizer: {"prompt_tokens",
    # "completion_tokens", "finish_reason"}; None when no model wrote (extractive)
    usage: dict[str, Any] | None = None


@dataclass(frozen=True)
class Sentence:
    """One shown sentence: ``text`` as the user reads it, without its markers.

    ``kind`` is ``model`` (written by a model, checked against its quote) or ``quote`` (a
    source sentence shown verbatim, extractive). ``lead`` is the attribution shown before it
    ('According to PTI (23 March): ') when it is the first from its article; ``supported``
    is False only for a model sentence kept and flagged under ``unsupported=flag``.
    """

    text: str
    citations: tuple[int, ...]
    kind: Literal["model", "quote"]
    lead: str = ""
    supported: bool = True

    def render(self) -> str:
        marks = "".join(f" [{n}]" for n in self.citations)
        return f"{self.lead}{self.text}{marks}" + ("" if self.supported else " [unsupported]")


def render_text(sentences: tuple[Sentence, ...], left_out: int) -> str:
    """The answer text: its sentences in order, then the note of what was left out."""
    text = " ".join(s.render() for s in sentences)
    if left_out:
        text += f" (Left out: {left_out} sentence(s) the sources do not support.)"
    return text


@dataclass(frozen=True)
class Answer:
    """A cited answer. ``text`` is rendered from ``sentences`` (never parsed back): every
    ``[n]`` in it is ``citations[n-1]``; ``left_out`` counts model sentences not shown."""

    question: str
    text: str
    citations: tuple[Citation, ...]
    status: Status
    reason: str
    mode: Mode
    warnings: tuple[str, ...] = ()
    trace: Trace | None = None
    sentences: tuple[Sentence, ...] = ()
    left_out: int = 0

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


def filters_dict(f: Filters) -> dict[str, Any]:
    """The trace's record of the filters searched with (dates as ISO strings)."""
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in asdict(f).items() if v}


def passage_dict(n: int, p: Passage) -> dict[str, Any]:
    """The trace's record of the ``n``-th retrieved passage."""
    return {
        "n": n,
        "chunk_id": p.chunk_id,
        "article_id": p.article_id,
        "title": p.title,
        "source": p.source,
        "published": p.published,
        "text": p.text,
        "score": round(p.score, 4),
        "scores": {k: round(v, 4) for k, v in p.scores.items()},
    }
