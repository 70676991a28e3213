"""Ingestion: idempotence, updates, deletes, BM25/Chroma consistency, crash repair."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.keyword import BM25Index
from index.store import ChromaStore
from tests.conftest import SEED, make_parts


def _write(path: Path, title: str, body: str) -> Path:
    path.write_text(f"{title}\n\n{body}\n", encoding="utf-8")
    return path


def _consistent(store: ChromaStore, keyword: BM25Index) -> None:
    ids = store.all_chunk_ids()
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(keyword.ids)
    # no orphans: every chunk belongs to a complete article record with matching chunk count
    counts: dict[str, int] = {}
    for page in store.iter_chunks():
        for c in page:
            counts[c.metadata["article_id"]] = counts.get(c.metadata["article_id"], 0) + 1
    records = store.get_articles(list(counts))
    assert set(records) == set(counts)
    for aid, n in counts.items():
        assert records[aid].state == "complete" and records[aid].n_chunks == n


def test_reingest_is_noop_update_replaces_delete_removes(tmp_path, hash_embedder) -> None:
    store = ChromaStore.embedded(tmp_path / "chroma", "t1")
    ingester, retriever = make_parts(store, hash_embedder, tmp_path / "kw")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "seed.txt").write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    story = _write(docs / "story.txt", "Storm hits coast", "A storm hit the coast on Monday. " * 30)

    first = ingester.ingest_paths([docs])
    assert len(first.added) == 2 and first.chunks > 0 and not first.skipped
    n_chunks = store.count_chunks()
    _consistent(store, ingester.keyword)

    again = ingester.ingest_paths([docs])
    assert len(again.unchanged) == 2 and again.chunks == 0
    assert store.count_chunks() == n_chunks

    # the file changes: the new version replaces the old one (no orphans, no duplicates)
    old_id = (
        first.added[1]
        if "Storm" in store.get_articles([first.added[1]])[first.added[1]].article.title
        else first.added[0]
    )
    _write(story, "Storm hits coast", "A hurricane struck the coast on Tuesday night. " * 20)
    changed = ingester.ingest_paths([docs])
    assert len(changed.added) == 1 and changed.replaced == [old_id]
    assert store.get_articles([old_id]) == {}
    _consistent(store, ingester.keyword)
    top = retriever.search("hurricane Tuesday night", k=1)[0]
    assert "hurricane" in top.text

    # delete
    seed_id = next(a for a in first.added if a != old_id)
    assert ingester.delete(seed_id)
    assert not ingester.delete(seed_id)
    assert store.get_articles([seed_id]) == {}
    assert all(p.article_id != seed_id for p in retriever.search("Guilin regional security", k=5))
    _consistent(store, ingester.keyword)


def test_keyword_index_rebuilt_from_chroma_alone(tmp_path, hash_embedder) -> None:
    store = ChromaStore.embedded(tmp_path / "chroma", "t2")
    ingester, _ = make_parts(store, hash_embedder, tmp_path / "kw")
    ingester.ingest_paths([SEED])
    before = sorted(ingester.keyword.ids)
    (tmp_path / "kw" / "keyword.json").unlink()
    # a fresh process: empty keyword index, Chroma intact
    ingester2, retriever2 = make_parts(store, hash_embedder, tmp_path / "kw")
    assert ingester2.repair()["keyword_rebuilt"] == 1
    assert sorted(ingester2.keyword.ids) == before
    assert retriever2.search("Guilin", k=1, method="bm25")


def test_crash_halfway_leaves_articles_whole_and_next_run_repairs(tmp_path, hash_embedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(6):
        _write(docs / f"a{i}.txt", f"Article number {i}", f"Sentence about topic {i}. " * 120)
    store = ChromaStore.embedded(tmp_path / "chroma", "t3")
    ingester, retriever = make_parts(store, hash_embedder, tmp_path / "kw")
    ingester.batch_chunks = 8  # several write batches

    calls = {"n": 0}
    real_add = store.add_chunks

    def flaky_add(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # Ctrl-C in the middle of a batch
        return real_add(*args, **kwargs)

    store.add_chunks = flaky_add
    with pytest.raises(KeyboardInterrupt):
        ingester.ingest_paths([docs])
    store.add_chunks = real_add

    # readers never see the half-written article
    pending = store.find_articles({"state": "pending"})
    assert pending
    for p in retriever.search("Sentence about topic", k=20):
        assert p.article_id not in {r.article.id for r in pending}

    # the next process repairs at start-up (rolls the pending ones back), then completes
    ingester2, _ = make_parts(store, hash_embedder, tmp_path / "kw")
    assert ingester2.repair()["rolled_back"] == len(pending)
    report = ingester2.ingest_paths([docs])
    assert not store.find_articles({"state": "pending"})
    assert store.count_articles() == 6
    assert len(report.added) + len(report.unchanged) == 6
    _consistent(store, ingester2.keyword)


def test_bad_files_in_folder_are_skipped_and_reported(
    tmp_path, hash_embedder, ephemeral_store
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs / "good.txt", "Good story", "This one is fine and has text. " * 5)
    (docs / "empty.txt").write_bytes(b"")
    (docs / "image.txt").write_bytes(b"\x89PNG\x00\x00\x00binary")
    (docs / "feed.jsonl").write_text('{"title": "J", "text": "JSON text body."}\n{oops\n')
    ingester, _ = make_parts(ephemeral_store, hash_embedder)
    ingester.ingest_paths([docs])
    report = ingester.ingest_paths([docs, tmp_path / "missing"])
    skipped = dict(report.skipped)
    assert "empty file" in skipped[str(docs / "empty.txt")]
    assert "binary" in skipped[str(docs / "image.txt")]
    assert "line 2" in skipped[str(docs / "feed.jsonl")]
    assert "no such file" in skipped[str(tmp_path / "missing")]
    assert ephemeral_store.count_articles() == 2  # good.txt and the good JSON line


def test_date_and_source_filters(tmp_path, hash_embedder, ephemeral_store) -> None:
    import datetime as dt

    from index.model import Filters

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "f.jsonl").write_text(
        '{"title": "Old vote", "text": "Parliament vote on budget.", "date": "2020-01-02", "source": "A"}\n'
        '{"title": "New vote", "text": "Parliament vote on budget again.", "date": "2023-06-01", "source": "B"}\n'
    )
    ingester, retriever = make_parts(ephemeral_store, hash_embedder)
    ingester.ingest_paths([docs])
    got = retriever.search("parliament vote", k=5, filters=Filters(date_from=dt.date(2021, 1, 1)))
    assert [p.title for p in got] == ["New vote"]
    got = retriever.search("parliament vote", k=5, filters=Filters(sources=("A",)))
    assert [p.title for p in got] == ["Old vote"]
    with pytest.raises(ValueError):
        Filters(date_from=dt.date(2022, 1, 1), date_to=dt.date(2021, 1, 1))
