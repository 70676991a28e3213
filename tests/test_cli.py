"""The command line as a new user runs it: real processes, a fresh data directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, GUILIN_Q, ROOT

pytestmark = pytest.mark.slow


def qa(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QA_DATA_DIR": str(data), "QA_GENERATOR__KIND": "extractive"}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )


def test_ingest_then_search_puts_guilin_passage_first(tmp_path: Path) -> None:
    r = qa("ingest", str(EXAMPLES), data=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "1 added" in r.stdout
    r = qa("search", GUILIN_Q, "--json", data=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    first = out["passages"][0]
    assert "regional security dialogue platform" in first["text"]
    assert first["title"].startswith("China, Russia FMs")
    # list and re-ingest
    r = qa("list", "--json", data=tmp_path)
    assert json.loads(r.stdout)["total"] == 1
    r = qa("ingest", str(EXAMPLES), data=tmp_path)
    assert r.returncode == 0 and "1 unchanged" in r.stdout


def test_bad_input_gets_clear_errors_and_keeps_data(tmp_path: Path) -> None:
    assert qa("ingest", str(EXAMPLES), data=tmp_path).returncode == 0
    r = qa("ingest", str(tmp_path / "nope"), data=tmp_path)
    assert r.returncode == 2 and "no such file" in r.stderr
    r = qa("search", "   ", data=tmp_path)
    assert r.returncode == 2 and "empty" in r.stderr
    r = qa("search", "x", "--from", "2021-13-45", data=tmp_path)
    assert r.returncode == 2 and "not a date" in r.stderr
    r = qa("search", "x", "--from", "2022-01-01", "--to", "2021-01-01", data=tmp_path)
    assert r.returncode == 2 and "after" in r.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "Fine", "text": "A fine record about ports."}\n{broken\n')
    r = qa("ingest", str(bad), data=tmp_path)
    assert r.returncode == 1 and "line 2" in r.stderr and "1 added" in r.stdout
    r = qa("delete", "no-such-id", data=tmp_path)
    assert r.returncode == 2 and "no article" in r.stderr
    r = qa("ask", GUILIN_Q, "--as-of", "next week", data=tmp_path)
    assert r.returncode == 2 and "--as-of" in r.stderr and "not a date" in r.stderr
    r = qa("serve", "--workers", "2", data=tmp_path)
    assert r.returncode == 2 and "Chroma server" in r.stderr
    r = qa("serve", "--port", "0", data=tmp_path)
    assert r.returncode == 2 and "PORT" in r.stderr
    r = qa("slack", data=tmp_path)
    assert r.returncode == 2 and "QA_SLACK__BOT_TOKEN and QA_SLACK__APP_TOKEN" in r.stderr
    r = qa("feedback", "export", data=tmp_path)
    assert r.returncode == 2 and "no Slack feedback yet" in r.stderr
    # nothing already stored was lost
    r = qa("list", "--json", data=tmp_path)
    assert json.loads(r.stdout)["total"] == 2
    r = qa("search", GUILIN_Q, "--json", data=tmp_path)
    assert "regional security dialogue platform" in json.loads(r.stdout)["passages"][0]["text"]


def test_misspelt_setting_is_an_error(tmp_path: Path) -> None:
    env = {**os.environ, "QA_DATA_DIR": str(tmp_path), "QA_RETRIEVAL__KAY": "5"}
    r = subprocess.run(
        [sys.executable, "-m", "cli", "list"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert r.returncode == 2 and "invalid configuration" in r.stderr


def test_ask_default_mode_answers_guilin_with_exact_quote(tmp_path: Path) -> None:
    """The acceptance check: empty data dir, ingest examples/, ask in the default (local) mode."""
    env = {**os.environ, "QA_DATA_DIR": str(tmp_path)}
    env.pop("QA_GENERATOR__KIND", None)
    run = lambda *a: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "cli", *a],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    assert run("ingest", str(EXAMPLES)).returncode == 0
    r = run("ask", GUILIN_Q, "--json")
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    assert "regional security dialogue platform" in answer["text"]
    assert answer["status"] == "answered", answer
    seed_text = None
    from index.parse import parse_path

    seed_text = parse_path(EXAMPLES / "guilin-pti-2021-03-23.txt").articles[0].text
    cited = [c for c in answer["citations"] if c["title"].startswith("China, Russia FMs")]
    assert cited
    for c in cited:
        assert seed_text[c["start"] : c["end"]] == c["quote"]
    assert answer["mode"] in ("local", "extractive")
    if answer["mode"] == "extractive":
        assert answer["warnings"]  # the model's answer was replaced: said so


def test_chat_keeps_history(tmp_path: Path) -> None:
    env = {**os.environ, "QA_DATA_DIR": str(tmp_path), "QA_GENERATOR__KIND": "extractive"}
    subprocess.run(
        [sys.executable, "-m", "cli", "ingest", str(EXAMPLES)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=600,
        check=True,
    )
    r = subprocess.run(
        [sys.executable, "-m", "cli", "chat"],
        input=f"{GUILIN_Q}\nAnd what did Lavrov say about the dollar?\nexit\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    assert "regional security dialogue platform" in r.stdout
    assert "US dollar" in r.stdout
    assert r.stdout.count("Sources:") == 2
