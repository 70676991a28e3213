"""Follow-up questions -> standalone search queries, using the conversation history."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import prompts
from qa.answer import Turn
from qa.errors import GeneratorTimeout, GeneratorUnavailable
from qa.generators import Generator

_FOLLOW_UP = re.compile(
    r"^(and|but|also|so|what about|how about|then)\b|\b(he|she|they|him|her|them|his|hers|"
    r"their|it|its|that|this|those|these|there|the two|both)\b",
    re.I,
)
_ENTITY = re.compile(r"\b(?:[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)*|\d[\d,.]*)\b")
_STARTERS = {
    "what",
    "who",
    "when",
    "where",
    "why",
    "how",
    "which",
    "did",
    "does",
    "do",
    "is",
    "are",
    "was",
    "were",
    "and",
    "but",
    "also",
    "the",
    "a",
    "an",
    "in",
    "on",
    "at",
}


def needs_context(question: str) -> bool:
    return bool(_FOLLOW_UP.search(question)) or len(question.split()) <= 4


def heuristic_rewrite(question: str, history: Sequence[Turn]) -> str:
    """Keep the follow-up's words and add the names and numbers of earlier user turns that it
    does not already mention (most recent first)."""
    q = re.sub(r"^(and|but|also|so|then)\s*,?\s+", "", question.strip(), flags=re.I)
    if not history or not needs_context(question):
        return q
    have = q.lower()
    extra: list[str] = []
    for turn in reversed(history):
        if turn.role != "user":
            continue
        for m in _ENTITY.finditer(turn.content):
            ent = m.group(0)
            if ent.lower() in _STARTERS or ent.lower() in have or ent in extra:
                continue
            extra.append(ent)
        if extra:
            break
    return f"{q} ({', '.join(extra)})" if extra else q


def rewrite_query(
    question: str,
    history: Sequence[Turn],
    model: Callable[[], tuple[Generator | None, str]] | None,
    tokenize: Callable[[str], list[str]],
) -> tuple[str, str]:
    """The standalone search query for a (follow-up) question, and a note of how it was made.
    ``model`` (None: the heuristic only) gives the generator to ask, or why there is none; its
    output is used only when it keeps most of the follow-up's content words (small models tend
    to repeat the previous question instead)."""
    fallback = heuristic_rewrite(question, history)
    if not history or not needs_context(question):
        return fallback, ""
    if model is None:
        return fallback, "follow-up rewritten with the heuristic"
    generator, problem = model()
    if generator is None:
        return fallback, f"follow-up rewritten with the heuristic ({problem})"
    prompt = prompts.load("rewrite").render(
        history=[{"role": t.role, "content": t.content} for t in history[-6:]],
        question=question,
    )
    try:
        out = " ".join(generator.complete(prompt).split()).strip('"')
    except (GeneratorUnavailable, GeneratorTimeout) as exc:
        return fallback, f"follow-up rewritten with the heuristic (model failed: {exc})"
    words = set(tokenize(question))
    kept = len(words & set(tokenize(out))) / max(1, len(words))
    if not out or len(out) > 300 or kept < 0.6:
        return fallback, "follow-up rewritten with the heuristic (model output unusable)"
    return out, f"follow-up rewritten by {generator.name}"
