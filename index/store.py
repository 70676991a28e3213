"""Chroma as the source of truth: one collection of chunks, one of article records.

An article record (its full text and metadata) is written ``pending`` before its chunks and
``complete`` after them; readers only see passages of complete articles, and a run that died
half-way is repaired by deleting what pending records left behind. Embeddings are always
passed explicitly (Chroma's default embedding function would try to download a model).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from index.embedder import Vectors
from index.errors import StoreUnavailable
from index.model import Article, Chunk, PartialDate

T = TypeVar("T")
Where = dict[str, Any]
PENDING, COMPLETE = "pending", "complete"


@dataclass(frozen=True)
class ArticleRecord:
    article: Article
    state: str
    n_chunks: int


@dataclass(frozen=True)
class StoredChunk:
    id: str
    text: str
    metadata: dict[str, Any]
    distance: float | None = None


def _settings() -> Any:
    import chromadb
    import chromadb.config

    return chromadb.config.Settings(anonymized_telemetry=False, allow_reset=False)


class ChromaStore:
    """Chunks and article records in Chroma (embedded, server or in-memory)."""

    def __init__(self, client: Any, name: str = "news", location: str = "chroma"):
        self.client = client
        self.name = name
        self.location = location
        try:
            self.chunks = client.get_or_create_collection(
                f"{name}-chunks", embedding_function=None, metadata={"hnsw:space": "cosine"}
            )
            self.articles = client.get_or_create_collection(
                f"{name}-articles", embedding_function=None, metadata={"hnsw:space": "l2"}
            )
            self.max_batch = int(client.get_max_batch_size())
        except Exception as exc:
            raise StoreUnavailable(f"Chroma ({location}) is not usable: {exc}") from exc

    @classmethod
    def embedded(cls, path: Path, name: str = "news") -> ChromaStore:
        import chromadb

        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(path), settings=_settings())
        return cls(client, name, f"embedded at {path}")

    @classmethod
    def http(
        cls, host: str, port: int, ssl: bool = False, token: str | None = None, name: str = "news"
    ) -> ChromaStore:
        import chromadb

        headers = {"Authorization": f"Bearer {token}"} if token else None
        where = f"server at {'https' if ssl else 'http'}://{host}:{port}"
        try:
            client = chromadb.HttpClient(
                host=host, port=port, ssl=ssl, headers=headers, settings=_settings()
            )
        except Exception as exc:
            raise StoreUnavailable(f"Chroma {where} is unreachable: {exc}") from exc
        return cls(client, name, where)

    @classmethod
    def ephemeral(cls, name: str = "news") -> ChromaStore:
        import chromadb

        return cls(chromadb.EphemeralClient(settings=_settings()), name, "in memory")

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except StoreUnavailable:
            raise
        except Exception as exc:
            name = type(exc).__name__
            if "NotFound" in name or isinstance(exc, (ValueError, TypeError, KeyError)):
                raise
            raise StoreUnavailable(f"Chroma ({self.location}) failed: {name}: {exc}") from exc

    def heartbeat(self) -> None:
        self._call(self.client.heartbeat)

    # --- article records --------------------------------------------------------------------

    def put_article(
        self,
        articles: Sequence[Article],
        state: str,
        n_chunks: Sequence[int],
        extra: Sequence[dict[str, str]] | None = None,
    ) -> None:
        """Write article records; ``extra`` adds fields per record (the story signature)."""
        more = list(extra) if extra is not None else [{} for _ in articles]
        for lo in range(0, len(articles), self.max_batch):
            hi = lo + self.max_batch
            batch, counts, fields = articles[lo:hi], n_chunks[lo:hi], more[lo:hi]
            self._call(
                lambda b=batch, c=counts, f=fields: self.articles.upsert(  # type: ignore[misc]
                    ids=[a.id for a in b],
                    embeddings=np.ones((len(b), 1), dtype=np.float32),
                    documents=[a.text for a in b],
                    metadatas=[
                        {**a.metadata(), **x, "state": state, "n_chunks": n}
                        for a, n, x in zip(b, c, f, strict=True)
                    ],
                )
            )

    def story_candidates(self, keys: Sequence[Sequence[str]]) -> list[tuple[str, str, str]]:
        """(id, story, signature) of stored articles sharing a band key with any of ``keys``
        (one list of band keys per article)."""
        if not keys:
            return []
        clauses = [{f"b{i}": {"$in": sorted({k[i] for k in keys})}} for i in range(len(keys[0]))]
        where: Where = {"$or": clauses} if len(clauses) > 1 else clauses[0]
        got = self._call(lambda: self.articles.get(where=where, include=["metadatas"]))
        return [
            (i, str(m.get("story") or i), str(m["mh"]))
            for i, m in zip(got["ids"], got["metadatas"], strict=True)
            if m.get("mh")
        ]

    def get_articles(self, ids: Sequence[str]) -> dict[str, ArticleRecord]:
        if not ids:
            return {}
        got = self._call(
            lambda: self.articles.get(ids=list(ids), include=["documents", "metadatas"])
        )
        return {
            i: _record(doc, meta)
            for i, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }

    def article_states(self, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """(state, content hash) of the given article records, without their texts."""
        if not ids:
            return {}
        got = self._call(lambda: self.articles.get(ids=list(ids), include=["metadatas"]))
        return {
            i: (str(m.get("state", COMPLETE)), str(m.get("content_hash", "")))
            for i, m in zip(got["ids"], got["metadatas"], strict=True)
        }

    def find_articles(self, where: Where) -> list[ArticleRecord]:
        got = self._call(lambda: self.articles.get(where=where, include=["documents", "metadatas"]))
        return [_record(d, m) for d, m in zip(got["documents"], got["metadatas"], strict=True)]

    def list_articles(self, offset: int = 0, limit: int = 100) -> list[ArticleRecord]:
        got = self._call(
            lambda: self.articles.get(
                where={"state": COMPLETE},
                include=["documents", "metadatas"],
                offset=offset,
                limit=limit,
            )
        )
        return [_record(d, m) for d, m in zip(got["documents"], got["metadatas"], strict=True)]

    def count_articles(self) -> int:
        return int(self._call(self.articles.count))

    def delete_article_records(self, ids: Sequence[str]) -> None:
        if ids:
            self._call(lambda: self.articles.delete(ids=list(ids)))

    # --- chunks -----------------------------------------------------------------------------

    def add_chunks(
        self, chunks: Sequence[Chunk], metadatas: Sequence[dict[str, Any]], vectors: Vectors
    ) -> None:
        for lo in range(0, len(chunks), self.max_batch):
            hi = lo + self.max_batch
            self._call(
                lambda lo=lo, hi=hi: self.chunks.upsert(  # type: ignore[misc]
                    ids=[c.id for c in chunks[lo:hi]],
                    embeddings=vectors[lo:hi],
                    documents=[c.text for c in chunks[lo:hi]],
                    metadatas=list(metadatas[lo:hi]),
                )
            )

    def delete_chunks_of(self, article_ids: Sequence[str]) -> None:
        if not article_ids:
            return
        ids = list(article_ids)
        where: Where = {"article_id": ids[0]} if len(ids) == 1 else {"article_id": {"$in": ids}}
        self._call(lambda: self.chunks.delete(where=where))

    def chunk_ids_of(self, article_id: str) -> list[str]:
        got = self._call(lambda: self.chunks.get(where={"article_id": article_id}, include=[]))
        return list(got["ids"])

    def get_chunks(self, ids: Sequence[str]) -> dict[str, StoredChunk]:
        if not ids:
            return {}
        got = self._call(lambda: self.chunks.get(ids=list(ids), include=["documents", "metadatas"]))
        return {
            i: StoredChunk(i, d, dict(m))
            for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }

    def get_embeddings(self, ids: Sequence[str]) -> dict[str, Vectors]:
        if not ids:
            return {}
        got = self._call(lambda: self.chunks.get(ids=list(ids), include=["embeddings"]))
        return {
            i: np.asarray(e, dtype=np.float32)
            for i, e in zip(got["ids"], got["embeddings"], strict=True)
        }

    def query(self, vector: Vectors, n: int, where: Where | None = None) -> list[StoredChunk]:
        """The ``n`` nearest chunks (cosine) matching ``where``; [] on an empty store.

        Chroma returns fewer than ``n`` when it holds fewer; counting first would cost more
        than the query itself (15 ms at 100k chunks)."""
        if n < 1:
            return []

        def run() -> Any:
            return self.chunks.query(
                query_embeddings=[vector.tolist()],
                n_results=n,
                where=where or None,
                include=["documents", "metadatas", "distances"],
            )

        got = self._call(run)
        return [
            StoredChunk(i, d, dict(m), float(dist))
            for i, d, m, dist in zip(
                got["ids"][0],
                got["documents"][0],
                got["metadatas"][0],
                got["distances"][0],
                strict=True,
            )
        ]

    def count_chunks(self) -> int:
        return int(self._call(self.chunks.count))

    def all_chunk_ids(self) -> list[str]:
        ids: list[str] = []
        for page in self.iter_chunks(include_documents=False):
            ids.extend(c.id for c in page)
        return ids

    def iter_chunks(
        self, page: int = 5000, include_documents: bool = True
    ) -> Iterator[list[StoredChunk]]:
        """All stored chunks, a page at a time (documents and metadata)."""
        offset = 0
        include = ["documents", "metadatas"] if include_documents else ["metadatas"]
        while True:
            got = self._call(
                lambda o=offset: self.chunks.get(  # type: ignore[misc]
                    include=include, offset=o, limit=page
                )
            )
            if not got["ids"]:
                return
            docs = got["documents"] or [""] * len(got["ids"])
            yield [
                StoredChunk(i, d, dict(m))
                for i, d, m in zip(got["ids"], docs, got["metadatas"], strict=True)
            ]
            offset += len(got["ids"])

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.clear_system_cache()


def _record(doc: str, meta: dict[str, Any]) -> ArticleRecord:
    published = PartialDate.from_iso(str(meta["published"])) if meta.get("published") else None
    article = Article(
        id=str(meta["article_id"]),
        title=str(meta.get("title", "")),
        text=doc,
        source=meta.get("source"),
        author=meta.get("author"),
        published=published,
        url=meta.get("url"),
        dateline=meta.get("dateline"),
        path=meta.get("path"),
        content_hash=str(meta.get("content_hash", "")),
        language=meta.get("language"),
        story=meta.get("story"),
    )
    return ArticleRecord(article, str(meta.get("state", COMPLETE)), int(meta.get("n_chunks", 0)))
