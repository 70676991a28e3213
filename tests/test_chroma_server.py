"""Against a real ``chroma run`` server on 127.0.0.1, started and stopped by the fixture."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import GUILIN_Q, SEED, free_port, make_parts

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory) -> Iterator[tuple[str, int]]:
    exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen(
        [exe, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if (
                    httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code
                    == 200
                ):
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("chroma server did not start")
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_ingest_and_search_through_chroma_server(chroma_server, minilm) -> None:
    from index.store import ChromaStore

    host, port = chroma_server
    store = ChromaStore.http(host, port, name="srv")
    ingester, retriever = make_parts(store, minilm)
    report = ingester.ingest_paths([SEED])
    assert len(report.added) == 1
    top = retriever.search(GUILIN_Q, k=3)[0]
    assert "regional security dialogue platform" in top.text
    # a second client (another process would do the same) sees the same data
    other = ChromaStore.http(host, port, name="srv")
    assert other.count_chunks() == store.count_chunks() == report.chunks
    assert ingester.ingest_paths([SEED]).unchanged


def test_unreachable_server_is_a_clear_error() -> None:
    from index.errors import StoreUnavailable
    from index.store import ChromaStore

    with pytest.raises(StoreUnavailable, match=r"127\.0\.0\.1"):
        ChromaStore.http("127.0.0.1", free_port(), name="none")
