"""The real thing, as a new user meets it: ``qa run`` on an empty data folder ingests the
sample article and serves on 127.0.0.1; then plain HTTP, the official ``openai`` client
(streamed and not) and a real headless Chromium on the chat page."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import GUILIN_Q, ROOT, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PLATFORM = "regional security dialogue platform"
SEED_TITLE = "China, Russia FMs attacks US, EU; propose regional security dialogue platform"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("live")
    port = free_port()
    env = {**os.environ, "QA_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
    env.pop("QA_EMBEDDER__CACHE_DIR", None)  # as on a fresh machine: the export happens here
    log = (data / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "run", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"qa run exited: {(data / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("qa run did not become ready")
        printed = (data / "server.log").read_text()
        assert "ingesting the sample corpus" in printed
        # the default embedder is the ONNX export, built into the data folder on first use
        assert (data / "models" / "all-MiniLM-L6-v2-fused-int8.onnx").is_file(), printed
        assert "using torch" not in printed
        assert f"chat page: http://127.0.0.1:{port}/" in printed
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_curl_ask_returns_the_cited_answer(live) -> None:
    r = httpx.post(
        f"{live}/v1/ask",
        content=f'{{"question":"{GUILIN_Q}"}}',
        headers={"content-type": "application/json"},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    answer = r.json()
    assert PLATFORM in answer["text"] and answer["status"] == "answered"
    assert answer["citations"][0]["title"] == SEED_TITLE
    doc = httpx.get(f"{live}/v1/documents/{answer['citations'][0]['article_id']}").json()
    for c in answer["citations"]:
        assert doc["text"][c["start"] : c["end"]] == c["quote"]


def test_official_openai_client(live) -> None:
    import openai

    client = openai.OpenAI(base_url=f"{live}/v1", api_key="unused", max_retries=0, timeout=120)
    ids = [m.id for m in client.models.list()]
    assert "newsqa" in ids and "newsqa-extractive" in ids and "newsqa-local" in ids
    direct = httpx.post(f"{live}/v1/ask", json={"question": GUILIN_Q}, timeout=120).json()
    out = client.chat.completions.create(
        model="newsqa", messages=[{"role": "user", "content": GUILIN_Q}]
    )
    content = out.choices[0].message.content or ""
    assert content == direct["text"] and PLATFORM in content and "[1]" in content
    extra = out.model_extra or {}
    assert extra["citations"][0]["title"] == SEED_TITLE
    assert extra["qa"]["status"] == "answered"
    # streamed: the same text, citations once, on the last chunk
    pieces, with_citations = [], []
    for chunk in client.chat.completions.create(
        model="newsqa", messages=[{"role": "user", "content": GUILIN_Q}], stream=True
    ):
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if (chunk.model_extra or {}).get("citations"):
            with_citations.append(chunk)
    assert "".join(pieces).strip() == content
    assert len(with_citations) == 1 and with_citations[0].choices[0].finish_reason == "stop"
    # a follow-up with history, and an unknown model
    follow = client.chat.completions.create(
        model="newsqa-extractive",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": GUILIN_Q},
            {"role": "assistant", "content": content},
            {"role": "user", "content": "What did they say about the dollar?"},
        ],
    )
    assert "dollar" in (follow.choices[0].message.content or "").lower()
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])
    assert "not served" in str(err.value)


def test_chat_page_in_a_real_browser(live, tmp_path) -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    shot = Path(os.environ.get("QA_SCREENSHOT", tmp_path / "chat.png"))
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(live + "/")
            page.fill("#q", GUILIN_Q)
            page.click("#send")
            sources = page.locator(".turn.bot ol.sources li")
            sources.first.wait_for(timeout=120_000)
            answer = page.locator(".turn.bot .text").first.inner_text()
            assert PLATFORM in answer and "[1]" in answer
            first = sources.first.inner_text()
            assert SEED_TITLE in first and "PTI, 23 March (year not given)" in first
            assert page.locator(".turn.bot blockquote").first.inner_text() in page.evaluate(
                "() => document.body.innerText"
            )
            # a follow-up in the same conversation, then a question the archive cannot answer
            page.fill("#q", "What did they say about the dollar?")
            page.click("#send")
            page.locator(".turn.bot").nth(1).locator("ol.sources li").first.wait_for(
                timeout=120_000
            )
            assert "dollar" in page.locator(".turn.bot .text").nth(1).inner_text().lower()
            page.fill("#q", "Who won the 1998 football World Cup final?")
            page.click("#send")
            third = page.locator(".turn.bot").nth(2)
            third.locator(".status").first.wait_for(timeout=120_000)
            assert "Not answered from the sources" in third.inner_text()
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
