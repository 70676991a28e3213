"""The Slack bot against a fake Slack Web API on 127.0.0.1: signed events posted to
``/slack/events``; the bot's calls recorded in order. Real MiniLM, Chroma and SmolLM2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.slack.format import (
    PLACEHOLDER,
    answer_message,
    escape,
    history_from_thread,
    human_date,
    strip_mentions,
)
from qa.answer import Answer, Citation
from qa.settings import Settings, SlackSettings
from qa.wiring import Components
from tests.conftest import BBC, GUILIN_Q, ROOT, SEED
from tests.fake_slack import BOT_ID, BOT_USER, TEAM, FakeSlack, signed_headers

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
PLATFORM = "regional security dialogue platform"
SEED_TITLE = "China, Russia FMs attacks US, EU; propose regional security dialogue platform"
CHANNEL, DM = "C0GENERAL", "D0DIRECT"


# --- pure formatting -------------------------------------------------------------------------


def _answer(**more: Any) -> Answer:
    cite = Citation(
        1,
        "c" + "1" * 20,
        "Talks <in> Guilin & more",
        "c1:0:x",
        "China and Russia proposed a regional security dialogue platform.",
        10,
        80,
        0.9,
        "PTI",
        "--03-23",
        "https://example.org/a?b=1",
    )
    base = dict(
        question=GUILIN_Q,
        text="According to PTI (23 March): China and Russia proposed a"
        " regional security dialogue platform. [1]",
        citations=(cite,),
        status="answered",
        reason="ok",
        mode="local",
    )
    return Answer(**{**base, **more})


def test_answer_message_has_markers_sources_and_buttons() -> None:
    text, blocks = answer_message(_answer(), "a1")
    assert "[1]" in blocks[0]["text"]["text"]
    sources = [b for b in blocks if b["type"] == "section"][1]["text"]["text"]
    assert sources.startswith(
        "*[1]* <https://example.org/a?b=1|Talks &lt;in&gt; Guilin &amp; more>"
    )
    assert "— PTI, 23 March" in sources and "\n>China and Russia proposed" in sources
    actions = blocks[-1]
    assert [e["action_id"] for e in actions["elements"]] == ["feedback_up", "feedback_down"]
    assert {e["value"] for e in actions["elements"]} == {"a1"}
    assert "Sources:\n[1] Talks &lt;in&gt; Guilin &amp; more (PTI)" in text


def test_abstention_and_warnings_are_plain() -> None:
    text, blocks = answer_message(
        _answer(
            text="The sources I found don't answer this question.",
            citations=(),
            status="insufficient_evidence",
            reason="no passage sentence is relevant enough",
            warnings=("local generator failed (boom): answered extractively",),
        ),
        "a2",
    )
    assert text.startswith("The archive doesn't say: no passage sentence is relevant enough")
    assert any(b["type"] == "context" and "boom" in b["elements"][0]["text"] for b in blocks)
    assert not any(b["type"] == "divider" for b in blocks)


def test_small_helpers() -> None:
    assert (
        strip_mentions("<@UBOT> What did  China propose? <@U123|bob>") == "What did China propose?"
    )
    assert strip_mentions("<@UBOT> a &lt;b&gt; &amp; c") == "a <b> & c"
    assert escape("a<b>&") == "a&lt;b&gt;&amp;"
    assert human_date("2021-03-23") == "23 March 2021" and human_date("--03-23") == "23 March"
    assert human_date("2021") == "2021" and human_date(None) == ""
    thread = [
        {"ts": "1", "user": "U1", "text": "<@UBOT> " + GUILIN_Q},
        {
            "ts": "2",
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "text": "They proposed a platform. [1]\n\nSources:\n[1] x",
        },
        {"ts": "3", "user": BOT_USER, "bot_id": BOT_ID, "text": PLACEHOLDER},
        {"ts": "4", "user": "U1", "text": "What about the dollar?"},
    ]
    turns = history_from_thread(thread, BOT_USER, current_ts="4")
    assert [(t.role, t.content) for t in turns] == [
        ("user", GUILIN_Q),
        ("assistant", "They proposed a platform. [1]"),
    ]


# --- the bot over HTTP -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack()
    yield server
    server.close()


@pytest.fixture(scope="module")
def comps(minilm, tmp_path_factory, fake) -> Components:
    path = tmp_path_factory.mktemp("slack")
    settings = Settings(
        data_dir=path,
        collection="slack",
        slack=SlackSettings(
            bot_token=SecretStr("xoxb-test"), signing_secret=SecretStr(SECRET), api_url=fake.url
        ),
    )
    c = Components(settings, embedder=minilm)
    c.ingester.ingest_paths([SEED, *sorted((BBC / "politics").glob("*.txt"))[:10]])
    return c


def _app(comps: Components, **kw: Any) -> TestClient:
    api = comps.settings.api.model_copy(update={"warm_up": False})
    return TestClient(
        create_app(comps.settings.model_copy(update={"api": api}), components=comps, **kw)
    )


def event_body(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    return {
        "token": "x",
        "team_id": TEAM,
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event": event,
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
    }


def post_event(
    client: TestClient,
    body: dict[str, Any],
    retry: int | None = None,
    timestamp: int | None = None,
    secret: str = SECRET,
) -> Any:
    raw = json.dumps(body).encode()
    headers = {"content-type": "application/json", **signed_headers(secret, raw, timestamp)}
    if retry is not None:
        headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
    return client.post("/slack/events", content=raw, headers=headers)


def mention(fake: FakeSlack, ts: str, text: str, thread_ts: str | None = None) -> dict[str, Any]:
    ev = {
        "type": "app_mention",
        "user": "U1",
        "text": text,
        "ts": ts,
        "channel": CHANNEL,
        "event_ts": ts,
    }
    if thread_ts:
        ev["thread_ts"] = thread_ts
    fake.add_message(CHANNEL, thread_ts or ts, {"ts": ts, "user": "U1", "text": text})
    return ev


def transcript(fake: FakeSlack, since: int = 0) -> list[str]:
    out = []
    for method, args in fake.calls[since:]:
        shown = {
            k: (v if k != "blocks" else f"<{len(v)} blocks>")
            for k, v in args.items()
            if k in ("channel", "thread_ts", "ts", "text", "blocks", "user")
        }
        if isinstance(shown.get("text"), str) and len(shown["text"]) > 90:
            shown["text"] = shown["text"][:90] + "…"
        out.append(f"{method} {shown}")
    return out


@pytest.mark.slow
def test_mention_answered_once_with_placeholder_then_update(comps, fake) -> None:
    start = len(fake.calls)
    with _app(comps) as client:
        ev = mention(fake, "1700000001.000001", f"<@{BOT_USER}> {GUILIN_Q}")
        r = post_event(client, event_body(ev, "Ev001"))
        assert r.status_code == 200  # acknowledged at once, before answering
        update = fake.wait_for("chat.update", 1)[0]
        posts = fake.of("chat.postMessage")
        assert posts[-1]["text"] == PLACEHOLDER and posts[-1]["thread_ts"] == ev["ts"]
        assert update["channel"] == CHANNEL
        assert PLATFORM in update["text"] and "[1]" in update["text"]
        section_texts = " ".join(
            b["text"]["text"] for b in update["blocks"] if b["type"] == "section"
        )
        assert SEED_TITLE in section_texts and "PTI, 23 March" in section_texts
        # Slack retries the event, and delivers the message twin of the mention
        assert post_event(client, event_body(ev, "Ev001"), retry=1).status_code == 200
        twin = {**ev, "type": "message", "channel_type": "channel"}
        assert post_event(client, event_body(twin, "Ev002")).status_code == 200
        time.sleep(2)
    # ... and after a restart (the memory is on disk)
    with _app(comps) as client:
        assert post_event(client, event_body(ev, "Ev001"), retry=2).status_code == 200
        assert post_event(client, event_body(twin, "Ev002"), retry=1).status_code == 200
        time.sleep(2)
    calls = [m for m, _ in fake.calls[start:]]
    assert calls.count("chat.postMessage") == 1 and calls.count("chat.update") == 1, calls
    lines = transcript(fake, start)
    if os.environ.get("QA_SLACK_TRANSCRIPT"):
        Path(os.environ["QA_SLACK_TRANSCRIPT"]).write_text("\n".join(lines) + "\n")


@pytest.mark.slow
def test_thread_follow_up_without_mention_uses_the_thread(comps, fake) -> None:
    with _app(comps) as client:
        root = "1700000100.000001"
        ev = mention(fake, root, f"<@{BOT_USER}> {GUILIN_Q}")
        post_event(client, event_body(ev, "Ev100"))
        n = len(fake.of("chat.update"))
        fake.wait_for("chat.update", n if n else 1)
        before = len(fake.calls)
        follow = {
            "type": "message",
            "channel_type": "channel",
            "user": "U1",
            "channel": CHANNEL,
            "text": "What did they say about the dollar?",
            "ts": "1700000100.000050",
            "thread_ts": root,
        }
        fake.add_message(CHANNEL, root, {"ts": follow["ts"], "user": "U1", "text": follow["text"]})
        # wait until the first answer is in, so the thread counts as answered
        deadline = time.time() + 180
        while time.time() < deadline and not any(
            m.get("text", "").startswith("According") for m in fake.threads[(CHANNEL, root)]
        ):
            time.sleep(0.1)
        before = len(fake.calls)
        post_event(client, event_body(follow, "Ev101"))
        deadline = time.time() + 180
        while time.time() < deadline and not [
            m for m, _ in fake.calls[before:] if m == "chat.update"
        ]:
            time.sleep(0.1)
        calls = fake.calls[before:]
        methods = [m for m, _ in calls]
        assert "conversations.replies" in methods, methods
        update = next(a for m, a in calls if m == "chat.update")
        assert "dollar" in update["text"].lower(), update["text"]
        post = next(a for m, a in calls if m == "chat.postMessage")
        assert post["thread_ts"] == root
        # a message in a thread the bot never answered is left alone
        other = {**follow, "ts": "1700000200.000002", "thread_ts": "1700000200.000001"}
        before = len(fake.calls)
        post_event(client, event_body(other, "Ev102"))
        time.sleep(1.5)
        assert [m for m, _ in fake.calls[before:]] == []


@pytest.mark.slow
def test_direct_message_is_answered_in_the_dm(comps, fake) -> None:
    with _app(comps) as client:
        before = len(fake.calls)
        dm = {
            "type": "message",
            "channel_type": "im",
            "user": "U2",
            "channel": DM,
            "text": GUILIN_Q,
            "ts": "1700000300.000001",
        }
        post_event(client, event_body(dm, "Ev300"))
        deadline = time.time() + 180
        while time.time() < deadline and "chat.update" not in [m for m, _ in fake.calls[before:]]:
            time.sleep(0.1)
        calls = fake.calls[before:]
        post = next(a for m, a in calls if m == "chat.postMessage")
        assert post["channel"] == DM and not post.get("thread_ts")
        update = next(a for m, a in calls if m == "chat.update")
        assert PLATFORM in update["text"]
        # the bot's own message and other bots' messages are ignored
        before = len(fake.calls)
        mine = {**dm, "user": BOT_USER, "ts": "1700000300.000009", "bot_id": BOT_ID}
        other_bot = {**dm, "user": "U9", "ts": "1700000300.000010", "bot_id": "B9"}
        post_event(client, event_body(mine, "Ev301"))
        post_event(client, event_body(other_bot, "Ev302"))
        time.sleep(1.5)
        assert fake.calls[before:] == []


def test_bad_or_stale_signatures_get_401_and_no_work(comps, fake) -> None:
    with _app(comps) as client:
        before = len(fake.calls)
        ev = mention(fake, "1700000400.000001", f"<@{BOT_USER}> {GUILIN_Q}")
        r = post_event(client, event_body(ev, "Ev400"), secret="not-the-secret")
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_signature"
        r = post_event(client, event_body(ev, "Ev400"), timestamp=int(time.time()) - 600)
        assert r.status_code == 401
        r = client.post("/slack/events", json=event_body(ev, "Ev400"))  # no signature at all
        assert r.status_code == 401
        time.sleep(1)
        assert fake.calls[before:] == []
        # Slack's URL verification handshake
        raw = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "x"}).encode()
        r = client.post(
            "/slack/events",
            content=raw,
            headers={"content-type": "application/json", **signed_headers(SECRET, raw)},
        )
        assert r.status_code == 200 and "abc123" in r.text


@pytest.mark.slow
def test_feedback_click_is_stored_and_exported(comps, fake, tmp_path) -> None:
    with _app(comps) as client:
        ev = mention(fake, "1700000500.000001", f"<@{BOT_USER}> {GUILIN_Q}")
        n = len(fake.of("chat.update"))
        post_event(client, event_body(ev, "Ev500"))
        update = fake.wait_for("chat.update", n + 1)[-1]
        actions = next(b for b in update["blocks"] if b["type"] == "actions")
        answer_id = actions["elements"][0]["value"]
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM},
            "user": {"id": "U7"},
            "api_app_id": "A1",
            "token": "x",
            "trigger_id": "t1",
            "channel": {"id": CHANNEL},
            "container": {"type": "message"},
            "message": {"ts": update["ts"], "thread_ts": ev["ts"], "text": update["text"]},
            "actions": [
                {
                    "action_id": "feedback_up",
                    "block_id": "feedback",
                    "value": answer_id,
                    "type": "button",
                    "action_ts": "1",
                }
            ],
        }
        raw = urlencode({"payload": json.dumps(payload)}).encode()
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            **signed_headers(SECRET, raw),
        }
        e = len(fake.of("chat.postEphemeral"))
        assert client.post("/slack/events", content=raw, headers=headers).status_code == 200
        ephemeral = fake.wait_for("chat.postEphemeral", e + 1)[-1]
        assert ephemeral["user"] == "U7" and "recorded" in ephemeral["text"]
    out = tmp_path / "feedback.jsonl"
    env = {**os.environ, "QA_DATA_DIR": str(comps.data_dir)}
    r = subprocess.run(
        [sys.executable, "-m", "cli", "feedback", "export", "--out", str(out)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    mine = [row for row in rows if row["answer_id"] == answer_id]
    assert len(mine) == 1 and mine[0]["rating"] == 1 and mine[0]["user"] == "U7"
    assert mine[0]["question"] == GUILIN_Q and PLATFORM in mine[0]["answer"]
    assert mine[0]["citations"][0]["title"] == SEED_TITLE


def test_generator_failure_is_posted_in_the_thread(comps, fake, scripted) -> None:
    from qa.engine import Engine
    from qa.errors import GeneratorUnavailable
    from qa.options import EngineOptions

    down = GeneratorUnavailable("model server at http://127.0.0.1:9/v1 is unavailable")
    dead = scripted("x", fail_after=0, error=down)
    engine = Engine(
        comps.retriever,
        comps.verifier,
        {"local": lambda: dead},
        options=EngineOptions(allow_fallback=False),
    )
    with _app(comps, engine=engine) as client:
        n = len(fake.of("chat.update"))
        ev = mention(fake, "1700000600.000001", f"<@{BOT_USER}> {GUILIN_Q}")
        post_event(client, event_body(ev, "Ev600"))
        update = fake.wait_for("chat.update", n + 1)[-1]
        assert update["text"].startswith(":x: I couldn't answer that:")
        assert "is unavailable" in update["text"]


def test_slack_rate_limits_are_retried(comps, fake) -> None:
    with _app(comps) as client:
        fake.rate_limit["chat.postMessage"] = 1
        before = len(fake.calls)
        dm = {
            "type": "message",
            "channel_type": "im",
            "user": "U3",
            "channel": DM,
            "text": "",
            "ts": "1700000700.000001",
        }  # empty: the bot answers with a hint
        post_event(client, event_body(dm, "Ev700"))
        deadline = time.time() + 30
        while (
            time.time() < deadline
            and len([m for m, _ in fake.calls[before:] if m == "chat.postMessage"]) < 2
        ):
            time.sleep(0.1)
        posts = [a for m, a in fake.calls[before:] if m == "chat.postMessage"]
        assert len(posts) == 2 and "Ask me a question" in posts[-1]["text"]  # 429, then retried


def test_bot_off_without_settings(tmp_path, caplog) -> None:
    from index.embedder import HashEmbedder

    caplog.set_level("INFO", logger="api")
    s = Settings(data_dir=tmp_path, store={"kind": "ephemeral"}, generator={"kind": "extractive"})
    with TestClient(create_app(components=Components(s, embedder=HashEmbedder()))) as client:
        r = client.post("/slack/events", json={"type": "event_callback"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "slack_disabled"
    assert "Slack bot off: QA_SLACK__BOT_TOKEN and QA_SLACK__SIGNING_SECRET not set" in caplog.text


@pytest.mark.slow
def test_event_taken_before_a_restart_is_answered_after_it(comps, fake) -> None:
    """A process took a mention and posted its placeholder, then died before answering: the
    next process answers it (in that placeholder), once."""
    from api.slack.store import SlackMemory

    ev = mention(fake, "1700000800.000001", f"<@{BOT_USER}> {GUILIN_Q}")
    key = f"msg:{CHANNEL}:{ev['ts']}"
    memory = SlackMemory(comps.data_dir / "slack.sqlite3")
    assert memory.claim([key, "event:Ev800"])
    memory.start_work(key, ev, BOT_USER)
    placeholder_ts = fake.next_ts()
    fake.add_message(
        CHANNEL,
        ev["ts"],
        {"ts": placeholder_ts, "user": BOT_USER, "bot_id": BOT_ID, "text": PLACEHOLDER},
    )
    memory.set_placeholder(key, placeholder_ts)
    memory.close()
    before = len(fake.calls)
    with _app(comps) as client:
        deadline = time.time() + 180
        while time.time() < deadline and not any(
            m == "chat.update" and a.get("ts") == placeholder_ts for m, a in fake.calls[before:]
        ):
            time.sleep(0.1)
        # Slack retries the event meanwhile: still one answer
        post_event(client, event_body(ev, "Ev800"), retry=1)
        time.sleep(1.5)
    calls = fake.calls[before:]
    updates = [a for m, a in calls if m == "chat.update"]
    assert len(updates) == 1 and updates[0]["ts"] == placeholder_ts
    assert PLATFORM in updates[0]["text"]
    assert not [a for m, a in calls if m == "chat.postMessage"]
    again = SlackMemory(comps.data_dir / "slack.sqlite3")
    assert again.unfinished(600) == []
    again.close()
