"""``qa slack``: the bot over Socket Mode, for workspaces without a public URL."""

from __future__ import annotations

import logging

from api.queue import AnswerQueue
from api.slack.setup import slack_bot
from qa.settings import Settings
from qa.wiring import Components

log = logging.getLogger(__name__)


def run_socket_mode(settings: Settings) -> int:
    """Connect to Slack with the app-level token and answer until interrupted."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    cfg = settings.slack
    missing = [
        name
        for name, value in (
            ("QA_SLACK__BOT_TOKEN", cfg.bot_token),
            ("QA_SLACK__APP_TOKEN", cfg.app_token),
        )
        if value is None
    ]
    if missing or cfg.app_token is None:
        raise ValueError(f"Socket Mode needs {' and '.join(missing)} (see the README's Slack part)")
    comps = Components(settings)
    comps.repair()
    api = settings.api
    answers = AnswerQueue(comps.engine, api.answer_workers, api.queue_size)
    bot = slack_bot(cfg, settings.data_dir, answers, socket_mode=True)
    if bot is None:  # pragma: no cover - the settings were checked above
        raise ValueError("the Slack bot could not be built")
    log.info("Slack bot connecting over Socket Mode")
    try:
        SocketModeHandler(bot.app, cfg.app_token.get_secret_value()).start()  # type: ignore[no-untyped-call]
    finally:
        comps.close()
    return 0
