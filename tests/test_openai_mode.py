"""``openai`` mode against a real llama_cpp.server on 127.0.0.1 serving SmolLM2, and the
visible fallback when that server stops."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import httpx
import pytest

from index.store import ChromaStore
from qa.engine import Engine
from qa.errors import GeneratorUnavailable
from qa.generators import OpenAICompatGenerator
from qa.local_model import smollm2_path
from qa.similarity import TextSimilarity
from qa.verifier import RuleVerifier
from tests.conftest import GUILIN_Q, SEED, free_port, make_parts

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def model_server():
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(smollm2_path()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--model_alias",
            "smollm2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("llama_cpp.server did not start")
        yield proc, base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_openai_mode_then_fallback_when_server_stops(model_server, minilm) -> None:
    proc, base = model_server
    store = ChromaStore.ephemeral(f"oa-{uuid.uuid4().hex[:8]}")
    ingester, retriever = make_parts(store, minilm)
    ingester.ingest_paths([SEED])
    gen = OpenAICompatGenerator(base, "smollm2", "not-needed", timeout_s=60, retries=0)
    engine = Engine(
        retriever, RuleVerifier(TextSimilarity(minilm)), {"openai": lambda: gen}, "openai"
    )

    answer = engine.answer(GUILIN_Q)
    raw = answer.trace.raw_output if answer.trace else None
    assert raw, "the server produced no text"
    assert "regional security dialogue platform" in answer.text
    assert answer.citations
    if answer.mode == "openai":
        assert answer.trace is not None and answer.trace.model == "openai:smollm2"
    else:  # the model's sentences failed verification: said so, not silent
        assert answer.warnings

    proc.terminate()
    proc.wait(timeout=30)
    down = engine.answer(GUILIN_Q)
    assert down.mode == "extractive"
    assert any("openai generator failed" in w for w in down.warnings)
    assert "regional security dialogue platform" in down.text

    strict = Engine(
        retriever, RuleVerifier(TextSimilarity(minilm)), {"openai": lambda: gen}, "openai"
    )
    strict.options = type(strict.options)(allow_fallback=False)
    with pytest.raises(GeneratorUnavailable):
        strict.answer(GUILIN_Q)
