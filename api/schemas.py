"""The API's own request and response models (never the engine's dataclasses directly)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from index.model import Filters
from qa.answer import Answer, Citation

MAX_QUESTION = 2000  # the engine's own cap; a lower one can be set in ApiSettings
GUILIN_Q = "What did China and Russia propose at Guilin?"

ArticleId = Annotated[str, StringConstraints(pattern=r"^[uc][0-9a-f]{20}$")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def no_control_characters(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("contains control characters")
    return value


Question = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_QUESTION, pattern=r"\S"),
    AfterValidator(no_control_characters),
]
ModeName = Literal["local", "openai", "extractive"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FiltersIn(_In):
    """Only passages of articles that match every given filter are used."""

    sources: list[ShortText] = Field(default_factory=list, max_length=50, examples=[["PTI"]])
    date_from: dt.date | None = Field(None, description="published on or after")
    date_to: dt.date | None = Field(None, description="published on or before")
    article_ids: list[ArticleId] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _ordered(self) -> FiltersIn:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError(f"date_from {self.date_from} is after date_to {self.date_to}")
        return self

    def to_filters(self, as_of: dt.date | None = None) -> Filters:
        return Filters(
            sources=tuple(self.sources),
            date_from=self.date_from,
            date_to=self.date_to,
            article_ids=tuple(self.article_ids),
            as_of=as_of,
        )


class AskIn(_In):
    question: Question = Field(examples=[GUILIN_Q])
    filters: FiltersIn | None = None
    mode: ModeName | None = Field(None, description="default: the configured generator")
    k: int | None = Field(None, ge=1, le=50, description="passages to read")
    as_of: dt.date | None = Field(
        None, description="the day 'this week', 'recently', 'last year' refer to (default today)"
    )


class Message(_In):
    role: Literal["user", "assistant", "system"]
    content: Annotated[
        str, StringConstraints(max_length=20_000), AfterValidator(no_control_characters)
    ]


class ChatIn(_In):
    messages: list[Message] = Field(
        min_length=1,
        max_length=1000,
        examples=[[{"role": "user", "content": GUILIN_Q}]],
        description="the conversation so far; the last message is the user's question",
    )
    filters: FiltersIn | None = None
    mode: ModeName | None = None
    k: int | None = Field(None, ge=1, le=50)
    as_of: dt.date | None = None
    stream: bool = Field(False, description="Server-Sent Events: delta, citation, reset, final")


class SearchIn(_In):
    query: Question = Field(examples=["Guilin regional security dialogue"])
    k: int = Field(5, ge=1, le=100)
    method: Literal["hybrid", "dense", "bm25"] = "hybrid"
    filters: FiltersIn | None = None
    as_of: dt.date | None = Field(None, description="leave out articles published after this day")


class CitationOut(BaseModel):
    n: int
    article_id: str
    title: str
    chunk_id: str
    quote: str = Field(description="article.text[start:end], verbatim")
    start: int
    end: int
    support: float = Field(description="the verifier's probability that the quote supports it")
    source: str | None = None
    published: str | None = None
    url: str | None = None

    @classmethod
    def from_domain(cls, c: Citation) -> CitationOut:
        return cls.model_validate(asdict(c))


class SentenceOut(BaseModel):
    text: str = Field(description="the sentence as shown, without its markers")
    citations: list[int] = Field(description="the [n] it carries")
    kind: Literal["model", "quote"] = Field(
        description="model: written by a model and checked; quote: a source sentence verbatim"
    )
    lead: str = Field("", description="the attribution shown before it")
    supported: bool = True


class TracePassageOut(BaseModel):
    n: int
    chunk_id: str
    article_id: str
    title: str
    source: str | None = None
    published: str | None = None
    text: str
    score: float
    scores: dict[str, float] = {}


class TraceOut(BaseModel):
    question: str
    query: str
    filters: dict[str, Any]
    time_notes: list[str]
    passages: list[TracePassageOut]
    prompt_id: str | None
    model: str | None
    timings_ms: dict[str, float]
    dropped_claims: list[dict[str, Any]] = []
    raw_output: str | None = None
    usage: dict[str, Any] | None = Field(
        None, description="tokens the model read and wrote (its own tokenizer's count)"
    )


class AnswerOut(BaseModel):
    """A cited answer. Every ``[n]`` in ``text`` is ``citations[n-1]``; ``text`` is rendered
    from ``sentences``."""

    question: str
    text: str = Field(examples=["According to PTI (23 March): China and Russia proposed ... [1]"])
    citations: list[CitationOut]
    status: Literal["answered", "partial", "insufficient_evidence", "conflicting_sources"]
    reason: str
    mode: ModeName
    warnings: list[str] = []
    sentences: list[SentenceOut] = []
    left_out: int = Field(0, description="model sentences left out: no source supports them")
    trace: TraceOut | None = None

    @classmethod
    def from_domain(cls, a: Answer) -> AnswerOut:
        """The one serialisation of an answer: JSON, the SSE ``final`` event and the OpenAI
        extension fields all use it."""
        return cls.model_validate(asdict(a))

    def extension(self) -> dict[str, Any]:
        """The OpenAI endpoint's extra fields: ``citations`` and ``qa``."""
        data = self.model_dump(mode="json")
        return {
            "citations": data["citations"],
            "qa": {k: data[k] for k in ("status", "reason", "mode", "warnings")},
        }


class PassageOut(BaseModel):
    chunk_id: str
    article_id: str
    title: str
    text: str
    start: int
    end: int
    source: str | None = None
    published: str | None = None
    url: str | None = None
    author: str | None = None
    score: float
    scores: dict[str, float] = {}


class SearchOut(BaseModel):
    query: str
    passages: list[PassageOut]


class DocumentIn(_In):
    title: Annotated[str, StringConstraints(max_length=500)] | None = None
    text: Annotated[str, StringConstraints(min_length=1, max_length=2_000_000, pattern=r"\S")]
    source: ShortText | None = None
    author: ShortText | None = None
    published: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        None, examples=["2021-03-23"], description="a date; partial dates are kept partial"
    )
    url: Annotated[str, StringConstraints(max_length=2000, pattern=r"^https?://\S+$")] | None = None


class DocumentsIn(_In):
    articles: list[DocumentIn] = Field(min_length=1, max_length=1000)


class DocumentSummary(BaseModel):
    id: str
    title: str
    source: str | None = None
    author: str | None = None
    published: str | None = None
    url: str | None = None
    n_chunks: int


class DocumentDetail(DocumentSummary):
    text: str
    dateline: str | None = None


class DocumentPage(BaseModel):
    items: list[DocumentSummary]
    offset: int
    limit: int
    total: int


class DocumentResult(BaseModel):
    id: str
    title: str
    status: Literal["added", "updated", "unchanged"]


class IngestOut(BaseModel):
    documents: list[DocumentResult]
    added: int
    updated: int
    unchanged: int
    skipped: list[dict[str, str]]
    chunks: int
    message: str


class Deleted(BaseModel):
    id: str
    deleted: bool = True
    chunks: int


class Ready(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str]
