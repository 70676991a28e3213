"""A bounded schemathesis run over the OpenAPI schema: generated requests (valid and not)
against every operation never get a server error, and every error has the one JSON shape."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from api.app import create_app
from index.embedder import HashEmbedder
from qa.settings import Settings
from qa.wiring import Components
from tests.conftest import SEED

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app_under_test(tmp_path_factory) -> Iterator[Any]:
    # a fast but real stack: in-memory Chroma, BM25, a hashing embedder, extractive answers
    s = Settings(
        data_dir=tmp_path_factory.mktemp("schema"),
        collection=f"s-{uuid.uuid4().hex[:8]}",
        store={"kind": "ephemeral"},
        generator={"kind": "extractive"},
    )
    comps = Components(s, embedder=HashEmbedder())
    comps.ingester.ingest_paths([SEED])
    app = create_app(components=comps)
    with TestClient(app):  # runs the lifespan: the service exists for the generated calls
        yield app


def fuzz(operation: Any, mode: Any, counts: dict[str, Counter[int]]) -> None:
    """Up to 40 generated cases for one operation (derandomized, so a run repeats)."""
    label = f"{operation.method.upper()} {operation.path} ({mode.value})"
    counts[label] = Counter()

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        response = case.call()
        counts[label][response.status_code] += 1
        assert response.status_code < 500, (label, case.body, response.text)
        if response.status_code >= 400:
            body = response.json()
            assert set(body) == {"error"}, body
            assert body["error"]["code"] and body["error"]["message"]

    try:
        check()
    except Unsatisfiable:  # nothing to make invalid (an operation without inputs)
        assert mode is schemathesis.GenerationMode.NEGATIVE, label


def test_no_server_errors(app_under_test) -> None:
    """Every operation, with valid and with invalid inputs."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app_under_test)
    counts: dict[str, Counter[int]] = {}
    for result, mode in itertools.product(
        list(schema.get_all_operations()), list(schemathesis.GenerationMode)
    ):
        fuzz(result.ok(), mode, counts)
    total = sum(sum(c.values()) for c in counts.values())
    assert len(counts) >= 20 and total >= 500, counts
    ok = sum(n for c in counts.values() for status, n in c.items() if status < 300)
    assert ok >= 100, counts  # valid inputs really reach the engine, not only the validator
    print(
        f"schemathesis: {total} cases, {ok} 2xx, no 5xx:", {k: dict(v) for k, v in counts.items()}
    )
