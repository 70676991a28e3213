"""``/v1/ask``, ``/v1/chat`` (JSON or Server-Sent Events) and ``/v1/search``."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from api.deps import AnswersDep, ArchiveDep, Limits, LimitsDep
from api.errors import ApiError, error_body, status_of
from api.queue import AnswerQueue, AskRequest, Gate
from api.schemas import (
    AnswerOut,
    AskIn,
    ChatIn,
    CitationOut,
    FiltersIn,
    ModeName,
    SearchIn,
    SearchOut,
)
from qa.answer import CitationEvent, Delta, Final, Reset, Turn

router = APIRouter(tags=["answers"])

SSE_DOC = (
    "With `stream: true` the response is `text/event-stream`: `delta` events carry verified"
    ' answer text (`{"text"}`), `citation` events a source as soon as it is cited, `reset`'
    ' withdraws the text streamed so far (the model\'s draft was replaced, `{"reason"}`),'
    " `final` carries the whole answer (the same JSON as without streaming), and `error`"
    ' (`{"error": {"code", "message"}}`) ends a stream that failed.'
)
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def check_question(limits: Limits, text: str, field: str) -> None:
    if len(text) > limits.max_question_chars:
        raise ApiError(
            422,
            "validation_error",
            f"{field}: longer than the limit of {limits.max_question_chars} characters",
        )


def check_k(limits: Limits, k: int | None) -> None:
    if k is not None and k > limits.max_k:
        raise ApiError(422, "validation_error", f"k: at most {limits.max_k}")


@router.post("/ask", response_model=AnswerOut, summary="Answer a question with cited sources")
async def ask(body: AskIn, answers: AnswersDep, limits: LimitsDep) -> AnswerOut:
    """The engine's answer: text with `[n]` markers, each a verified quote with its span."""
    check_question(limits, body.question, "question")
    check_k(limits, body.k)
    filters = body.filters.to_filters() if body.filters else None
    req = AskRequest(body.question, (), filters, body.mode, body.as_of, body.k)
    return AnswerOut.from_domain(await answers.answer(req))


def chat_request(
    limits: Limits,
    messages: Sequence[tuple[str, str]],
    filters: FiltersIn | None,
    mode: ModeName | None,
    as_of: dt.date | None,
    k: int | None,
) -> AskRequest:
    """(role, content) messages -> the request: the last user message is the question, the
    earlier user and assistant turns the history (system messages are ignored)."""
    if len(messages) > limits.max_messages:
        raise ApiError(
            422,
            "validation_error",
            f"messages: at most {limits.max_messages} messages per request",
        )
    turns = [(role, content) for role, content in messages if role in ("user", "assistant")]
    if not turns or turns[-1][0] != "user":
        raise ApiError(422, "validation_error", "messages: the last message must be the user's")
    question = turns[-1][1]
    if not question.strip():
        raise ApiError(422, "validation_error", "messages: the last user message is empty")
    check_question(limits, question, "messages")
    check_k(limits, k)
    history = tuple(Turn(role, content) for role, content in turns[:-1])  # type: ignore[arg-type]
    return AskRequest(question, history, filters.to_filters() if filters else None, mode, as_of, k)


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def sse_events(answers: AnswerQueue, req: AskRequest, gate: Gate) -> AsyncIterator[str]:
    """The engine's events as SSE frames; a failure becomes an ``error`` event."""
    try:
        async for event in answers.events(req, gate):
            if isinstance(event, Delta):
                yield sse("delta", {"text": event.text})
            elif isinstance(event, CitationEvent):
                yield sse("citation", CitationOut.from_domain(event.citation).model_dump())
            elif isinstance(event, Reset):
                yield sse("reset", {"reason": event.reason})
            elif isinstance(event, Final):
                yield sse("final", AnswerOut.from_domain(event.answer).model_dump(mode="json"))
    except Exception as exc:
        _, code, message = status_of(exc)
        yield sse("error", error_body(code, message))


@router.post(
    "/chat",
    response_model=AnswerOut,
    summary="Multi-turn chat: answer the last user message",
    description=SSE_DOC,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def chat(body: ChatIn, answers: AnswersDep, limits: LimitsDep) -> Any:
    messages = [(m.role, m.content) for m in body.messages]
    req = chat_request(limits, messages, body.filters, body.mode, body.as_of, body.k)
    if not body.stream:
        return AnswerOut.from_domain(await answers.answer(req))
    gate = answers.admit(req.mode)  # a full queue is a 429 before the stream starts
    return StreamingResponse(
        sse_events(answers, req, gate), media_type="text/event-stream", headers=STREAM_HEADERS
    )


@router.post("/search", response_model=SearchOut, summary="Passages ranked for a query")
async def search(
    body: SearchIn, archive: ArchiveDep, answers: AnswersDep, limits: LimitsDep
) -> dict[str, Any]:
    """Hybrid (dense + BM25), dense or BM25 retrieval with optional filters."""
    check_question(limits, body.query, "query")
    check_k(limits, body.k)
    filters = (body.filters or FiltersIn()).to_filters(body.as_of)
    passages = await answers.run(archive.search, body.query, body.k, filters, body.method)
    return {"query": body.query, "passages": [asdict(p) for p in passages]}
