"""Production mode on one machine: a real ``chroma run`` server and a real llama_cpp.server on
127.0.0.1, two API processes (``qa serve``) against them. A document posted to one is
answerable through the other (its keyword index follows Chroma within the refresh interval), a
delete through one is honoured by both, and when the Chroma server stops the API answers 503
with the reason and resumes by itself when it is back."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import GUILIN_Q, ROOT, SEED, free_port
from tests.test_openai_mode import model_server  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REFRESH_S = 1.0
FACT = {
    "title": "Lighthouse on Skerry Point gets a new keeper",
    "text": (
        "Marta Quillfeather became the keeper of the Skerry Point lighthouse on Monday. "
        "She is the first keeper there since the light was automated in 1987."
    ),
    "source": "Coast Gazette",
    "published": "2025-05-05",
}


def _start_chroma(path: Path, port: int) -> subprocess.Popen[bytes]:
    exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    proc = subprocess.Popen(
        [exe, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait(f"http://127.0.0.1:{port}/api/v2/heartbeat", proc, 60)
    return proc


def _wait(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{proc.args} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail(f"{url} not ready in {timeout}s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[dict[str, object]]:
    root = tmp_path_factory.mktemp("scale")
    chroma_port = free_port()
    chroma = _start_chroma(root / "chroma", chroma_port)
    state: dict[str, object] = {"chroma": chroma, "chroma_port": chroma_port, "root": root}
    try:
        yield state
    finally:
        for p in state.get("apis", []):
            _stop(p)
        _stop(state["chroma"])


def _api(
    root: Path, name: str, chroma_port: int, model_base: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "QA_DATA_DIR": str(root / name),
        "QA_STORE__KIND": "http",
        "QA_STORE__PORT": str(chroma_port),
        "QA_GENERATOR__KIND": "openai",
        "QA_GENERATOR__BASE_URL": model_base,
        "QA_GENERATOR__MODEL": "smollm2",
        "QA_GENERATOR__TIMEOUT_S": "60",
        "QA_RETRIEVAL__KEYWORD_REFRESH_S": str(REFRESH_S),
    }
    log = (root / f"{name}.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    _wait(f"{base}/readyz", proc, 240)
    return proc, base


def test_two_replicas_share_one_chroma_and_one_model_server(cluster, model_server) -> None:  # noqa: F811
    _, model_base = model_server
    root = cluster["root"]
    port = cluster["chroma_port"]
    a_proc, a = _api(root, "a", port, model_base)
    b_proc, b = _api(root, "b", port, model_base)
    cluster["apis"] = [a_proc, b_proc]

    # the seed, uploaded through A, answered through B by the model server
    r = httpx.post(f"{a}/v1/documents", files={"file": (SEED.name, SEED.read_bytes())}, timeout=120)
    assert r.status_code == 201, r.text
    answer = httpx.post(f"{b}/v1/ask", json={"question": GUILIN_Q}, timeout=180).json()
    assert "regional security dialogue platform" in answer["text"], answer
    assert answer["citations"][0]["title"].startswith("China, Russia FMs")

    # a new article through A: B's keyword index (BM25 alone) finds it within the interval
    r = httpx.post(f"{a}/v1/documents", json={"articles": [FACT]}, timeout=120)
    assert r.status_code == 201, r.text
    doc_id = r.json()["documents"][0]["id"]
    t0 = time.time()
    found_after = None
    while time.time() - t0 < 10 * REFRESH_S + 10:
        hits = httpx.post(
            f"{b}/v1/search", json={"query": "Quillfeather keeper", "method": "bm25"}, timeout=30
        ).json()["passages"]
        if any(p["article_id"] == doc_id for p in hits):
            found_after = time.time() - t0
            break
        time.sleep(0.2)
    assert found_after is not None, "B's keyword index never picked up A's write"
    ans = httpx.post(
        f"{b}/v1/ask",
        json={
            "question": "Who became the keeper of the Skerry Point lighthouse?",
            "mode": "extractive",
        },
        timeout=60,
    ).json()
    assert "Quillfeather" in ans["text"] and ans["citations"][0]["article_id"] == doc_id

    # deleted through B: gone from A at once, for every retrieval method
    assert httpx.delete(f"{b}/v1/documents/{doc_id}", timeout=60).status_code == 200
    for method in ("hybrid", "dense", "bm25"):
        hits = httpx.post(
            f"{a}/v1/search", json={"query": "Quillfeather keeper", "method": method}, timeout=30
        ).json()["passages"]
        assert doc_id not in {p["article_id"] for p in hits}, method
    assert httpx.get(f"{a}/v1/documents/{doc_id}", timeout=30).status_code == 404

    # the Chroma server stops: 503 with the reason, readiness says why
    _stop(cluster["chroma"])
    r = httpx.post(f"{a}/v1/search", json={"query": "Guilin"}, timeout=60)
    assert r.status_code == 503 and r.json()["error"]["code"] == "store_unavailable", r.text
    assert "Chroma" in r.json()["error"]["message"]
    r = httpx.post(f"{b}/v1/ask", json={"question": GUILIN_Q, "mode": "extractive"}, timeout=60)
    assert r.status_code == 503, r.text
    ready = httpx.get(f"{a}/readyz", timeout=60)
    assert ready.status_code == 503 and "unavailable" in ready.json()["checks"]["store"]
    # ... and back: both replicas resume without a restart
    cluster["chroma"] = _start_chroma(root / "chroma", port)
    for base in (a, b):
        deadline = time.time() + 60
        while time.time() < deadline:
            r = httpx.post(f"{base}/v1/search", json={"query": GUILIN_Q}, timeout=30)
            if r.status_code == 200:
                break
            time.sleep(0.5)
        assert r.status_code == 200 and r.json()["passages"], r.text
        assert httpx.get(f"{base}/readyz", timeout=30).status_code == 200
    print(f"keyword index on B followed A's write in {found_after:.1f}s (refresh {REFRESH_S}s)")
