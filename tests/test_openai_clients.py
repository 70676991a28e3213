"""``/v1/chat/completions`` with three real clients over real HTTP on 127.0.0.1: the official
``openai`` client (streamed and not, usage, errors for what the endpoint cannot do), simonw's
``llm`` command line (an OpenAI-compatible model in its ``extra-openai-models.yaml``) and
LangChain's ``ChatOpenAI`` (``invoke`` and ``stream``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qa.settings import Settings
from qa.wiring import Components
from tests.conftest import EXAMPLES, GUILIN_Q
from tests.test_crash import Server

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PLATFORM = "regional security dialogue platform"


@pytest.fixture(scope="module")
def server(onnx_embedder, tmp_path_factory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("oa")
    comps = Components(Settings(data_dir=tmp, collection="openai-clients"), embedder=onnx_embedder)
    comps.archive.add_paths([EXAMPLES])
    with Server(comps) as srv:
        yield srv
    comps.close()


def ask(server: Server, mode: str = "extractive") -> dict:
    r = httpx.post(f"{server.base}/v1/ask", json={"question": GUILIN_Q, "mode": mode}, timeout=300)
    assert r.status_code == 200
    return r.json()


def test_the_official_client_with_usage(server) -> None:
    import openai

    client = openai.OpenAI(base_url=f"{server.base}/v1", api_key="unused")
    msgs = [{"role": "user", "content": GUILIN_Q}]
    out = client.chat.completions.create(model="newsqa-local", messages=msgs)
    text = out.choices[0].message.content or ""
    assert PLATFORM in text and out.choices[0].finish_reason == "stop"
    assert (
        out.usage is not None and out.usage.prompt_tokens > 20 and out.usage.completion_tokens > 0
    )
    assert out.usage.total_tokens == out.usage.prompt_tokens + out.usage.completion_tokens
    extra = out.model_extra or {}
    assert extra["citations"][0]["quote"] and extra["qa"]["mode"] == "local"
    assert extra["qa"]["usage_counted"] == "model"  # SmolLM2's own tokenizer
    stream = client.chat.completions.create(
        model="newsqa-extractive",
        messages=msgs,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content.strip() == ask(server)["text"]
    last = chunks[-1]
    assert not last.choices and last.usage is not None and last.usage.total_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    for kwargs, param in (
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools"),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": {}},
                }
            },
            "response_format",
        ),
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
    ):
        with pytest.raises(openai.BadRequestError) as err:
            client.chat.completions.create(model="newsqa", messages=msgs, **kwargs)
        body = err.value.body
        assert isinstance(body, dict) and body["param"] == param
        assert body["type"] == "invalid_request_error" and param in body["message"]


def test_simonws_llm_command_line(server, tmp_path: Path) -> None:
    (tmp_path / "extra-openai-models.yaml").write_text(
        f'- model_id: newsqa\n  model_name: newsqa-extractive\n  api_base: "{server.base}/v1"\n'
    )
    env = {**os.environ, "LLM_USER_PATH": str(tmp_path), "OPENAI_API_KEY": "unused"}
    llm = Path(sys.executable).with_name("llm")
    r = subprocess.run(
        [str(llm), "-m", "newsqa", GUILIN_Q], env=env, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ask(server)["text"]


def test_langchain_chat_openai(server) -> None:
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(
        base_url=f"{server.base}/v1", api_key="unused", model="newsqa-extractive", timeout=300
    )
    expected = ask(server)["text"]
    reply = chat.invoke(GUILIN_Q)
    assert reply.content == expected
    assert reply.usage_metadata and reply.usage_metadata["total_tokens"] > 0
    streamed = "".join(str(part.content) for part in chat.stream(GUILIN_Q))
    assert streamed.strip() == expected
