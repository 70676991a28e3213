"""Faults: ingestion killed with SIGKILL part-way through the BBC set, then run again; and
concurrent writers and readers through the documents API. Afterwards Chroma, the keyword index
and the article registry agree, with no duplicates and no orphans. (The hashing embedder keeps
this fast: consistency does not depend on the embedding model.)"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import BBC, ROOT, SEED

pytestmark = [pytest.mark.slow]


def _env(data: Path) -> dict[str, str]:
    return {
        **os.environ,
        "QA_DATA_DIR": str(data),
        "QA_EMBEDDER__KIND": "hash",
        "QA_GENERATOR__KIND": "extractive",
    }


def _consistency(data: Path) -> dict[str, int]:
    from index.store import COMPLETE
    from qa.settings import Settings
    from qa.wiring import Components

    comps = Components(Settings(data_dir=data, embedder={"kind": "hash"}))
    store = comps.store
    records = store.find_articles({"state": {"$in": ["pending", COMPLETE]}})
    states = Counter(r.state for r in records)
    ids = [r.article.id for r in records]
    assert len(ids) == len(set(ids)), "duplicate article records"
    chunk_ids = store.all_chunk_ids()
    assert len(chunk_ids) == len(set(chunk_ids)), "duplicate chunks"
    owners = Counter(cid.split(":")[0] for cid in chunk_ids)
    orphans = set(owners) - set(ids)
    assert not orphans, f"chunks without an article: {sorted(orphans)[:3]}"
    for r in records:
        assert owners[r.article.id] == r.n_chunks, (r.article.id, owners[r.article.id], r.n_chunks)
    comps.ingester.repair()  # what any reader does first: the keyword index must already agree
    assert comps.keyword.matches(chunk_ids)
    # every article is answerable: a sample found by the words of its opening sentence
    sample = random.Random(0).sample(records, min(25, len(records)))
    for r in sample:
        opening = " ".join(r.article.text.split()[:15])
        hits = comps.retriever.search(opening, k=10, method="bm25")
        assert r.article.id in {p.article_id for p in hits}, opening
    comps.store.close()
    return {"articles": len(ids), "chunks": len(chunk_ids), "pending": states.get("pending", 0)}


def test_ingestion_killed_part_way_then_run_again(tmp_path: Path) -> None:
    if not BBC.is_dir():
        pytest.fail(f"BBC data set not found at {BBC}")
    data = tmp_path / "data"
    cmd = [sys.executable, "-m", "cli", "ingest", str(BBC)]
    kills = 0
    for delay in (6.0, 12.0):  # two SIGKILLs at different points
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=_env(data),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(delay)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 1, "ingestion finished before it could be killed"
    done = subprocess.run(
        cmd, cwd=ROOT, env=_env(data), capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-2000:]
    facts = _consistency(data)
    # 2,225 files, about 100 exact duplicates stored once, plus the folder's README.TXT
    assert 2100 < facts["articles"] < 2230 and facts["pending"] == 0, facts
    again = subprocess.run(
        cmd, cwd=ROOT, env=_env(data), capture_output=True, text=True, timeout=900
    )
    assert " 0 added, 0 updated" in again.stdout, again.stdout  # nothing half-written remained
    print(f"faults: {kills} SIGKILL(s); afterwards {facts}")


def test_concurrent_writers_and_readers(tmp_path: Path) -> None:
    from api.app import create_app
    from index.embedder import HashEmbedder
    from qa.settings import Settings
    from qa.wiring import Components

    s = Settings(
        data_dir=tmp_path, collection=f"c-{uuid.uuid4().hex[:6]}", generator={"kind": "extractive"}
    )
    comps = Components(s, embedder=HashEmbedder())
    comps.ingester.ingest_paths([SEED])
    files = sorted((BBC / "tech").glob("*.txt"))[:60]
    errors: list[str] = []
    seen_partial: list[str] = []
    with TestClient(create_app(components=comps), raise_server_exceptions=False) as client:

        def writer(part: list[Path]) -> None:
            for f in part:
                r = client.post("/v1/documents", files={"file": (f.name, f.read_bytes())})
                if r.status_code not in (200, 201):
                    errors.append(f"write {f.name}: {r.status_code} {r.text[:200]}")

        def reader() -> None:
            for _ in range(40):
                r = client.post("/v1/search", json={"query": "technology phone", "k": 10})
                if r.status_code != 200:
                    errors.append(f"search: {r.status_code} {r.text[:200]}")
                    continue
                for p in r.json()["passages"]:
                    doc = client.get(f"/v1/documents/{p['article_id']}").json()
                    if doc.get("text", "")[p["start"] : p["end"]] != p["text"]:
                        seen_partial.append(p["article_id"])
                r = client.post("/v1/ask", json={"question": "What did the phone makers say?"})
                if r.status_code != 200:
                    errors.append(f"ask: {r.status_code} {r.text[:200]}")

        threads = [threading.Thread(target=writer, args=(files[i::3],)) for i in range(3)]
        threads += [threading.Thread(target=reader) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        listed = client.get("/v1/documents", params={"limit": 500}).json()
    assert not errors, errors[:5]
    assert not seen_partial, seen_partial[:5]
    assert listed["total"] == 1 + len({f.read_bytes() for f in files}), listed["total"]
    comps.ingester.repair()
    assert comps.keyword.matches(comps.store.all_chunk_ids())
