"""Shared fixtures: real MiniLM (loaded once), hash fake, stores, the BBC + seed corpus."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
# one ONNX export per test session, shared by every data folder and subprocess (the default
# embedder); tests of the first-run path remove it from their server's environment
_MODELS = Path(tempfile.mkdtemp(prefix="qa-test-models-"))
atexit.register(shutil.rmtree, _MODELS, True)
os.environ.setdefault("QA_EMBEDDER__CACHE_DIR", str(_MODELS))

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SEED = EXAMPLES / "guilin-pti-2021-03-23.txt"
SHARED_DATA = Path(os.environ.get("QA_EVAL_DATA", ROOT.parent / "shared" / "data"))
BBC = SHARED_DATA / "bbc-news" / "bbc"
GUILIN_Q = "What did China and Russia propose at Guilin?"


# a test that asks for one of these loads a real model or the BBC corpus: it is slow by the
# marker's definition, wherever it is written (``pytest -m "not slow"`` is the fast lane)
REAL_MODEL_FIXTURES = frozenset({"minilm", "onnx_embedder", "bbc_corpus", "smollm2", "shipped"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if REAL_MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def minilm():
    from index.embedder import MiniLMEmbedder

    return MiniLMEmbedder()


@pytest.fixture(scope="session")
def onnx_embedder():
    """The product's default embedder: MiniLM exported to ONNX (int8), built once a session."""
    from index.onnx_embedder import OnnxMiniLMEmbedder

    return OnnxMiniLMEmbedder(Path(os.environ["QA_EMBEDDER__CACHE_DIR"]))


@pytest.fixture
def hash_embedder():
    from index.embedder import HashEmbedder

    return HashEmbedder()


def make_parts(store, embedder, keyword_path=None):
    from index.chunking import SentenceChunker
    from index.ingest import Ingester
    from index.keyword import BM25Index
    from index.retrieval import HybridRetriever

    keyword = BM25Index(keyword_path)
    ingester = Ingester(store, keyword, embedder, SentenceChunker())
    return ingester, HybridRetriever(store, keyword, embedder)


@pytest.fixture
def ephemeral_store():
    from index.store import ChromaStore

    return ChromaStore.ephemeral(f"t-{uuid.uuid4().hex[:10]}")


@pytest.fixture(scope="session")
def bbc_corpus(minilm, tmp_path_factory) -> Iterator[object]:
    """The seed article plus all 2,225 BBC articles, embedded with the real MiniLM, in a
    persistent Chroma under a temp folder. Shared by the search and engine tests."""
    from index.store import ChromaStore

    if not BBC.is_dir():
        pytest.skip(f"BBC data set not found at {BBC}")
    path = tmp_path_factory.mktemp("bbc")
    store = ChromaStore.embedded(path / "chroma", "bbc")
    ingester, retriever = make_parts(store, minilm, path / "keyword")
    report = ingester.ingest_paths([EXAMPLES, BBC])
    assert not report.skipped, report.skipped
    yield type(
        "Corpus",
        (),
        {
            "store": store,
            "ingester": ingester,
            "retriever": retriever,
            "report": report,
            "path": path,
        },
    )


class ScriptedGenerator:
    """A generator whose outputs are scripted: each call to ``stream`` takes the next
    output (the last repeats), yields it word by word, and may fail after ``fail_after``
    pieces with ``error``. ``calls`` records (question, passage texts) of every call."""

    def __init__(
        self, *outputs: str, fail_after=None, error=None, rewrite="", name="scripted", delay=0.0
    ):
        self.delay = delay  # seconds before the first piece (a slow model)
        self.outputs = list(outputs) or [""]
        self.fail_after = fail_after
        self.error = error
        self.rewrite = rewrite
        self.name = name
        self.prompt_id = f"{name}@0"
        self.calls: list[tuple[str, list[str]]] = []

    def stream(self, question, passages):
        self.calls.append((question, [p.text for p in passages]))
        text = self.outputs[min(len(self.calls) - 1, len(self.outputs) - 1)]
        if self.delay:
            import time

            time.sleep(self.delay)
        for i, word in enumerate(text.split(" ")):
            if self.fail_after is not None and i >= self.fail_after:
                raise self.error
            yield word if i == 0 else " " + word

    def complete(self, prompt, max_tokens=48):
        self.calls.append(("complete", [prompt]))
        if isinstance(self.rewrite, BaseException):
            raise self.rewrite
        return self.rewrite


@pytest.fixture
def scripted():
    return ScriptedGenerator
