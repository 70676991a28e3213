"""Sentence-aware chunking with overlap and exact character offsets.

Every chunk satisfies ``article.text[chunk.start:chunk.end] == chunk.text``. Sizes are in
estimated word-pieces so that chunk + title fit MiniLM's 256-token window.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from index.model import Article, Chunk, chunk_id_for

_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "gen", "col", "lt", "sgt", "capt",
    "gov", "sen", "rep", "rev", "hon", "no", "vs", "etc", "inc", "ltd", "co", "corp", "jan",
    "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s",
    "u.k", "u.n", "e.g", "i.e", "a.m", "p.m", "approx", "dept", "est", "fig", "ft", "govt",
}  # fmt: skip
_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+)|\n\s*\n")
_TOKEN = re.compile(r"\w+|[^\w\s]")


def estimate_tokens(text: str) -> int:
    """Cheap upper-leaning estimate of MiniLM word-pieces (words split into ~1.2 pieces)."""
    return int(len(_TOKEN.findall(text)) * 1.2) + 1


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, whitespace trimmed; abbreviations do not end sentences."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.end()
        mark = m.group(0).strip()
        # a lower-case word after the mark continues the sentence: '"Why?" she asked',
        # 'the most popular (pup-ular?) dog breed', 'e.g. this'
        if mark and text[end : end + 3].lstrip()[:1].islower():
            continue
        if mark and mark[0] == ".":
            before = text[start : m.start()].rsplit(None, 1)
            word = before[-1].lower().rstrip(".") if before else ""
            # "U.S.", "Mr.", "Mar. 23", "J. Smith" and "3.5" are not sentence ends
            if word in _ABBREV or re.fullmatch(r"[a-z]", word):
                continue
        _add_span(text, start, end, spans)
        start = end
    _add_span(text, start, len(text), spans)
    return spans


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


@dataclass(frozen=True)
class SentenceChunker:
    """Packs whole sentences into chunks of at most ``max_tokens``; ``overlap`` sentences
    are repeated at the start of the next chunk. Over-long sentences are cut at spaces."""

    max_tokens: int = 200
    overlap: int = 1
    count_tokens: Callable[[str], int] = estimate_tokens

    def split(self, article: Article) -> list[Chunk]:
        text = article.text
        spans = self._fit(text, sentence_spans(text))
        chunks: list[Chunk] = []
        i = 0
        while i < len(spans):
            j = i
            total = 0
            while j < len(spans):
                n = self.count_tokens(text[spans[j][0] : spans[j][1]])
                if j > i and total + n > self.max_tokens:
                    break
                total += n
                j += 1
            start, end = spans[i][0], spans[j - 1][1]
            body = text[start:end]
            pos = len(chunks)
            chunks.append(
                Chunk(chunk_id_for(article.id, pos, body), article.id, pos, start, end, body)
            )
            if j >= len(spans):
                break
            i = max(j - self.overlap, i + 1)
        return chunks

    def _fit(self, text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Cut sentences longer than the budget into word-boundary pieces."""
        out: list[tuple[int, int]] = []
        for start, end in spans:
            if self.count_tokens(text[start:end]) <= self.max_tokens:
                out.append((start, end))
                continue
            words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[start:end])]
            piece_start = 0
            budget = 0
            for k, (ws, we) in enumerate(words):
                n = self.count_tokens(text[start + ws : start + we])
                if budget and budget + n > self.max_tokens:
                    out.append((start + words[piece_start][0], start + words[k - 1][1]))
                    piece_start, budget = k, 0
                budget += n
            out.append((start + words[piece_start][0], start + words[-1][1]))
        return out


def embedding_text(title: str, published: str | None, chunk_text: str) -> str:
    """What the embedder reads for a chunk: the title travels with the text."""
    return f"{title}\n{chunk_text}" if title else chunk_text
