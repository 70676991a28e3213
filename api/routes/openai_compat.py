"""OpenAI Chat Completions compatibility: ``/v1/chat/completions`` and ``/v1/models``.

Existing chat clients work unchanged. The content carries ``[n]`` markers; the sources come
once, in the extension field ``citations`` (on the response, or on the last streamed chunk),
with ``qa`` holding the answer's status, reason, mode and warnings. Sampling parameters
(temperature, top_p, max_tokens, ...) are accepted and ignored: answers are verified quotes.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from api.deps import AnswersDep, EngineDep, Limits, LimitsDep
from api.errors import ApiError, error_body, status_of
from api.queue import AnswerQueue, AskRequest, Gate
from api.routes.answers import chat_request
from api.schemas import AnswerOut, FiltersIn, no_control_characters
from index.chunking import estimate_tokens
from qa.answer import Delta, Final, Mode, Reset
from qa.engine import Engine

router = APIRouter(tags=["openai-compatible"])

PREFIX = "newsqa"


Text = Annotated[str, StringConstraints(max_length=20_000), AfterValidator(no_control_characters)]


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["text"]
    text: Text


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Text | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content)
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class CompletionIn(BaseModel):
    """The Chat Completions request. Sampling parameters (temperature, top_p, max_tokens,
    ...) are accepted and have no effect (answers are verified quotes); a request for what the
    endpoint cannot do (tools, structured output, several choices, log-probabilities) is a 400
    naming the field."""

    model_config = ConfigDict(extra="ignore")
    model: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        examples=[PREFIX]
    )
    messages: list[ChatMessage] = Field(min_length=1, max_length=1000)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(1, description="one choice per request: only 1")
    tools: list[Any] | None = None
    functions: list[Any] | None = None
    response_format: dict[str, Any] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    # extensions
    filters: FiltersIn | None = None
    as_of: dt.date | None = None
    k: int | None = Field(None, ge=1, le=50)


def served_models(engine: Engine) -> dict[str, Mode | None]:
    """Model ids -> answering mode (``newsqa`` is the configured default)."""
    models: dict[str, Mode | None] = {PREFIX: None, f"{PREFIX}-extractive": "extractive"}
    for mode in engine.modes():
        models[f"{PREFIX}-{mode}"] = mode
    return models


@router.get("/models", summary="Models served (one per answering mode)")
async def models(engine: EngineDep) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": PREFIX}
            for name in served_models(engine)
        ],
    }


def unsupported(param: str, message: str) -> ApiError:
    """OpenAI's shape for a parameter this endpoint does not do."""
    return ApiError(
        400,
        "unsupported_parameter",
        message,
        type="invalid_request_error",
        param=param,
    )


def refuse_unsupported(body: CompletionIn) -> None:
    if body.tools or body.functions:
        name = "tools" if body.tools else "functions"
        raise unsupported(
            name, f"{name}: this endpoint answers from the archive; it calls no tools"
        )
    kind = (body.response_format or {}).get("type", "text")
    if kind != "text":
        raise unsupported(
            "response_format",
            f"response_format: only 'text' (an answer with [n] citations), not {kind!r}",
        )
    if body.n not in (None, 1):
        raise unsupported("n", "n: one choice per request (the answer is verified, not sampled)")
    if body.logprobs or body.top_logprobs:
        raise unsupported("logprobs", "logprobs: not available (text is verified quotes)")


def usage_of(answer: AnswerOut, req: AskRequest) -> dict[str, Any]:
    """OpenAI's ``usage``: the model's own token counts when a model wrote the answer, else
    an estimate (``qa.usage_counted`` says which)."""
    counted = answer.trace.usage if answer.trace else None
    if counted and answer.mode != "extractive":
        prompt, completion = int(counted["prompt_tokens"]), int(counted["completion_tokens"])
    else:
        words = " ".join([req.question, *(t.content for t in req.history)])
        prompt, completion = estimate_tokens(words), estimate_tokens(answer.text)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def finish_reason(answer: AnswerOut) -> str:
    """'length' when the model stopped at its token limit, else 'stop'."""
    counted = answer.trace.usage if answer.trace else None
    if counted and answer.mode != "extractive" and counted.get("finish_reason") == "length":
        return "length"
    return "stop"


def extension(answer: AnswerOut) -> dict[str, Any]:
    out = answer.extension()
    counted = answer.trace.usage if answer.trace else None
    out["qa"]["usage_counted"] = "model" if counted and answer.mode != "extractive" else "estimated"
    return out


def _request(engine: Engine, limits: Limits, body: CompletionIn) -> AskRequest:
    """The chat request these messages make (converted once, checked like ``/v1/chat``)."""
    refuse_unsupported(body)
    known = served_models(engine)
    if body.model not in known:
        raise ApiError(
            404,
            "model_not_found",
            f"model {body.model!r} is not served; use one of: {', '.join(known)}",
        )
    messages = [(m.role, m.text()) for m in body.messages]
    return chat_request(limits, messages, body.filters, known[body.model], body.as_of, body.k)


@router.post("/chat/completions", summary="OpenAI-compatible chat completions")
async def completions(
    body: CompletionIn, engine: EngineDep, answers: AnswersDep, limits: LimitsDep
) -> Any:
    req = _request(engine, limits, body)
    cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    if not body.stream:
        answer = AnswerOut.from_domain(await answers.answer(req))
        return {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": body.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.text},
                    "finish_reason": finish_reason(answer),
                }
            ],
            "usage": usage_of(answer, req),
            **extension(answer),
        }
    gate = answers.admit(req.mode)
    with_usage = bool(body.stream_options and body.stream_options.include_usage)
    return StreamingResponse(
        _chunks(answers, req, gate, cid, created, body.model, with_usage),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _chunks(
    answers: AnswerQueue,
    req: AskRequest,
    gate: Gate,
    cid: str,
    created: int,
    model: str,
    with_usage: bool,
) -> AsyncIterator[str]:
    def chunk(delta: dict[str, Any] | None, finish: str | None = None, **more: Any) -> str:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
        obj = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": choices,
            **more,
        }
        if with_usage and "usage" not in obj:
            obj["usage"] = None  # as OpenAI: every chunk but the last has usage null
        return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    streamed = ""
    try:
        async for event in answers.events(req, gate):
            if isinstance(event, Delta):
                streamed += event.text
                yield chunk({"content": event.text})
            elif isinstance(event, Reset):
                # a chat client cannot take text back: say plainly that it was withdrawn
                note = f"\n\n(The text above was withdrawn: {event.reason}.)\n\n"
                streamed = ""
                yield chunk({"content": note})
            elif isinstance(event, Final):
                answer = AnswerOut.from_domain(event.answer)
                rest = answer.text
                if streamed and answer.text.startswith(streamed.strip()):
                    rest = answer.text[len(streamed.strip()) :]
                if rest.strip():
                    yield chunk({"content": rest})
                yield chunk({}, finish_reason(answer), **extension(answer))
                if with_usage:  # one more chunk, no choices, the usage
                    yield chunk(None, usage=usage_of(answer, req))
    except Exception as exc:
        _, code, message = status_of(exc)
        yield f"data: {json.dumps(error_body(code, message))}\n\n"
    yield "data: [DONE]\n\n"
