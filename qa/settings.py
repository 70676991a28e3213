"""Settings: one pydantic-settings model, env prefix ``QA_``, ``__`` for nesting.

Examples: ``QA_DATA_DIR=/srv/qa``, ``QA_STORE__KIND=http QA_STORE__HOST=chroma.internal``,
``QA_GENERATOR__KIND=extractive``. Unknown options are errors (``extra="forbid"``).
Only ``qa.wiring`` reads settings; constructors take plain values.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, SecretStr, Tag, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from qa.timewords import DEFAULT_RECENCY


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmbeddedStore(_Section):
    """Chroma ``PersistentClient`` under ``<data_dir>/chroma`` (the default)."""

    kind: Literal["embedded"] = "embedded"


class HttpStore(_Section):
    """A Chroma server reached with ``HttpClient``."""

    kind: Literal["http"] = "http"
    host: str = "127.0.0.1"
    port: int = Field(8001, ge=1, le=65535)
    ssl: bool = False
    auth_token: SecretStr | None = None


class EphemeralStore(_Section):
    """In-memory Chroma, for tests and throwaway runs."""

    kind: Literal["ephemeral"] = "ephemeral"


def _kind(default: str) -> Callable[[Any], str]:
    """Discriminator that lets ``QA_GENERATOR__MODEL=gemma3`` alone mean the default kind."""

    def pick(value: Any) -> str:
        if isinstance(value, dict):
            return str(value.get("kind", default))
        return str(getattr(value, "kind", default))

    return pick


StoreSettings = Annotated[
    Annotated[EmbeddedStore, Tag("embedded")]
    | Annotated[HttpStore, Tag("http")]
    | Annotated[EphemeralStore, Tag("ephemeral")],
    Discriminator(_kind("embedded")),
]


class EmbedderSettings(_Section):
    kind: Literal["minilm", "onnx", "hash"] = Field(
        "onnx",
        description="onnx: all-MiniLM-L6-v2 exported locally to ONNX Runtime, fused and int8"
        " quantised (built once into the model cache; about 2.4x faster than torch, RealtimeQA"
        " MRR@10 within 0.002); minilm: the same model on torch (sentence-transformers);"
        " hash: a test fake",
    )
    quantize: bool = Field(True, description="onnx: int8 dynamic quantisation")
    cache_dir: Path | None = Field(
        None, description="onnx: where the exported model is kept (default <data_dir>/models)"
    )
    batch_size: int = Field(64, ge=1, le=1024)
    threads: int = Field(0, ge=0, description="torch threads; 0 = all cores")


class ChunkSettings(_Section):
    max_tokens: int = Field(200, ge=32, le=512, description="estimated word-pieces per chunk")
    overlap_sentences: int = Field(1, ge=0, le=5)


class RetrievalSettings(_Section):
    candidates: int = Field(50, ge=1, le=1000, description="per retriever, before fusion")
    fusion: Literal["convex", "rrf"] = "convex"
    dense_weight: float = Field(0.8, ge=0)
    bm25_weight: float = Field(0.2, ge=0)
    rrf_k: int = Field(60, ge=1)
    keyword_refresh_s: float = Field(
        10.0,
        ge=0,
        description="how often the keyword index checks Chroma for writes made by"
        " other processes (0 = never); every 6th check compares ids, not only counts",
    )


class AnswerSettings(_Section):
    k: int = Field(5, ge=1, le=20, description="passages given to the generator")
    verifier: Literal["model", "rule"] = Field(
        "model",
        description="model: the project's trained cross-encoder with evidence features"
        " (qa/models); rule: the earlier hand rule (cosine, overlap, penalties)",
    )
    verifier_dir: Path | None = Field(
        None,
        description="folder of verifier.json, its model file and verifier-combiner.json"
        " (default: the ones shipped in qa/models)",
    )
    support_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="minimum support of a shown sentence (default: the"
        " verifier's own: 0.6 for the rule, the fitted one for the model)",
    )
    recency_weight: float = Field(
        DEFAULT_RECENCY[0],
        ge=0,
        le=5,
        description="the recency prior of a question without time words: its weight",
    )
    recency_half_life_days: float = Field(DEFAULT_RECENCY[1], gt=0, le=3650)
    answer_weight: float = Field(
        0.0,
        ge=0,
        le=2,
        description="weight of the answerability model in choosing answer sentences"
        " (0: relevance features only)",
    )
    answerability_gate: bool = Field(
        False,
        description="abstain when the answerability model says no retrieved passage answers"
        " (off: on RealtimeQA it abstained on half the answerable questions)",
    )
    unsupported: Literal["drop", "flag"] = "drop"
    fallback: bool = Field(True, description="answer extractively when the model fails")
    rewrite: Literal["heuristic", "model"] = "heuristic"


class LocalGenerator(_Section):
    """A packaged GGUF model, run by llama.cpp in a supervised child process."""

    kind: Literal["local"] = "local"
    model: Literal["smollm2", "gemma3"] = "smollm2"
    model_path: Path | None = None
    max_tokens: int = Field(160, ge=8, le=2048)
    context_tokens: int = Field(2048, ge=512, le=8192)
    threads: int = Field(0, ge=0, description="0 = every core")
    timeout_s: float = Field(60.0, gt=0, description="silence after which the model is killed")
    load_timeout_s: float = Field(120.0, gt=0)
    max_failed_starts: int = Field(3, ge=1, le=100, description="in a row, before giving up")
    retry_after_s: float = Field(60.0, gt=0, description="after giving up, try again this late")


class OpenAIGenerator(_Section):
    kind: Literal["openai"] = "openai"
    base_url: str = "http://127.0.0.1:8080/v1"
    model: str = "local"
    api_key: SecretStr = SecretStr("not-needed")
    timeout_s: float = Field(60.0, gt=0)
    retries: int = Field(1, ge=0, le=10)
    max_tokens: int = Field(256, ge=8, le=8192)


class ExtractiveGenerator(_Section):
    kind: Literal["extractive"] = "extractive"


GeneratorSettings = Annotated[
    Annotated[LocalGenerator, Tag("local")]
    | Annotated[OpenAIGenerator, Tag("openai")]
    | Annotated[ExtractiveGenerator, Tag("extractive")],
    Discriminator(_kind("local")),
]


class ApiSettings(_Section):
    """HTTP API limits and browser access (``QA_API__...``)."""

    cors_origins: list[str] = Field(
        default_factory=list, description="origins allowed by CORS; empty = CORS off"
    )
    max_body_bytes: int = Field(1_000_000, ge=1_000, description="JSON request bodies")
    max_upload_bytes: int = Field(20_000_000, ge=1_000, description="document uploads")
    max_question_chars: int = Field(2_000, ge=10, le=20_000)
    max_messages: int = Field(50, ge=1, le=1_000, description="messages in one chat request")
    max_k: int = Field(50, ge=1, le=1_000)
    answer_workers: int = Field(2, ge=1, le=64, description="answers computed at once")
    queue_size: int = Field(8, ge=0, le=10_000, description="answers waiting per model before 429s")
    warm_up: bool = Field(True, description="load the embedder and model at start-up")
    mcp_hosts: list[str] = Field(
        default_factory=lambda: ["127.0.0.1:*", "localhost:*", "[::1]:*"],
        description="Host headers /mcp answers (DNS-rebinding protection); [] = any host",
    )


class SlackSettings(_Section):
    """The Slack bot (``QA_SLACK__...``): on when the bot token and signing secret are set."""

    bot_token: SecretStr | None = Field(None, description="xoxb-... (Events API and Web API)")
    signing_secret: SecretStr | None = Field(None, description="verifies requests from Slack")
    app_token: SecretStr | None = Field(None, description="xapp-... for Socket Mode (qa slack)")
    api_url: str = Field("https://slack.com/api/", description="Slack Web API base URL")
    follow_threads: bool = Field(
        True, description="answer replies in threads the bot answered, without a new mention"
    )
    ignore_bots: bool = Field(True, description="ignore messages from other bots")
    mode: Literal["local", "openai", "extractive"] | None = Field(
        None, description="answering mode for Slack (default: the configured generator)"
    )
    dedup_hours: float = Field(24.0, gt=0, le=24 * 30, description="how long events are remembered")
    history_turns: int = Field(10, ge=0, le=50, description="earlier thread messages used")

    @property
    def enabled(self) -> bool:
        return self.bot_token is not None and self.signing_secret is not None


class FetchSettings(_Section):
    """Outbound requests (feeds, article pages): ``QA_FETCH__...``."""

    allow_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="hosts and CIDRs that may be private or local (tests, intranets);"
        " comma-separated; empty = every private address refused",
    )
    max_bytes: int = Field(5_000_000, ge=10_000, le=100_000_000)
    max_redirects: int = Field(5, ge=0, le=20)
    connect_timeout_s: float = Field(5.0, gt=0, le=120)
    read_timeout_s: float = Field(20.0, gt=0, le=600)
    min_delay_s: float = Field(1.0, ge=0, le=600, description="between requests to one host")
    robots: bool = Field(True, description="honour robots.txt")

    @field_validator("allow_hosts", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [h.strip() for h in value.split(",") if h.strip()]
        return value


class FeedSettings(_Section):
    """Following feeds (``QA_FEEDS__...``)."""

    check_s: float = Field(
        30.0, gt=0, le=3600, description="how often qa serve looks for due feeds"
    )
    every: str = Field("15m", description="default interval of a new feed")


class TracingSettings(_Section):
    """OpenTelemetry traces of answers (``QA_TRACING__...``): off unless an endpoint is set."""

    endpoint: str | None = Field(
        None,
        description="OTLP collector, e.g. http://127.0.0.1:4318/v1/traces (http)"
        " or http://127.0.0.1:4317 (grpc)",
    )
    protocol: Literal["http", "grpc"] = "http"
    service_name: str = "newsqa"
    record_text: bool = Field(False, description="put the question's text on spans")


class Settings(BaseSettings):
    """All configuration of the service. Defaults run fully offline on one machine."""

    model_config = SettingsConfigDict(
        env_prefix="QA_", env_nested_delimiter="__", extra="forbid", env_file=None
    )

    data_dir: Path = Path("./data")
    collection: str = Field("news", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,60}[a-zA-Z0-9]$")
    store: StoreSettings = EmbeddedStore()
    embedder: EmbedderSettings = EmbedderSettings()
    chunking: ChunkSettings = ChunkSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    answer: AnswerSettings = AnswerSettings()
    generator: GeneratorSettings = LocalGenerator()
    api: ApiSettings = ApiSettings()
    slack: SlackSettings = SlackSettings()
    fetch: FetchSettings = FetchSettings()
    feeds: FeedSettings = FeedSettings()
    tracing: TracingSettings = TracingSettings()
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="QA_API_KEYS: comma-separated bearer keys; empty = no auth on /v1",
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value
