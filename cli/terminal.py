"""Terminal front ends of the engine: ``qa ask`` and ``qa chat``."""

from __future__ import annotations

import datetime as dt
import json
import sys

from qa.answer import Answer, CitationEvent, Delta, Final, Mode, Reset, Turn
from qa.engine import Engine


def format_answer(answer: Answer) -> str:
    """The answer, then a numbered source list with exact quotes."""
    lines = [answer.text, ""]
    if answer.status != "answered":
        lines.append(f"[{answer.status}] {answer.reason}")
    for w in answer.warnings:
        lines.append(f"warning: {w}")
    if answer.citations:
        lines.append("Sources:")
    for c in answer.citations:
        meta = ", ".join(x for x in (c.source, c.published) if x)
        lines.append(
            f"  [{c.n}] {c.title}" + (f" ({meta})" if meta else "") + (f" {c.url}" if c.url else "")
        )
        quote = c.quote if len(c.quote) <= 240 else c.quote[:237] + "..."
        lines.append(f"      “{quote}” (chars {c.start}-{c.end} of {c.article_id})")
    lines.append(f"(mode: {answer.mode})")
    return "\n".join(lines).strip()


def ask_once(
    engine: Engine,
    question: str,
    mode: Mode | None,
    as_json: bool,
    as_of: dt.date | None = None,
) -> int:
    if as_json:
        answer = engine.answer(question, mode=mode, as_of=as_of)
        print(json.dumps(answer.to_dict(), default=str))
        return 0
    for event in engine.stream(question, mode=mode, as_of=as_of):
        if isinstance(event, Final):
            print()
            print(
                format_answer(event.answer).split("\n", 1)[1]
                if event.answer.text
                else format_answer(event.answer)
            )
        elif isinstance(event, Delta):
            print(event.text, end="", flush=True)
        elif isinstance(event, Reset):
            print(f"\n(withdrawn: {event.reason})\n", flush=True)
    return 0


def chat_loop(engine: Engine, mode: Mode | None) -> int:
    """Read questions until EOF or 'exit'; earlier turns are the history."""
    history: list[Turn] = []
    interactive = sys.stdin.isatty()
    while True:
        try:
            question = input("you> " if interactive else "")
        except EOFError:
            break
        if question.strip().lower() in {"exit", "quit", ":q"}:
            break
        if not question.strip():
            continue
        answer = None
        print("qa> ", end="", flush=True)
        for event in engine.stream(question, history=history, mode=mode):
            if isinstance(event, Delta):
                print(event.text, end="", flush=True)
            elif isinstance(event, Reset):
                print(f"\n(withdrawn: {event.reason})\nqa> ", end="", flush=True)
            elif isinstance(event, CitationEvent):
                pass
            elif isinstance(event, Final):
                answer = event.answer
        if answer is not None:
            rest = format_answer(answer).split("\n", 1)
            print("\n" + (rest[1] if len(rest) > 1 else ""))
            history += [Turn("user", question), Turn("assistant", answer.text)]
    return 0
