"""The Slack bot from the settings, for HTTP mode (``/slack/events``) and Socket Mode alike."""

from __future__ import annotations

import logging
from pathlib import Path

from api.queue import AnswerQueue
from api.slack.bot import SlackBot
from api.slack.store import SlackMemory
from qa.settings import SlackSettings

log = logging.getLogger(__name__)


def slack_bot(
    cfg: SlackSettings, data_dir: Path, answers: AnswerQueue, *, socket_mode: bool = False
) -> SlackBot | None:
    """The bot when its settings are complete (HTTP: bot token and signing secret; Socket
    Mode: bot token and app token); otherwise None, and a log line says why it is off."""
    needed = [("QA_SLACK__BOT_TOKEN", cfg.bot_token)]
    needed.append(
        ("QA_SLACK__APP_TOKEN", cfg.app_token)
        if socket_mode
        else ("QA_SLACK__SIGNING_SECRET", cfg.signing_secret)
    )
    missing = [name for name, value in needed if value is None]
    if missing or cfg.bot_token is None:
        log.info("Slack bot off: %s not set", " and ".join(missing))
        return None
    memory = SlackMemory(data_dir / "slack.sqlite3", ttl_s=cfg.dedup_hours * 3600)
    if not socket_mode:
        log.info("Slack bot on: events at POST /slack/events (Web API %s)", cfg.api_url)
    # Socket Mode has no request signatures: the connection itself is authenticated
    secret = None if socket_mode or cfg.signing_secret is None else cfg.signing_secret
    return SlackBot(
        answers,
        memory,
        cfg.bot_token.get_secret_value(),
        secret.get_secret_value() if secret else None,
        cfg.api_url,
        follow_threads=cfg.follow_threads,
        ignore_bots=cfg.ignore_bots,
        mode=cfg.mode,
        history_turns=cfg.history_turns,
    )
