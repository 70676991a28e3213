"""Claims: what a sentence asserts, and the parts of it that must be checked against a source.

One home for what the engine, the extractive answers and the evaluation all need: splitting
text into sentences and claims, the numbers, dates, names and negations a claim carries, and
the markers and decoration a model adds to its sentences (``parse_claim``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from index.chunking import sentence_spans
from index.model import Passage

# --- what a claim carries ---------------------------------------------------------------------

NUMBER = re.compile(r"\d[\d,.]*\d|\d")
NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20",
    "first": "1", "second": "2", "third": "3", "fourth": "4", "fifth": "5", "hundred": "100",
}  # fmt: skip
YEARS = {str(y) for y in range(1900, 2100)}
MONTHS = re.compile(
    r"\b(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(tember)?"
    r"|oct(ober)?|nov(ember)?|dec(ember)?)\b",
    re.I,
)
# capitalised words not at a sentence start, acronyms and codes ('LVIII', 'Q1')
NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b(?:[A-Z][\w'’-]*[a-z0-9][\w'’-]*|[A-Z]{2,}\w*)")
NOT_NAMES = {
    "the", "a", "an", "according", "in", "on", "at", "i", "it", "he", "she", "they", "we",
    "this", "that", "mr", "mrs",
}  # fmt: skip
NEGATION = re.compile(
    r"\b(not|no|never|none|nobody|neither|nor|without|cannot|denied|rejected)\b|n't\b", re.I
)
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")


def numbers(text: str, words: bool = False) -> set[str]:
    """The figures in ``text`` ('1,000' -> '1000'); with ``words``, 'three' -> '3' too."""
    found = {n.replace(",", "").rstrip(".") for n in NUMBER.findall(text)} - {""}
    if words:
        found |= {NUMBER_WORDS[w] for w in _WORD.findall(text.lower()) if w in NUMBER_WORDS}
    return found


_POSSESSIVE = re.compile(r"['’]s?$")


def names(text: str) -> set[str]:
    """Lower-cased names, acronyms and codes (not a sentence's first word), without a
    possessive ending ('Lavrov's' -> 'lavrov')."""
    found = {_POSSESSIVE.sub("", m.group(0).lower()) for m in NAME.finditer(text)}
    return found - NOT_NAMES - {""}


_CAPITALISED = re.compile(r"\b(?:[A-Z][\w'’-]*[a-z0-9][\w'’-]*|[A-Z]{2,}\w*)")
_GLUE = {
    "who", "whom", "whose", "which", "that", "has", "had", "have", "was", "were", "been",
    "the", "and", "for", "with", "from", "this", "its", "his", "her", "their", "sinc", "since",
    "into", "than", "are", "but", "not", *NUMBER_WORDS,
}  # fmt: skip
# clause boundaries for what a figure is attached to ('1,000' and '2:1' stay whole)
_CLAUSE = re.compile(r"[,;:]\s+|[()]|\s[-–—]\s|(?<=[.!?])\s+")


def figure_contexts(text: str, tokenize: Callable[[str], Iterable[str]]) -> dict[str, set[str]]:
    """Each figure of ``text`` -> the content words (``tokenize``) of the clauses it is in:
    what it is attached to. 'Rybakina, who has played for Kazakhstan since 2018, won
    Wimbledon in 2022' attaches 2018 to 'played ... Kazakhstan', not to 'won Wimbledon'."""
    out: dict[str, set[str]] = {}
    for clause in _CLAUSE.split(text):
        figures = numbers(clause, words=True)
        if figures:
            context = {
                t
                for t in tokenize(clause)
                if len(t) > 2 and t not in _GLUE and not any(c.isdigit() for c in t)
            }
            for f in figures:
                out.setdefault(f, set()).update(context)
    return out


def name_order(text: str) -> list[str]:
    """Capitalised words and acronyms of ``text``, a sentence's first word included, lower-cased,
    in the order they first appear ('Chelsea beat Arsenal' -> chelsea, arsenal)."""
    found = (_POSSESSIVE.sub("", m.group(0).lower()) for m in _CAPITALISED.finditer(text))
    return list(dict.fromkeys(n for n in found if n and n not in NOT_NAMES))


def plain_words(text: str) -> set[str]:
    """Lower-cased words without possessive endings: what a name is looked for among."""
    return {_POSSESSIVE.sub("", w) for w in re.findall(r"[\w'’-]+", text.lower())}


def negated(text: str) -> bool:
    return bool(NEGATION.search(text))


def has_date(text: str, question: str = "") -> bool:
    """A month, or a year that the question does not already name."""
    return bool(MONTHS.search(text)) or bool((numbers(text) & YEARS) - numbers(question))


def words(text: str) -> list[str]:
    """Lower-cased word tokens with number words as digits (for n-gram overlaps)."""
    return [NUMBER_WORDS.get(w, w) for w in _WORD.findall(text.lower().replace("’", "'"))]


# --- sentences and claims ---------------------------------------------------------------------

# clause boundaries that join two claims; ', and' is left alone (it mostly ends a list)
_JOINED = re.compile(r";\s+|,\s+(?:but|while|whereas)\s+")
# clause boundaries after which a leading part may be a whole, shorter claim
HEADS = re.compile(
    r",\s|;\s|\s(?:and|but|while|which|who|after|before|as|with|to|for|in|on|at|by)\s"
)
# clause boundaries inside which every part must be backed by one place of the quote
PARTS = re.compile(r",\s|;\s|\s(?:and|but|while|which|who|to|after|before|because)\s")


def split_sentences(text: str) -> list[str]:
    return [text[s:e].strip() for s, e in sentence_spans(text) if text[s:e].strip()]


_ANY_END = re.compile(r"(?<=[.!?])\s+")


def evidence_units(text: str, max_words: int = 60) -> list[str]:
    """Sentences of an evidence text, none longer than ``max_words``: a text without capitals
    (some data sets are lower-cased) defeats the sentence splitter, so an over-long 'sentence'
    is cut at any full stop, then into pieces of ``max_words`` words."""
    out: list[str] = []
    for sentence in split_sentences(text) or [text]:
        if len(sentence.split()) <= max_words:
            out.append(sentence)
            continue
        for part in _ANY_END.split(sentence):
            ws = part.split()
            out.extend(" ".join(ws[i : i + max_words]) for i in range(0, len(ws), max_words))
    return [u for u in out if u.strip()]


def split_claims(text: str) -> list[str]:
    """Sentences, split again at '; ' or ', but/while/whereas' when both sides are whole
    claims (four words or more)."""
    claims: list[str] = []
    for sentence in split_sentences(text):
        parts = [p.strip(" ,;") for p in _JOINED.split(sentence)]
        if len(parts) > 1 and all(len(p.split()) >= 4 for p in parts):
            claims.extend(parts)
        else:
            claims.append(sentence)
    return claims


# --- a model's sentence -> its claim -----------------------------------------------------------

MARKER = re.compile(r"\s*\[(\d{1,2})\]:?")
# '(PTI, 23 March)': a parenthesis holding an acronym, a month or a year echoes the header
ECHO = re.compile(
    r"\s*\((?=[^()]*(?:\b[A-Z]{2,}\b|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\b"
    r"|\b\d{4}\b))[^()]{0,60}\)"
)
PREAMBLE = re.compile(
    r"^(the answer( to (this|the) question)? is:?|answer:|according to the sources,?)\s*", re.I
)


def strip_title(claim: str, passages: list[Passage]) -> str:
    """Drop a passage title the model echoed as a header ('<title>: China and Russia
    proposed ...'): the title is the source's wording, not the model's claim."""
    lowered = claim.lower()
    for p in passages:
        title = " ".join(p.title.split())
        if len(title.split()) >= 3 and lowered.startswith(title.lower()):
            rest = claim[len(title) :].lstrip()
            if rest[:1] in (":", "-", "–", "—"):
                rest = rest[1:].lstrip()
                if len(rest.split()) >= 4:
                    return rest
    return claim


def parse_claim(sentence: str, passages: list[Passage]) -> tuple[str, list[int]]:
    """(the claim, the source numbers its markers name) of one model sentence."""
    markers = [int(m) for m in MARKER.findall(sentence)]
    claim = PREAMBLE.sub("", MARKER.sub("", sentence).strip()).strip()
    claim = " ".join(ECHO.sub("", claim).split())
    claim = strip_title(claim, passages)
    return claim[:1].upper() + claim[1:], markers
