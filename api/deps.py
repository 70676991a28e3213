"""What routes may reach, each as its own ``Annotated`` dependency: the engine, the archive,
the answer queue, the feeds and the API limits (built in the app's lifespan, on ``app.state``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from api.metrics import Metrics
from api.queue import AnswerQueue
from qa.archive import Archive
from qa.engine import Engine
from qa.feeds import Feeds


@dataclass(frozen=True)
class Limits:
    """The API's request limits (from ``ApiSettings``)."""

    max_question_chars: int
    max_messages: int
    max_k: int
    max_upload_bytes: int


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _archive(request: Request) -> Archive:
    archive: Archive = request.app.state.archive
    return archive


def _answers(request: Request) -> AnswerQueue:
    answers: AnswerQueue = request.app.state.answers
    return answers


def _feeds(request: Request) -> Feeds:
    feeds: Feeds = request.app.state.feeds
    return feeds


def _limits(request: Request) -> Limits:
    limits: Limits = request.app.state.limits
    return limits


def _metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


EngineDep = Annotated[Engine, Depends(_engine)]
ArchiveDep = Annotated[Archive, Depends(_archive)]
AnswersDep = Annotated[AnswerQueue, Depends(_answers)]
LimitsDep = Annotated[Limits, Depends(_limits)]
FeedsDep = Annotated[Feeds, Depends(_feeds)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]
