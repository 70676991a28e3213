"""BM25 keyword index (bm25s) over the same chunks as Chroma, persisted beside it.

It is a derived cache: ``rebuild_from`` recreates it from Chroma's stored documents alone,
and ``matches`` tells whether it holds exactly the chunk ids Chroma holds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.model import Filters

_WORD = re.compile(r"[\w][\w'’.-]*\w|\w")
_KEEP_META = ("article_id", "source", "published_day", "dated")


class Tokenizer:
    """Lower-cased words, English stop words dropped, Snowball-stemmed; numbers kept whole."""

    def __init__(self) -> None:
        import Stemmer
        from bm25s.stopwords import STOPWORDS_EN

        self._stem = Stemmer.Stemmer("english").stemWords
        self._stop = set(STOPWORDS_EN)

    def __call__(self, text: str) -> list[str]:
        words = [w.replace("’", "'") for w in _WORD.findall(text.lower())]
        words = [w.rstrip(".") if not re.fullmatch(r"(\w\.)+", w) else w for w in words]
        return list(self._stem([w for w in words if w and w not in self._stop]))


def fingerprint(ids: Iterable[str]) -> str:
    h = hashlib.sha256()
    for i in sorted(ids):
        h.update(i.encode())
        h.update(b"\n")
    return h.hexdigest()


class BM25Index:
    """Chunk-level BM25. Mutations mark it dirty; the matrix is rebuilt on the next search."""

    def __init__(self, path: Path | None = None, k1: float = 1.2, b: float = 0.75):
        self.path = path
        self.k1, self.b = k1, b
        self.tokenize = Tokenizer()
        self.ids: list[str] = []
        self.meta: list[dict[str, Any]] = []
        self.tokens: list[list[str]] = []
        self._pos: dict[str, int] = {}
        self._bm25: Any = None
        self._lock = threading.RLock()
        if path is not None and (path / "keyword.json").exists():
            self._load()

    def __len__(self) -> int:
        return len(self.ids)

    def add(
        self, ids: Sequence[str], texts: Sequence[str], metas: Sequence[dict[str, Any]]
    ) -> None:
        """Add or replace chunks by id."""
        toks = [self.tokenize(t) for t in texts]
        with self._lock:
            for cid, tok, meta in zip(ids, toks, metas, strict=True):
                small = {k: meta[k] for k in _KEEP_META if k in meta}
                if cid in self._pos:
                    i = self._pos[cid]
                    self.tokens[i], self.meta[i] = tok, small
                else:
                    self._pos[cid] = len(self.ids)
                    self.ids.append(cid)
                    self.tokens.append(tok)
                    self.meta.append(small)
            self._bm25 = None

    def remove_articles(self, article_ids: Iterable[str]) -> int:
        drop = set(article_ids)
        with self._lock:
            keep = [i for i, m in enumerate(self.meta) if m.get("article_id") not in drop]
            removed = len(self.ids) - len(keep)
            if removed:
                self.ids = [self.ids[i] for i in keep]
                self.meta = [self.meta[i] for i in keep]
                self.tokens = [self.tokens[i] for i in keep]
                self._pos = {cid: i for i, cid in enumerate(self.ids)}
                self._bm25 = None
            return removed

    def clear(self) -> None:
        with self._lock:
            self.ids, self.meta, self.tokens, self._pos, self._bm25 = [], [], [], {}, None

    def matches(self, chroma_ids: Iterable[str]) -> bool:
        return fingerprint(chroma_ids) == fingerprint(self.ids)

    def _matrix(self) -> Any:
        with self._lock:
            if self._bm25 is None and self.ids:
                import bm25s

                logging.getLogger("bm25s").setLevel(logging.WARNING)

                bm25 = bm25s.BM25(k1=self.k1, b=self.b)
                bm25.index([t or ["\x00"] for t in self.tokens], show_progress=False)
                self._bm25 = bm25
            return self._bm25

    def search(self, query: str, n: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """Top ``n`` (chunk id, BM25 score) with score > 0, honouring the filters."""
        q = self.tokenize(query)
        # the matrix, ids and metadata are read under one lock: a concurrent add must not
        # land between building the scores and reading the ids they index
        with self._lock:
            bm25 = self._matrix()
            if bm25 is None or not q:
                return []
            vocab = bm25.vocab_dict
            q = [t for t in q if t in vocab]
            if not q:
                return []
            scores = np.asarray(bm25.get_scores(q), dtype=np.float32)
            if filters is not None and not filters.empty:
                mask = np.fromiter((filters.accepts(m) for m in self.meta), bool, len(self.meta))
                scores = np.where(mask, scores, 0.0)
            n = min(n, len(scores))
            top = np.argpartition(-scores, n - 1)[:n]
            top = top[np.argsort(-scores[top], kind="stable")]
            return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def rebuild_from(self, pages: Iterable[Sequence[Any]]) -> None:
        """Replace the whole index with the given stored chunks (objects with id/text/metadata)."""
        self.clear()
        for page in pages:
            self.add([c.id for c in page], [c.text for c in page], [c.metadata for c in page])

    def save(self) -> None:
        """Write atomically (temp file + rename) so a crash never leaves a torn index."""
        if self.path is None:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / "keyword.json.tmp"
        with self._lock:
            data = {"version": 1, "ids": self.ids, "meta": self.meta, "tokens": self.tokens}
            with tmp.open("w", encoding="utf-8") as fh:
                json.dump(data, fh, separators=(",", ":"))
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, self.path / "keyword.json")

    def _load(self) -> None:
        assert self.path is not None
        try:
            data = json.loads((self.path / "keyword.json").read_text(encoding="utf-8"))
            self.ids, self.meta, self.tokens = data["ids"], data["meta"], data["tokens"]
            self._pos = {cid: i for i, cid in enumerate(self.ids)}
        except (OSError, ValueError, KeyError):
            self.clear()  # unreadable cache: the caller sees a mismatch and rebuilds
