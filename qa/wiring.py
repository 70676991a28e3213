"""The composition root: the only place that reads ``Settings`` and chooses backends.

Everything is built lazily, on first use, so importing or constructing ``Components`` is cheap.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from opentelemetry.trace import Tracer

from index.chunking import SentenceChunker
from index.embedder import (
    Embedder,
    HashEmbedder,
    LazyEmbedder,
    MiniLMEmbedder,
    offline_defaults,
)
from index.fetch import FetchPolicy
from index.ingest import Ingester
from index.keyword import BM25Index
from index.model import Article
from index.retrieval import FusionParams, HybridRetriever
from index.store import ChromaStore
from qa.archive import Archive, translated
from qa.crossencoder import MODEL_DIR, check_model
from qa.engine import Engine
from qa.feeds import Feeds
from qa.generators import Generator, OpenAICompatGenerator
from qa.local_model import LocalModelGenerator, gemma3_path, smollm2_path
from qa.options import EngineOptions
from qa.settings import (
    EmbeddedStore,
    EphemeralStore,
    ExtractiveGenerator,
    HttpStore,
    LocalGenerator,
    OpenAIGenerator,
    Settings,
)
from qa.similarity import TextSimilarity
from qa.supervisor import SupervisedLlama
from qa.tracing import build_tracer
from qa.verifier import Combiner, RuleVerifier, Verifier, load_model_verifier


def check_verifier(settings: Settings) -> None:
    """Raise ``VerifierUnavailable`` now when the configured verifier's files are missing or
    not intact (the rule needs none)."""
    a = settings.answer
    if a.verifier == "model":
        folder = a.verifier_dir or MODEL_DIR
        check_model(folder)
        Combiner.load(folder)


@dataclass(frozen=True)
class IndexParts:
    store: ChromaStore
    keyword: BM25Index
    ingester: Ingester
    retriever: HybridRetriever


class Components:
    """Lazily built parts of the service, wired from one ``Settings``."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        generators: dict[str, Generator] | None = None,
    ):
        """``embedder`` and ``generators`` (by mode) replace what the settings would build."""
        offline_defaults()
        self.settings = settings or Settings()
        self._built: dict[str, Generator] = dict(generators or {})
        if embedder is not None:
            self.__dict__["embedder"] = embedder

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    @cached_property
    def embedder(self) -> Embedder:
        cfg = self.settings.embedder
        match cfg.kind:
            case "minilm":
                return LazyEmbedder(
                    lambda: MiniLMEmbedder(batch_size=cfg.batch_size, threads=cfg.threads),
                    MiniLMEmbedder.name,
                    MiniLMEmbedder.dim,
                )
            case "onnx":
                from index.onnx_embedder import onnx_or_torch

                cache = cfg.cache_dir or self.data_dir / "models"
                return LazyEmbedder(
                    lambda: onnx_or_torch(cache, cfg.quantize, cfg.batch_size, cfg.threads),
                    MiniLMEmbedder.name,
                    MiniLMEmbedder.dim,
                )
            case "hash":
                return HashEmbedder()

    @cached_property
    def store(self) -> ChromaStore:
        s = self.settings
        match s.store:
            case EmbeddedStore():
                return ChromaStore.embedded(s.data_dir / "chroma", s.collection)
            case HttpStore(host=host, port=port, ssl=ssl, auth_token=token):
                secret = token.get_secret_value() if token else None
                return ChromaStore.http(host, port, ssl, secret, s.collection)
            case EphemeralStore():
                return ChromaStore.ephemeral(s.collection)

    @cached_property
    def keyword(self) -> BM25Index:
        s = self.settings
        persisted = not isinstance(s.store, EphemeralStore)
        return BM25Index(s.data_dir / "keyword" / s.collection if persisted else None)

    @cached_property
    def chunker(self) -> SentenceChunker:
        c = self.settings.chunking
        return SentenceChunker(max_tokens=c.max_tokens, overlap=c.overlap_sentences)

    @cached_property
    def ingester(self) -> Ingester:
        bulk = self.data_dir / "bulk" / self.settings.collection
        return Ingester(self.store, self.keyword, self.embedder, self.chunker, checkpoints=bulk)

    def fusion_params(self) -> FusionParams:
        r = self.settings.retrieval
        return FusionParams(r.fusion, r.dense_weight, r.bm25_weight, r.rrf_k, r.candidates)

    def engine_options(self) -> EngineOptions:
        a = self.settings.answer
        return EngineOptions(
            a.k,
            a.unsupported,
            a.fallback,
            rewrite=a.rewrite,
            record_text=self.settings.tracing.record_text,
            answer_weight=a.answer_weight,
            answerability_gate=a.answerability_gate,
            recency=(a.recency_weight, a.recency_half_life_days),
        )

    @cached_property
    def tracer(self) -> Tracer:
        t = self.settings.tracing
        return build_tracer(t.endpoint, t.protocol, t.service_name)

    @cached_property
    def retriever(self) -> HybridRetriever:
        return HybridRetriever(self.store, self.keyword, self.embedder, self.fusion_params())

    @cached_property
    def archive(self) -> Archive:
        return Archive(self.store, self.ingester, self.retriever)

    @cached_property
    def feeds(self) -> Feeds:
        f = self.settings.fetch
        policy = FetchPolicy(
            allow_hosts=f.allow_hosts,
            max_bytes=f.max_bytes,
            max_redirects=f.max_redirects,
            connect_timeout_s=f.connect_timeout_s,
            read_timeout_s=f.read_timeout_s,
            min_delay_s=f.min_delay_s,
            robots=f.robots,
        )
        path = self.data_dir / "feeds.sqlite3"
        return Feeds(self.archive, path, policy, self.settings.feeds.every)

    def repair(self) -> dict[str, int]:
        """Roll back half-written articles and rebuild a keyword index that disagrees with
        Chroma: run once when a process starts (the API's lifespan, each CLI command)."""
        with translated():
            return self.ingester.repair()

    def fresh_index(
        self, name: str = "eval", path: Path | None = None, embedder: Embedder | None = None
    ) -> IndexParts:
        """A new, empty index with this configuration's chunker and fusion: in memory, or an
        embedded Chroma under ``path`` (benchmarks of writes); ``embedder`` replaces ours."""
        emb = embedder or self.embedder
        if path is None:
            store = ChromaStore.ephemeral(f"{name}-{uuid.uuid4().hex[:10]}")
            keyword = BM25Index(None)
        else:
            store = ChromaStore.embedded(path / "chroma", name)
            keyword = BM25Index(path / "keyword")
        ingester = Ingester(store, keyword, emb, self.chunker)
        retriever = HybridRetriever(store, keyword, emb, self.fusion_params())
        return IndexParts(store, keyword, ingester, retriever)

    def throwaway(self, articles: Iterable[Article], name: str = "eval") -> HybridRetriever:
        """A retriever over a fresh in-memory index of ``articles`` (evaluation runs)."""
        parts = self.fresh_index(name)
        parts.ingester.ingest_articles(list(articles))
        return parts.retriever

    @cached_property
    def similarity(self) -> TextSimilarity:
        return TextSimilarity(self.embedder)

    @cached_property
    def verifier(self) -> Verifier:
        """The configured verifier; the model's files are checked here (a missing or corrupt
        file is a VerifierUnavailable error, never a silent switch to the rule)."""
        a = self.settings.answer
        match a.verifier:
            case "model":
                model = load_model_verifier(self.similarity, a.verifier_dir or MODEL_DIR)
                if a.support_threshold is not None:
                    model.threshold = a.support_threshold
                return model
            case "rule":
                threshold = 0.6 if a.support_threshold is None else a.support_threshold
                return RuleVerifier(self.similarity, threshold)

    def local_generator(self, cfg: LocalGenerator | None = None) -> Generator:
        cfg = cfg or LocalGenerator()
        match cfg.model:
            case "smollm2":
                path, chat = cfg.model_path or smollm2_path(), True
            case "gemma3":
                path, chat = cfg.model_path or gemma3_path(self.data_dir / "models"), False
        runner = SupervisedLlama(
            path,
            context_tokens=cfg.context_tokens,
            threads=cfg.threads,
            load_timeout_s=cfg.load_timeout_s,
            piece_timeout_s=cfg.timeout_s,
            max_failed_starts=cfg.max_failed_starts,
            retry_after_s=cfg.retry_after_s,
        )
        return LocalModelGenerator(runner, cfg.model, chat, cfg.max_tokens)

    def generator_factories(self) -> dict[str, Callable[[], Generator]]:
        """Factories per mode; the configured generator decides ``openai``'s server. A model
        is loaded once per ``Components``, however many engines use it."""
        g = self.settings.generator
        factories: dict[str, Callable[[], Generator]] = {}
        match g:
            case LocalGenerator():
                factories["local"] = lambda: self.local_generator(g)
            case OpenAIGenerator():
                factories["local"] = lambda: self.local_generator()
                factories["openai"] = lambda: OpenAICompatGenerator(
                    g.base_url,
                    g.model,
                    g.api_key.get_secret_value(),
                    g.timeout_s,
                    g.retries,
                    g.max_tokens,
                )
            case ExtractiveGenerator():
                factories["local"] = lambda: self.local_generator()
        for mode in list(self._built):
            factories.setdefault(mode, lambda m=mode: self._built[m])  # type: ignore[misc]
        return {mode: self._once(mode, make) for mode, make in factories.items()}

    def supervised(self) -> list[SupervisedLlama]:
        """The local models built so far that run in a supervised child process."""
        runners = [getattr(g, "runner", None) for g in self._built.values()]
        return [r for r in runners if isinstance(r, SupervisedLlama)]

    def close(self) -> None:
        """Stop the local models' child processes; close the feed state."""
        for runner in self.supervised():
            runner.stop()
        if "feeds" in self.__dict__:
            self.feeds.close()

    def _once(self, mode: str, make: Callable[[], Generator]) -> Callable[[], Generator]:
        def get() -> Generator:
            if mode not in self._built:
                self._built[mode] = make()
            return self._built[mode]

        return get

    def engine_over(self, retriever: HybridRetriever) -> Engine:
        """An engine over the given retriever, with this configuration and its models."""
        return Engine(
            retriever,
            self.verifier,
            self.generator_factories(),
            default_mode=self.settings.generator.kind,
            options=self.engine_options(),
            tracer=self.tracer,
        )

    @cached_property
    def engine(self) -> Engine:
        return self.engine_over(self.retriever)
