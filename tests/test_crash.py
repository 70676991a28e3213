"""A native crash of the local model never takes the service down (real HTTP on 127.0.0.1).

The model process is ``tests/fake_llama_worker.py`` (the worker's protocol, a scripted answer
streamed word by word), so that ``kill -ILL`` lands in the middle of an answer every time; the
answer is verified against the seed article by the real MiniLM like any model's.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from qa.local_model import LocalModelGenerator
from qa.settings import Settings, SlackSettings
from qa.supervisor import SupervisedLlama
from qa.wiring import Components
from tests.conftest import GUILIN_Q, SEED, free_port
from tests.fake_slack import BOT_USER, FakeSlack
from tests.test_slack import SECRET, event_body, mention, post_event

FAKE = str(Path(__file__).with_name("fake_llama_worker.py"))
PLATFORM = "regional security dialogue platform"


def supervised(mode: str, delay: float = 0.15) -> SupervisedLlama:
    return SupervisedLlama(
        Path("fake.gguf"),
        command=[sys.executable, FAKE, mode, "--delay", str(delay)],
        backoff_s=(0.05, 0.05, 0.05),
        retry_after_s=300,
    )


def components(tmp: Path, embedder: Any, runner: SupervisedLlama, **more: Any) -> Components:
    settings = Settings(data_dir=tmp, collection="crash", **more)
    gen = LocalModelGenerator(runner, "smollm2")
    comps = Components(settings, embedder=embedder, generators={"local": gen})
    comps.ingester.ingest_paths([SEED])
    return comps


class Server:
    """uvicorn serving the app in a thread, on a free port of 127.0.0.1."""

    def __init__(self, comps: Components):
        import uvicorn

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(components=comps), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.time() + 60
        while not self.server.started and time.time() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def sse(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    event = None
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event:
            yield event, json.loads(line[6:])


@pytest.fixture
def crashing(onnx_embedder, tmp_path) -> Iterator[tuple[Components, SupervisedLlama]]:
    runner = supervised("answer")
    comps = components(tmp_path, onnx_embedder, runner)
    yield comps, runner
    comps.close()


@pytest.mark.slow  # the ONNX MiniLM and a real HTTP server
def test_kill_ill_mid_stream_then_the_restarted_model_answers(crashing) -> None:
    comps, runner = crashing
    body = {"messages": [{"role": "user", "content": GUILIN_Q}], "stream": True}
    with Server(comps) as srv:
        frames: list[tuple[str, Any]] = []
        killed = None
        with httpx.stream("POST", f"{srv.base}/v1/chat", json=body, timeout=120) as r:
            assert r.status_code == 200
            for kind, data in sse(r.iter_lines()):
                frames.append((kind, data))
                if kind == "delta" and killed is None:
                    killed = runner.pid  # the model is still writing its second sentence
                    assert killed is not None
                    os.kill(killed, signal.SIGILL)
        kinds = [k for k, _ in frames]
        assert kinds[0] == "delta" and "reset" in kinds and kinds[-1] == "final", kinds
        reset = frames[kinds.index("reset")][1]["reason"]
        assert "crashed" in reset and "SIGILL" in reset
        after = "".join(d["text"] for k, d in frames[kinds.index("reset") :] if k == "delta")
        final = frames[-1][1]
        assert final["mode"] == "extractive" and after.strip() == final["text"]
        assert PLATFORM in final["text"] and final["citations"]
        assert any("local model crashed" in w and "SIGILL" in w for w in final["warnings"])
        # the supervisor restarts the model; the next question is answered by it
        deadline = time.time() + 30
        while runner.pid in (None, killed) and time.time() < deadline:
            time.sleep(0.05)
        nxt = httpx.post(f"{srv.base}/v1/ask", json={"question": GUILIN_Q}, timeout=120).json()
        assert nxt["mode"] == "local" and not nxt["warnings"], nxt
        assert PLATFORM in nxt["text"]
        metrics = httpx.get(f"{srv.base}/metrics", timeout=10).text
        assert "qa_model_crashes_total 1.0" in metrics
        assert "qa_model_restarts_total 1.0" in metrics
        assert httpx.get(f"{srv.base}/readyz", timeout=30).json()["status"] == "ready"


def test_a_model_that_dies_at_every_start_is_given_up(onnx_embedder, tmp_path) -> None:
    runner = supervised("die-at-start")
    comps = components(tmp_path, onnx_embedder, runner)
    with TestClient(create_app(components=comps)) as client:
        deadline = time.time() + 30
        while "gave up" not in runner.state() and time.time() < deadline:
            time.sleep(0.05)
        ready = client.get("/readyz")
        assert ready.status_code == 503
        reason = ready.json()["checks"]["generator"]
        assert "gave up after 3 failed starts" in reason and "SIGSEGV" in reason
        r = client.post("/v1/ask", json={"question": GUILIN_Q, "mode": "extractive"})
        assert r.status_code == 200 and PLATFORM in r.json()["text"]
        local = client.post("/v1/ask", json={"question": GUILIN_Q}).json()
        assert local["mode"] == "extractive" and PLATFORM in local["text"]
        assert any("gave up" in w for w in local["warnings"]), local["warnings"]
        assert "qa_model_failed_starts_total 3.0" in client.get("/metrics").text


@pytest.mark.slow
def test_the_slack_answer_under_a_crash_is_the_extractive_one(onnx_embedder, tmp_path) -> None:
    fake = FakeSlack()
    runner = supervised("answer", delay=0.4)
    slack = SlackSettings(
        bot_token=SecretStr("xoxb-test"), signing_secret=SecretStr(SECRET), api_url=fake.url
    )
    comps = components(tmp_path, onnx_embedder, runner, slack=slack)
    try:
        with TestClient(create_app(components=comps)) as client:
            runner.check()
            ev = mention(fake, "1700009001.000001", f"<@{BOT_USER}> {GUILIN_Q}")
            assert post_event(client, event_body(ev, "EvCrash1")).status_code == 200
            deadline = time.time() + 30
            while runner.stats.crashes == 0 and time.time() < deadline:
                pid = runner.pid
                if pid is not None and "chat.postMessage" in [m for m, _ in fake.calls]:
                    time.sleep(0.3)  # the model has started writing
                    os.kill(pid, signal.SIGILL)
                    break
                time.sleep(0.02)
            update = fake.wait_for("chat.update", 1)[0]
        assert PLATFORM in update["text"]
        notes = " ".join(
            e["text"] for b in update["blocks"] if b["type"] == "context" for e in b["elements"]
        )
        assert "local model crashed" in notes and "SIGILL" in notes
    finally:
        comps.close()
        fake.close()
