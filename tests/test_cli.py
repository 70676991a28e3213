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
        [sys.executable, "-m", "qa", *args],
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
    # nothing already stored was lost
    r = qa("list", "--json", data=tmp_path)
    assert json.loads(r.stdout)["total"] == 2
    r = qa("search", GUILIN_Q, "--json", data=tmp_path)
    assert "regional security dialogue platform" in json.loads(r.stdout)["passages"][0]["text"]


def test_misspelt_setting_is_an_error(tmp_path: Path) -> None:
    env = {**os.environ, "QA_DATA_DIR": str(tmp_path), "QA_RETRIEVAL__KAY": "5"}
    r = subprocess.run(
        [sys.executable, "-m", "qa", "list"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert r.returncode == 2 and "invalid configuration" in r.stderr
