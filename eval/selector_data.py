"""Sentence-level answer pairs for the answer-sentence selector (``qa train selector``).

The question is whether *this sentence* names what the question asks, not whether its
paragraph does: the product chooses answer sentences among on-topic ones, and the hard case is
a sentence that restates the question's topic without the answer. From the shared training
data (``../shared/data/training/answer``; never copied into the repository):

- SQuAD, answerable: the sentence holding the gold answer (1), and the two other sentences of
  the same paragraph that share the most words with the question (0: on topic, no answer);
- SQuAD 2.0, unanswerable: the sentence of the paragraph sharing most words with the
  question (0: written to look answerable);
- TrecQA: its candidate sentences as labelled (newswire).

Splits are the data's own (SQuAD by article, TrecQA by file); no evaluation set is read.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

from eval.verifier_data import Pair, _read, _sentences, _words, trecqa_pairs

HARD_NEGATIVES = 2


def overlap(question: str, sentence: str) -> float:
    q = _words(question)
    return len(q & _words(sentence)) / max(1, len(q))


def squad_pairs(path: Path, rng: random.Random) -> Iterator[Pair]:
    """Sentence pairs from ``squad.jsonl`` (see the module doc)."""
    for r in _read(path):
        q, passage, split = str(r["question"]), str(r["passage"]), str(r["split"])
        answers = [str(a) for a in r.get("answers") or [] if str(a).strip()]  # type: ignore[attr-defined]
        sents = [s for s in _sentences(passage) if len(s.split()) >= 3]
        if not sents:
            continue
        holding = [s for s in sents if any(a in s for a in answers)]
        others = [s for s in sents if not any(a in s for a in answers)]
        others.sort(key=lambda s: (-overlap(q, s), rng.random()))
        if r["label"] == "answers":
            if not holding:  # the answer spans two sentences: no clean sentence label
                continue
            yield Pair("answer", q, holding[0], 1, "squad-sentence", split)
            for s in others[:HARD_NEGATIVES]:
                yield Pair("answer", q, s, 0, "squad-sentence", split)
        elif others:
            yield Pair("answer", q, others[0], 0, "squad-unanswerable", split)


def build(training: Path, seed: int) -> tuple[list[Pair], list[Pair]]:
    """(train, held out): held out = SQuAD's test articles and TrecQA's dev and test files."""
    rng = random.Random(f"{seed}:selector")
    pairs = list(squad_pairs(training / "answer" / "squad.jsonl", rng))
    pairs += trecqa_pairs(training / "answer" / "trecqa.jsonl")
    train = [p for p in pairs if p.split == "train"]
    held = [p for p in pairs if p.split != "train"]
    random.Random(f"{seed}:order").shuffle(train)
    return train, held


def counts(pairs: Sequence[Pair]) -> dict[str, int]:
    return dict(sorted(Counter(f"{p.source}:{p.label}" for p in pairs).items()))
