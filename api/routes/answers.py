"""``/v1/ask``, ``/v1/chat`` (JSON or Server-Sent Events) and ``/v1/search``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from api.deps import ServiceDep
from api.errors import ApiError, error_body, status_of
from api.schemas import AnswerOut, AskIn, ChatIn, FiltersIn, SearchIn, SearchOut
from api.service import AskRequest, Gate, Service
from index.model import Filters
from qa.answer import CitationEvent, Delta, Final, Reset, Turn

router = APIRouter(tags=["answers"])

SSE_DOC = (
    "With `stream: true` the response is `text/event-stream`: `delta` events carry verified"
    ' answer text (`{"text"}`), `citation` events a source as soon as it is cited, `reset`'
    ' withdraws the text streamed so far (the model\'s draft was replaced, `{"reason"}`),'
    " `final` carries the whole answer (the same JSON as without streaming), and `error`"
    ' (`{"error": {"code", "message"}}`) ends a stream that failed.'
)


def check_question(service: Service, text: str, field: str) -> None:
    limit = service.limits.max_question_chars
    if len(text) > limit:
        raise ApiError(
            422, "validation_error", f"{field}: longer than the limit of {limit} characters"
        )


def check_k(service: Service, k: int | None) -> None:
    if k is not None and k > service.limits.max_k:
        raise ApiError(422, "validation_error", f"k: at most {service.limits.max_k}")


def _filters(f: FiltersIn | None) -> Filters | None:
    return f.to_filters() if f is not None else None


@router.post("/ask", response_model=AnswerOut, summary="Answer a question with cited sources")
async def ask(body: AskIn, service: ServiceDep) -> dict[str, Any]:
    """The engine's answer: text with `[n]` markers, each a verified quote with its span."""
    check_question(service, body.question, "question")
    check_k(service, body.k)
    answer = await service.answer(
        AskRequest(body.question, (), _filters(body.filters), body.mode, body.as_of, body.k)
    )
    return answer.to_dict()


def chat_request(service: Service, body: ChatIn) -> AskRequest:
    """The last user message is the question; earlier user/assistant turns are the history."""
    if len(body.messages) > service.limits.max_messages:
        raise ApiError(
            422,
            "validation_error",
            f"messages: at most {service.limits.max_messages} messages per request",
        )
    turns = [m for m in body.messages if m.role != "system"]
    if not turns or turns[-1].role != "user":
        raise ApiError(422, "validation_error", "messages: the last message must be the user's")
    question = turns[-1].content
    if not question.strip():
        raise ApiError(422, "validation_error", "messages: the last user message is empty")
    check_question(service, question, "messages")
    check_k(service, body.k)
    history = tuple(Turn(m.role, m.content) for m in turns[:-1] if m.role in ("user", "assistant"))
    return AskRequest(question, history, _filters(body.filters), body.mode, body.as_of, body.k)


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def sse_events(service: Service, req: AskRequest, gate: Gate) -> AsyncIterator[str]:
    """The engine's events as SSE frames; a failure becomes an ``error`` event."""
    try:
        async for event in service.events(req, gate):
            if isinstance(event, Delta):
                yield sse("delta", {"text": event.text})
            elif isinstance(event, CitationEvent):
                yield sse("citation", asdict(event.citation))
            elif isinstance(event, Reset):
                yield sse("reset", {"reason": event.reason})
            elif isinstance(event, Final):
                yield sse("final", event.answer.to_dict())
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
async def chat(body: ChatIn, service: ServiceDep) -> Any:
    req = chat_request(service, body)
    if not body.stream:
        return (await service.answer(req)).to_dict()
    gate = service.admit(req.mode)  # a full queue is a 429 before the stream starts
    return StreamingResponse(
        sse_events(service, req, gate),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post("/search", response_model=SearchOut, summary="Passages ranked for a query")
async def search(body: SearchIn, service: ServiceDep) -> dict[str, Any]:
    """Hybrid (dense + BM25), dense or BM25 retrieval with optional filters."""
    check_question(service, body.query, "query")
    check_k(service, body.k)
    filters = (body.filters or FiltersIn()).to_filters(body.as_of)
    retriever = service.components.retriever
    passages = await service.run(
        lambda: retriever.search(body.query, k=body.k, filters=filters, method=body.method)
    )
    return {"query": body.query, "passages": [asdict(p) for p in passages]}
