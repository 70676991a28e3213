"""The archive as its callers see it: add, list, get, delete and search articles.

It is the qa boundary of the index package: index errors become ``qa.errors`` here, once
(``translated``), so the HTTP API and the CLI each map one error tree. Writes are serialised
(one ingest at a time in this process).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from index.dates import parse_date
from index.errors import EmbedderError, ParseError, StoreUnavailable
from index.ingest import Ingester, IngestReport
from index.model import Article, Filters, Passage
from index.parse import make_article, parse_bytes
from index.retrieval import HybridRetriever, Method
from index.store import COMPLETE, ArticleRecord, ChromaStore
from qa.errors import ArchiveUnavailable, EmbedderUnavailable, InputError, NotFound


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Index errors as the qa tree: a store or embedder that is down, or a bad argument."""
    try:
        yield
    except StoreUnavailable as exc:
        raise ArchiveUnavailable(str(exc)) from exc
    except EmbedderError as exc:
        raise EmbedderUnavailable(str(exc)) from exc
    except ParseError as exc:
        raise InputError(str(exc)) from exc
    except ValueError as exc:  # the index's argument checks: empty query, k < 1, dates
        raise InputError(str(exc)) from exc


class Archive:
    """Stored articles: the store, its writer and its retriever behind one small API."""

    def __init__(self, store: ChromaStore, ingester: Ingester, retriever: HybridRetriever):
        self.store = store
        self.ingester = ingester
        self.retriever = retriever
        self._writing = threading.Lock()

    @property
    def location(self) -> str:
        return self.store.location

    @staticmethod
    def parse(raw: bytes, filename: str) -> tuple[list[Article], list[str]]:
        """The articles of an uploaded file and the problems met (a file that cannot be read
        at all is one problem)."""
        try:
            result = parse_bytes(raw, filename, path=f"upload/{filename}")
        except ParseError as exc:
            return [], [str(exc).removeprefix(f"upload/{filename}: ")]
        return result.articles, result.problems

    @staticmethod
    def article(
        *,
        title: str,
        text: str,
        source: str | None = None,
        author: str | None = None,
        published: str | None = None,
        url: str | None = None,
    ) -> Article:
        """One article from its fields (InputError when the date or the text is unusable)."""
        date = parse_date(published) if published else None
        if published and date is None:
            raise InputError(f"published: not a date: {published!r}")
        with translated():
            return make_article(
                title=title,
                text=text.replace("\r\n", "\n").strip(),
                source=source,
                author=author,
                published=date,
                url=url,
            )

    def add(self, articles: Sequence[Article]) -> IngestReport:
        """Store articles: new ones added, changed ones replaced, unchanged ones a no-op."""
        with self._writing, translated():
            return self.ingester.ingest_articles(articles, replace_same_path=True)

    def add_paths(
        self, paths: Sequence[Path], progress: Callable[[int], None] | None = None
    ) -> IngestReport:
        with self._writing, translated():
            return self.ingester.ingest_paths(paths, progress=progress)

    def articles(self, offset: int = 0, limit: int = 100) -> list[ArticleRecord]:
        with translated():
            return self.store.list_articles(offset=offset, limit=limit)

    def count(self) -> int:
        with translated():
            return self.store.count_articles()

    def count_chunks(self) -> int:
        with translated():
            return self.store.count_chunks()

    def get(self, article_id: str) -> ArticleRecord:
        with translated():
            found = self.store.get_articles([article_id]).get(article_id)
        if found is None or found.state != COMPLETE:
            raise NotFound(f"no article with id {article_id!r}")
        return found

    def get_many(self, ids: Iterable[str]) -> dict[str, ArticleRecord]:
        with translated():
            found = self.store.get_articles(list(ids))
        return {i: r for i, r in found.items() if r.state == COMPLETE}

    def delete(self, article_id: str) -> ArticleRecord:
        """Delete an article and its chunks; NotFound when there is no such article."""
        record = self.get(article_id)
        with self._writing, translated():
            if not self.ingester.delete(article_id):
                raise NotFound(f"no article with id {article_id!r}")
        return record

    def search(
        self,
        query: str,
        k: int = 5,
        filters: Filters | None = None,
        method: Method = "hybrid",
    ) -> list[Passage]:
        with translated():
            return self.retriever.search(query, k=k, filters=filters, method=method)

    def follow(self, full: bool = False) -> bool:
        """Rebuild the keyword index when other processes wrote to a shared Chroma."""
        with self._writing, translated():
            return self.ingester.sync_keyword(full)

    def heartbeat(self) -> None:
        with translated():
            self.store.heartbeat()
