"""Slack message formatting: pure functions from the engine's ``Answer`` to mrkdwn and Block
Kit, and from Slack thread messages back to chat history."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from index.model import PartialDate
from qa.answer import Answer, Citation, Turn

PLACEHOLDER = ":mag: Looking through the archive…"
SECTION_LIMIT = 2900  # Slack allows 3000 characters per section text
QUOTE_CHARS = 200
FEEDBACK_UP, FEEDBACK_DOWN = "feedback_up", "feedback_down"
_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")


def escape(text: str) -> str:
    """Slack's three control characters in message text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def strip_mentions(text: str) -> str:
    """The question (unescaped) without ``<@U123>`` mentions and surrounding blanks."""
    return unescape(" ".join(_MENTION.sub(" ", text or "").split()))


def human_date(iso: str | None) -> str:
    """'2021-03-23' -> '23 March 2021'; '--03-23' -> '23 March'; '2021' -> '2021'."""
    date = PartialDate.from_iso(iso) if iso else None
    return date.human() if date is not None else (iso or "")


def _short(quote: str, limit: int = QUOTE_CHARS) -> str:
    quote = " ".join(quote.split())
    return quote if len(quote) <= limit else quote[: limit - 1].rsplit(" ", 1)[0] + "…"


def source_line(c: Citation) -> str:
    """'*[1]* <url|Title> — PTI, 23 March' then the quote on a '>' line."""
    title = escape(c.title)
    if c.url and re.match(r"https?://", c.url) and "|" not in c.url and ">" not in c.url:
        title = f"<{c.url}|{title}>"
    else:
        title = f"*{title}*"
    meta = ", ".join(x for x in (escape(c.source or ""), human_date(c.published)) if x)
    head = f"*[{c.n}]* {title}" + (f" — {meta}" if meta else "")
    return f"{head}\n>{escape(_short(c.quote))}"


def answer_text(answer: Answer) -> str:
    """The answer's body in mrkdwn; abstentions are said plainly."""
    if answer.status == "insufficient_evidence":
        return f"The archive doesn't say: {escape(answer.reason)}."
    text = escape(answer.text)
    if answer.status == "conflicting_sources":
        text += f"\n_Sources disagree: {escape(answer.reason)}_"
    return text


def _chunks(lines: Iterable[str], limit: int = SECTION_LIMIT) -> list[str]:
    out: list[str] = []
    current = ""
    for line in lines:
        line = line[:limit]
        if current and len(current) + 1 + len(line) > limit:
            out.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        out.append(current)
    return out


def answer_message(answer: Answer, answer_id: str) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks): the answer with ``[n]`` markers, warnings, the numbered sources
    and 👍/👎 buttons whose value is ``answer_id``."""
    body = answer_text(answer)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": part}} for part in _chunks([body])
    ]
    if answer.warnings:
        notes = " · ".join(escape(w) for w in answer.warnings)
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f":warning: {notes}"[:2900]}],
            }
        )
    if answer.citations:
        blocks.append({"type": "divider"})
        for part in _chunks(source_line(c) for c in answer.citations):
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": part}})
    blocks.append(
        {
            "type": "actions",
            "block_id": "feedback",
            "elements": [
                {
                    "type": "button",
                    "action_id": FEEDBACK_UP,
                    "text": {"type": "plain_text", "text": "👍", "emoji": True},
                    "value": answer_id,
                },
                {
                    "type": "button",
                    "action_id": FEEDBACK_DOWN,
                    "text": {"type": "plain_text", "text": "👎", "emoji": True},
                    "value": answer_id,
                },
            ],
        }
    )
    sources = "\n".join(
        f"[{c.n}] {c.title}" + (f" ({c.source})" if c.source else "") for c in answer.citations
    )
    fallback = body + (f"\n\nSources:\n{escape(sources)}" if sources else "")
    return fallback[:3900], blocks[:50]


def error_message(reason: str) -> str:
    return f":x: I couldn't answer that: {escape(reason)}"


def history_from_thread(
    messages: list[dict[str, Any]],
    bot_user_id: str | None,
    current_ts: str,
    limit: int = 10,
    known: Callable[[str], str | None] = lambda ts: None,
) -> tuple[Turn, ...]:
    """Earlier messages of a thread as chat turns: the bot's answers (not its placeholder) as
    the assistant, everyone else's text (mentions removed) as the user. ``known(ts)`` gives
    the answer a bot message shows, from the bot's memory; a bot message it does not know
    (posted before the memory was kept) is read up to its list of sources."""
    turns: list[Turn] = []
    for m in messages:
        if m.get("ts") == current_ts:
            continue
        text = m.get("text") or ""
        from_bot = bool(m.get("bot_id")) or (
            bot_user_id is not None and m.get("user") == bot_user_id
        )
        if from_bot:
            shown = known(str(m.get("ts", "")))
            if shown:
                turns.append(Turn("assistant", shown))
            elif text and text != PLACEHOLDER and not text.startswith(":x:"):
                turns.append(Turn("assistant", unescape(text.split("\n\nSources:", 1)[0])))
        else:
            question = strip_mentions(text)
            if question:
                turns.append(Turn("user", question))
    return tuple(turns[-limit:]) if limit else ()
