"""Text generators: the ``Generator`` contract and the OpenAI-compatible one (the packaged
local models are in ``qa.local_model``). Each takes the numbered passages and returns raw
answer text, which the engine then verifies sentence by sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import prompts
from index.model import Passage
from qa.errors import GeneratorTimeout, GeneratorUnavailable

NOT_IN_SOURCES = "NOT IN SOURCES"
# small models echo the prompt's structure or invent the next question: stop there
STOP = ("<<<", ">>>", "\nQuestion:", "Question:", "\n[", "\n\n\n")


class Generator(Protocol):
    @property
    def name(self) -> str:
        """Recorded on every answer ('smollm2', 'openai:<model>')."""
        ...

    @property
    def prompt_id(self) -> str:
        """The prompt template's id (name@hash), recorded on every answer."""
        ...

    def stream(self, question: str, passages: list[Passage]) -> Iterator[str]:
        """Yield text pieces of the answer as the model writes them."""
        ...

    def complete(self, prompt: str, max_tokens: int = 48) -> str:
        """One short completion (used to rewrite follow-up questions)."""
        ...


def passage_view(passages: list[Passage]) -> list[dict[str, Any]]:
    """What a prompt template shows of each passage."""
    return [
        {
            "title": p.title,
            "source": p.source or "",
            "published": (p.published_date.human() if p.published_date else "") or "",
            "text": p.text,
        }
        for p in passages
    ]


class LoopGuard:
    """Stops a small model that repeats itself (SmolLM2 loops on ~1 in 5 answers)."""

    def __init__(self) -> None:
        self.text = ""

    def feed(self, piece: str) -> bool:
        self.text += piece
        sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", self.text) if s.strip()]
        done = sentences[:-1]
        return len(done) != len(set(done)) or len(done) > 6


@dataclass
class _ServerUsage:
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


class OpenAICompatGenerator:
    """Any OpenAI-compatible chat server (vLLM, Ollama, llama.cpp's server, OpenAI)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str,
        timeout_s: float = 60.0,
        retries: int = 1,
        max_tokens: int = 256,
    ):
        import openai

        self.name = f"openai:{model}"
        self.usage: _ServerUsage | None = None  # the server's count of the last answer
        self.model = model
        self.max_tokens = max_tokens
        self.prompt = prompts.load("answer_chat")
        self.prompt_id = self.prompt.id
        self.base_url = base_url
        self.client = openai.OpenAI(
            base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=retries
        )

    def check(self) -> None:
        """Raise GeneratorUnavailable unless the server answers its model list quickly."""
        import openai

        try:
            self.client.with_options(timeout=3.0, max_retries=0).models.list()
        except openai.APIError as exc:
            raise GeneratorUnavailable(
                f"model server at {self.base_url} is unavailable: {exc}"
            ) from exc

    def complete(self, prompt: str, max_tokens: int = 48) -> str:
        import openai

        try:
            out = self.client.chat.completions.create(
                model=self.model,
                messages=[{"role": "user", "content": prompt}],
                max_tokens=max_tokens,
                temperature=0.0,
                stop=["\n"],
            )
        except openai.APIError as exc:
            raise GeneratorUnavailable(f"model server at {self.base_url} failed: {exc}") from exc
        return str(out.choices[0].message.content or "") if out.choices else ""

    def stream(self, question: str, passages: list[Passage]) -> Iterator[str]:
        import openai

        text = self.prompt.render(question=question, passages=passage_view(passages))
        guard = LoopGuard()
        try:
            it = self.client.chat.completions.create(
                model=self.model,
                messages=[{"role": "user", "content": text}],
                max_tokens=self.max_tokens,
                temperature=0.0,
                stop=list(STOP[:4]),
                stream=True,
                stream_options={"include_usage": True},
            )
            self.usage = None
            finish = "stop"
            for chunk in it:
                counted = getattr(chunk, "usage", None)
                if counted is not None:  # the last chunk, with include_usage
                    self.usage = _ServerUsage(
                        counted.prompt_tokens, counted.completion_tokens, finish
                    )
                if not chunk.choices:
                    continue
                finish = str(chunk.choices[0].finish_reason or finish)
                piece = chunk.choices[0].delta.content or ""
                if piece:
                    yield piece
                    if guard.feed(piece):
                        break
        except openai.APITimeoutError as exc:
            raise GeneratorTimeout(f"model server at {self.base_url} timed out") from exc
        except (openai.APIConnectionError, openai.InternalServerError, openai.NotFoundError) as exc:
            raise GeneratorUnavailable(
                f"model server at {self.base_url} is unavailable: {exc}"
            ) from exc
        except openai.APIError as exc:
            raise GeneratorUnavailable(f"model server at {self.base_url} failed: {exc}") from exc


def usage_of(generator: Generator | None) -> dict[str, Any] | None:
    """The model's own token counts of its last answer, when it reports them."""
    usage = getattr(generator, "usage", None)
    if usage is None:
        return None
    return {
        "prompt_tokens": int(usage.prompt_tokens),
        "completion_tokens": int(usage.completion_tokens),
        "finish_reason": str(usage.finish_reason),
    }
