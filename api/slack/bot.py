"""The Slack bot on slack-bolt: mentions, DMs and thread follow-ups answered exactly once.

Events are acknowledged at once (bolt answers Slack before the listener runs); the listener
posts a placeholder in the thread, answers with the engine and replaces the placeholder with
the answer (``chat.update``). Which events were taken is kept in SQLite (``SlackMemory``), keyed
on the event id and on (channel, ts), so Slack's retries and the ``message`` twin of an
``app_mention`` never produce a second answer, across restarts too.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from api.queue import AnswerQueue, AskRequest, Busy
from api.slack.format import (
    FEEDBACK_DOWN,
    FEEDBACK_UP,
    PLACEHOLDER,
    answer_message,
    error_message,
    history_from_thread,
    strip_mentions,
)
from api.slack.store import SlackMemory
from qa.answer import Mode
from qa.errors import QAError

log = logging.getLogger(__name__)

# message subtypes that are people writing; edits, deletions, joins etc. are not questions
_ANSWERABLE_SUBTYPES = {None, "file_share", "thread_broadcast"}


class SlackBot:
    """A bolt ``App`` wired to the answer queue (the same gates and 429 policy as HTTP).
    ``dispatch`` takes one HTTP request from Slack."""

    def __init__(
        self,
        answers: AnswerQueue,
        memory: SlackMemory,
        bot_token: str,
        signing_secret: str | None,
        api_url: str = "https://slack.com/api/",
        *,
        follow_threads: bool = True,
        ignore_bots: bool = True,
        mode: Mode | None = None,
        history_turns: int = 10,
    ):
        self.answers = answers
        self.memory = memory
        self.follow_threads = follow_threads
        self.ignore_bots = ignore_bots
        self.mode = mode
        self.history_turns = history_turns
        client = WebClient(
            token=bot_token,
            base_url=api_url,
            retry_handlers=[
                RateLimitErrorRetryHandler(max_retry_count=3),
                ConnectionErrorRetryHandler(max_retry_count=2),
            ],
        )
        self.app = App(
            client=client,
            signing_secret=signing_secret,
            request_verification_enabled=signing_secret is not None,
            token_verification_enabled=False,  # no call to Slack at construction
            process_before_response=False,  # ack first, then answer in a worker thread
            ignoring_self_events_enabled=True,
            logger=logging.getLogger("api.slack.bolt"),
        )
        self.app.event("app_mention")(self._on_mention)
        self.app.event("message")(self._on_message)
        self.app.action(FEEDBACK_UP)(self._on_feedback)
        self.app.action(FEEDBACK_DOWN)(self._on_feedback)
        self.app.error(self._on_error)

    def dispatch(self, request: BoltRequest) -> BoltResponse:
        return self.app.dispatch(request)

    # --- events ------------------------------------------------------------------------------

    def _on_mention(
        self,
        body: dict[str, Any],
        event: dict[str, Any],
        client: WebClient,
        context: dict[str, Any],
    ) -> None:
        if self.ignore_bots and event.get("bot_id"):
            return
        self._answer(body, event, client, context.get("bot_user_id"))

    def _on_message(
        self,
        body: dict[str, Any],
        event: dict[str, Any],
        client: WebClient,
        context: dict[str, Any],
    ) -> None:
        if event.get("subtype") not in _ANSWERABLE_SUBTYPES:
            return
        if self.ignore_bots and event.get("bot_id"):
            return
        bot_user = context.get("bot_user_id")
        if bot_user and event.get("user") == bot_user:
            return
        channel, thread_ts = event.get("channel", ""), event.get("thread_ts")
        if event.get("channel_type") == "im" or (
            self.follow_threads
            and thread_ts
            and thread_ts != event.get("ts")
            and self.memory.answered_thread(channel, thread_ts)
        ):
            self._answer(body, event, client, bot_user)

    def _answer(
        self, body: dict[str, Any], event: dict[str, Any], client: WebClient, bot_user: str | None
    ) -> None:
        channel, ts = event.get("channel", ""), event.get("ts", "")
        keys = [f"msg:{channel}:{ts}"]
        if body.get("event_id"):
            keys.append(f"event:{body['event_id']}")
        if not self.memory.claim(keys):
            log.info("slack: %s already taken (a retry or a double delivery)", keys)
            return
        self.memory.start_work(keys[0], event, bot_user)
        try:
            self._work(keys[0], event, client, bot_user, None)
        finally:
            self.memory.finish_work(keys[0])

    def resume(self, max_age_s: float = 600.0) -> int:
        """Answer the events that a stopped process had taken but not answered (their
        placeholder, if posted, is replaced). Returns how many were resumed."""
        work = self.memory.unfinished(max_age_s)
        for key, event, bot_user, placeholder_ts in work:
            log.info("slack: resuming %s, taken before a restart", key)
            try:
                self._work(key, event, self.app.client, bot_user, placeholder_ts)
            finally:
                self.memory.finish_work(key)
        return len(work)

    def _work(
        self,
        key: str,
        event: dict[str, Any],
        client: WebClient,
        bot_user: str | None,
        placeholder_ts: str | None,
    ) -> None:
        channel, ts = event.get("channel", ""), event.get("ts", "")
        question = strip_mentions(event.get("text", ""))
        in_dm = event.get("channel_type") == "im"
        thread_ts = event.get("thread_ts") or (None if in_dm else ts)
        if not question:
            client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                text="Ask me a question about the news archive, e.g. "
                "“What did China and Russia propose at Guilin?”",
            )
            return
        if placeholder_ts is None:
            posted = client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=PLACEHOLDER)
            placeholder_ts = str(posted["ts"])
            self.memory.set_placeholder(key, placeholder_ts)
        placeholder = {"ts": placeholder_ts}
        if thread_ts:
            self.memory.add_thread(channel, thread_ts)
        try:
            history: tuple[Any, ...] = ()
            if event.get("thread_ts"):
                replies = client.conversations_replies(
                    channel=channel, ts=event["thread_ts"], limit=50
                )
                history = history_from_thread(
                    list(replies.get("messages") or []),
                    bot_user,
                    ts,
                    self.history_turns,
                    known=lambda shown_ts: self.memory.answer_shown(channel, shown_ts),
                )
            answer = self.answers.answer_sync(AskRequest(question, history, mode=self.mode))
            answer_id = self.memory.add_answer(
                channel, thread_ts, event.get("user"), question, answer.to_dict()
            )
            text, blocks = answer_message(answer, answer_id)
            client.chat_update(channel=channel, ts=placeholder["ts"], text=text, blocks=blocks)
            self.memory.record_message(channel, placeholder["ts"], answer_id)
        except Exception as exc:  # every failure is said in the thread, never silent
            if isinstance(exc, (QAError, Busy)):
                reason = str(exc)
            elif isinstance(exc, SlackApiError):
                reason = f"Slack refused a call ({exc.response.get('error', 'unknown error')})"
            else:
                reason = "an internal error (it was logged)"
            log.exception("slack: answering %r in %s failed", question, channel)
            try:
                client.chat_update(
                    channel=channel, ts=placeholder["ts"], text=error_message(reason)
                )
            except Exception:
                log.exception("slack: could not post the failure message either")

    # --- feedback ----------------------------------------------------------------------------

    def _on_feedback(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        value = 1 if action.get("action_id") == FEEDBACK_UP else -1
        user = (body.get("user") or {}).get("id")
        recorded = self.memory.add_feedback(str(action.get("value", "")), user, value)
        channel = (body.get("channel") or {}).get("id")
        message = body.get("message") or {}
        if channel and user:
            client.chat_postEphemeral(
                channel=channel,
                user=user,
                thread_ts=message.get("thread_ts"),
                text="Thanks, your feedback was recorded."
                if recorded
                else "I no longer know that answer; the feedback was not recorded.",
            )

    def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        log.error("slack: listener failed: %s", error, exc_info=error)
