"""Claims: what a sentence of a model's answer asserts, once its decoration is removed.

A model writes '[1]' markers, preambles ('The answer is:'), the header it saw ('<title> (PTI,
23 March):'). ``parse_claim`` strips them and returns the claim with the markers it carried.
"""

from __future__ import annotations

import re

from index.model import Passage

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
