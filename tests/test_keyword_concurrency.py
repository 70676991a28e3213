"""The keyword index under concurrent writes and filtered searches (found by CI: a search that
read the BM25 matrix before an add and the metadata after it failed with a shape mismatch)."""

from __future__ import annotations

import threading

from index.keyword import BM25Index
from index.model import Filters


def test_filtered_searches_while_chunks_are_added() -> None:
    index = BM25Index(None)
    index.add(["a:0:x"], ["harbour ferry timetable"], [{"article_id": "a", "source": "PTI"}])
    only_pti = Filters(sources=("PTI",))
    errors: list[BaseException] = []
    done = threading.Event()

    def writer() -> None:
        try:
            for i in range(400):
                ids = [f"w{i}:{j}:x" for j in range(5)]
                texts = [f"ferry harbour news item {i} {j}" for j in range(5)]
                index.add(ids, texts, [{"article_id": f"w{i}", "source": "PTI"}] * 5)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def reader() -> None:
        try:
            while not done.is_set():
                for cid, score in index.search("harbour ferry", 10, only_pti):
                    assert cid and score > 0
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:3]
    assert len(index) == 1 + 400 * 5
