"""Ingestion: articles -> chunks -> embeddings -> Chroma + BM25, all or nothing per article.

Order per batch: article records written ``pending``; old chunks deleted; new chunks added;
records marked ``complete``; keyword index updated and saved. A run that dies part-way leaves
pending records, which ``repair`` (run when a process starts) rolls back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from index import stories
from index.bulk import Checkpoints, is_bulk, stream_groups
from index.chunking import SentenceChunker, embedding_text
from index.embedder import Embedder
from index.errors import ParseError
from index.keyword import BM25Index
from index.model import Article, Chunk
from index.parse import iter_files, parse_path
from index.store import COMPLETE, PENDING, ChromaStore

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What a run did. ``skipped`` holds (path or record, reason) for everything not stored."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0
    files: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "added": len(self.added),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "replaced": len(self.replaced),
            "skipped": [{"item": p, "reason": r} for p, r in self.skipped],
            "chunks": self.chunks,
        }


class Ingester:
    """Writes articles into the store and the keyword index, keeping them consistent."""

    def __init__(
        self,
        store: ChromaStore,
        keyword: BM25Index,
        embedder: Embedder,
        chunker: SentenceChunker,
        batch_chunks: int = 512,
        checkpoints: Path | None = None,
    ):
        """``checkpoints``: where interrupted bulk files record how far they got."""
        self.checkpoints = Checkpoints(checkpoints)
        self.store = store
        self.keyword = keyword
        self.embedder = embedder
        self.chunker = chunker
        self.batch_chunks = batch_chunks

    # --- consistency ------------------------------------------------------------------------

    def repair(self) -> dict[str, int]:
        """Roll back half-written articles and make the keyword index match Chroma."""
        pending = self.store.find_articles({"state": PENDING})
        ids = [r.article.id for r in pending]
        if ids:
            log.warning("repairing %d article(s) left half-written by an earlier run", len(ids))
            self.store.delete_chunks_of(ids)
            self.store.delete_article_records(ids)
            self.keyword.remove_articles(ids)
        rebuilt = 0
        if not self.keyword.matches(self.store.all_chunk_ids()):
            log.info("keyword index disagrees with Chroma: rebuilding it from Chroma")
            self.keyword.rebuild_from(self.store.iter_chunks())
            self.keyword.save()
            rebuilt = 1
        elif ids:
            self.keyword.save()
        return {"rolled_back": len(ids), "keyword_rebuilt": rebuilt}

    def sync_keyword(self, full: bool = False) -> bool:
        """Follow Chroma when other processes write to it (a Chroma server shared by several
        API replicas): rebuild the keyword index when its chunk ids differ. The cheap check
        compares counts; ``full`` compares the ids. Returns True when it rebuilt."""
        if not full and self.store.count_chunks() == len(self.keyword):
            return False
        if self.keyword.matches(self.store.all_chunk_ids()):
            return False
        log.info("keyword index behind Chroma (written elsewhere): rebuilding it")
        self.keyword.rebuild_from(self.store.iter_chunks())
        self.keyword.save()
        return True

    # --- writing ----------------------------------------------------------------------------

    def ingest_paths(
        self,
        paths: Sequence[Path],
        progress: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Ingest files and folders (recursively). Unreadable files are skipped and reported."""
        report = IngestReport()
        articles: list[Article] = []
        for path in paths:
            if not path.exists():
                report.skipped.append((str(path), "no such file or directory"))
        for file in iter_files(p for p in paths if p.exists()):
            report.files += 1
            if is_bulk(file):
                self._bulk(file, report, progress)
                continue
            try:
                result = parse_path(file)
            except ParseError as exc:
                log.warning("skipping %s", exc)
                report.skipped.append((str(file), str(exc).removeprefix(f"{file}: ")))
                continue
            for problem in result.problems:
                log.warning("skipping %s: %s", file, problem)
                report.skipped.append((str(file), problem))
            articles.extend(result.articles)
        self.ingest_articles(articles, report, progress=progress)
        return report

    def _bulk(
        self, file: Path, report: IngestReport, progress: Callable[[int], None] | None
    ) -> None:
        """A JSONL or big JSON file, streamed in groups (progress: one per record)."""
        tick = (lambda: progress(1)) if progress else None
        try:
            for result, offset in stream_groups(file, self.checkpoints, on_record=tick):
                for problem in result.problems:
                    report.skipped.append((str(file), problem))
                self.ingest_articles(result.articles, report)
                self.checkpoints.put(file, offset)
        except ParseError as exc:
            report.skipped.append((str(file), str(exc).removeprefix(f"{file}: ")))
            return
        self.checkpoints.done(file)

    def ingest_articles(
        self,
        articles: Iterable[Article],
        report: IngestReport | None = None,
        progress: Callable[[int], None] | None = None,
        replace_same_path: bool = True,
    ) -> IngestReport:
        """Store articles; unchanged ones are no-ops, changed ones replace their old chunks."""
        report = report or IngestReport()
        unique: dict[str, Article] = {}
        for a in articles:
            unique[a.id] = a  # the same article twice in one run is stored once
        todo = list(unique.values())
        existing = {}
        for lo in range(0, len(todo), 500):
            existing.update(self.store.get_articles([a.id for a in todo[lo : lo + 500]]))
        fresh: list[Article] = []
        for a in todo:
            old = existing.get(a.id)
            if (
                old is not None
                and old.state == COMPLETE
                and old.article.content_hash == a.content_hash
            ):
                report.unchanged.append(a.id)
                if progress:
                    progress(1)
            else:
                (report.updated if old is not None else report.added).append(a.id)
                fresh.append(a)
        fresh, signatures = self._stories(fresh)
        # Embedding (torch, releases the GIL) overlaps with writing the previous batch to
        # Chroma and the keyword index in one writer thread; batches are written in order.
        batches: list[list[tuple[Article, list[Chunk]]]] = [[]]
        size = 0
        for a in fresh:
            chunks = self.chunker.split(a)
            batches[-1].append((a, chunks))
            size += len(chunks)
            if size >= self.batch_chunks:
                batches.append([])
                size = 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-writer") as writer:
            pending: Future[None] | None = None
            for batch in (b for b in batches if b):
                prepared = self._prepare(batch)
                if pending is not None:
                    pending.result()
                pending = writer.submit(
                    self._store, batch, prepared, report, replace_same_path, signatures
                )
                if progress:
                    progress(len(batch))
            if pending is not None:
                pending.result()
        self.keyword.save()
        return report

    def _stories(self, fresh: list[Article]) -> tuple[list[Article], dict[str, dict[str, str]]]:
        """Give each article the story key of a near-duplicate already stored (or met
        earlier in this run), else its own id; and the signature fields of its record."""
        if not fresh:
            return fresh, {}
        sigs = [stories.signature(a.text) for a in fresh]
        keys = [stories.bands(s) for s in sigs]
        stored: list[tuple[str, str, str]] = []
        for lo in range(0, len(fresh), 200):
            stored += self.store.story_candidates(keys[lo : lo + 200])
        ids = {a.id for a in fresh}
        by_band: dict[str, list[tuple[str, str, str]]] = {}
        for cid, story, mh in stored:
            if cid in ids:
                continue  # an older version of an article of this run
            for key in stories.bands(stories.decode(mh)):
                by_band.setdefault(key, []).append((cid, story, mh))
        out: list[Article] = []
        fields: dict[str, dict[str, str]] = {}
        for a, sig, ks in zip(fresh, sigs, keys, strict=True):
            cands = list({c[0]: c for k in ks for c in by_band.get(k, [])}.values())
            story = stories.same_story(sig, cands) or a.id
            a = replace(a, story=story)
            f = stories.record_fields(sig)
            fields[a.id] = f
            for k in ks:  # later articles of this run may be copies of this one
                by_band.setdefault(k, []).append((a.id, story, f["mh"]))
            out.append(a)
        return out, fields

    def _prepare(
        self, batch: list[tuple[Article, list[Chunk]]]
    ) -> tuple[list[dict[str, Any]], Any]:
        """Metadata and embeddings for a batch (the expensive part, done before writing)."""
        texts = [
            embedding_text(a.title, a.published.iso() if a.published else None, c.text)
            for a, cs in batch
            for c in cs
        ]
        metas = [
            {**a.metadata(), "start": c.start, "end": c.end, "position": c.position}
            for a, cs in batch
            for c in cs
        ]
        vectors = self.embedder.embed(texts) if texts else np.zeros((0, self.embedder.dim))
        return metas, vectors.astype(np.float32)

    def _store(
        self,
        batch: list[tuple[Article, list[Chunk]]],
        prepared: tuple[list[dict[str, Any]], Any],
        report: IngestReport,
        replace_same_path: bool,
        signatures: dict[str, dict[str, str]] | None = None,
    ) -> None:
        """Write one embedded batch: pending records, chunks, complete records, keywords."""
        metas, vectors = prepared
        arts = [a for a, _ in batch]
        counts = [len(c) for _, c in batch]
        chunks = [c for _, cs in batch for c in cs]
        stale = self._stale_by_path(arts) if replace_same_path else []
        ids = [a.id for a in arts]
        extra = [(signatures or {}).get(a.id, {}) for a in arts]
        self.store.put_article(arts, PENDING, counts, extra)
        self.store.delete_chunks_of(ids + stale)
        self.store.add_chunks(chunks, metas, vectors)
        self.store.put_article(arts, COMPLETE, counts, extra)
        if stale:
            self.store.delete_article_records(stale)
            report.replaced.extend(stale)
        self.keyword.remove_articles(ids + stale)
        self.keyword.add([c.id for c in chunks], [c.text for c in chunks], metas)
        report.chunks += len(chunks)

    def _stale_by_path(self, arts: Sequence[Article]) -> list[str]:
        """Older versions of a single-article file (same path, different content) to replace."""
        by_path: dict[str, list[Article]] = {}
        for a in arts:
            if a.path and not a.url:
                by_path.setdefault(a.path, []).append(a)
        singles = {p: g[0].id for p, g in by_path.items() if len(g) == 1}
        if not singles:
            return []
        stale: list[str] = []
        paths = list(singles)
        for lo in range(0, len(paths), 500):
            part = paths[lo : lo + 500]
            where = {"path": part[0]} if len(part) == 1 else {"path": {"$in": part}}
            for rec in self.store.find_articles(where):
                a = rec.article
                if a.path in singles and a.id != singles[a.path] and not a.url:
                    stale.append(a.id)
        return stale

    def delete(self, article_id: str) -> bool:
        """Delete an article and its chunks. Returns False if there was no such article."""
        found = self.store.get_articles([article_id]).get(article_id)
        if found is None:
            return False
        self.store.put_article([found.article], PENDING, [found.n_chunks])
        self.store.delete_chunks_of([article_id])
        self.store.delete_article_records([article_id])
        self.keyword.remove_articles([article_id])
        self.keyword.save()
        return True
