"""Training and held-out pairs for the verifier (read from ``../shared/data/training`` and
``bbc-news``; never copied into the repository).

Two tasks: ``support`` (does the evidence support the claim) and ``answer`` (does the passage
answer the question). Splits follow the data's README: SNLI, SummEdits, SQuAD and TrecQA by their
own ``split``; MNLI and FEVER by a hash of the premise (their ``split_src`` shares premises).
Passages are cut to the sentences around what matters (the model reads at most ``MAX_TOKENS``).
Synthetic hard negatives come from real BBC sentences: swapped names, numbers and dates, a
figure moved to another subject of the same window, negations, and sentences of the same article
that the window does not hold. No item of QAGS, CLIFF, HaluEval, RGB or RealtimeQA is read here.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from index.chunking import sentence_spans

Task = Literal["support", "answer"]


@dataclass(frozen=True)
class Pair:
    """One example: ``a`` is the claim (support) or question (answer), ``b`` the evidence."""

    task: Task
    a: str
    b: str
    label: int
    source: str
    split: str  # train | test


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower())) - _STOP


_STOP = set(
    [
        "the",
        "a",
        "an",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "and",
        "or",
        "but",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "with",
        "as",
        "by",
        "from",
        "which",
        "who",
        "what",
        "when",
        "where",
        "how",
        "why",
        "did",
        "do",
        "does",
        "has",
        "have",
        "had",
        "not",
        "no",
    ]
)


def premise_split(text: str, test_share: int = 10) -> str:
    """'test' for about 1 in ``test_share`` premises (stable hash), else 'train'."""
    h = int(hashlib.sha1(text.encode()).hexdigest()[:8], 16)
    return "test" if h % test_share == 0 else "train"


def _read(path: Path) -> Iterator[dict[str, object]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def best_window(text: str, query: str, width: int = 3, max_chars: int = 700) -> str:
    """The run of ``width`` sentences sharing most words with ``query`` (at most
    ``max_chars``): what the model reads of a long document."""
    sents = _sentences(text) or [text]
    q = _words(query)
    best, best_score = sents[0], -1.0
    for i in range(len(sents)):
        window = " ".join(sents[i : i + width])
        score = len(q & _words(window))
        if score > best_score:
            best, best_score = window, score
    return best[:max_chars]


def load_support(root: Path) -> list[Pair]:
    out: list[Pair] = []
    for name in ("mnli", "fever", "snli"):
        for r in _read(root / "support" / f"{name}.jsonl"):
            ev, claim = str(r["evidence"]), str(r["claim"])
            if name == "snli":
                split = "train" if r["split_src"] == "dev" else "test"
            else:
                split = premise_split(ev)
            out.append(Pair("support", claim, ev, int(r["label"] == "supported"), name, split))
    for r in _read(root / "support" / "summedits.jsonl"):
        ev, claim = str(r["evidence"]), str(r["claim"])
        label = int(r["label"] == "supported")
        split = str(r["split"])
        # training reads the window that best matches the summary; the held-out check scores
        # the whole document (max over windows), as the product does, and the training
        # documents scored whole ('dev') choose its threshold
        if split == "train":
            out.append(Pair("support", claim, best_window(ev, claim, 4), label, "summedits", split))
            split = "dev"
        out.append(Pair("support", claim, ev, label, "summedits", split))
    return out


def _answer_window(passage: str, question: str, answers: Sequence[str]) -> str:
    """The sentence holding the first gold answer with its neighbours, or for a question
    without an answer the best-matching sentences (an on-topic hard negative)."""
    sents = _sentences(passage) or [passage]
    for i, s in enumerate(sents):
        if any(a and a in s for a in answers):
            lo = max(0, i - 1)
            return " ".join(sents[lo : i + 2])
    return best_window(passage, question, width=3)


def load_answer(root: Path, rng: random.Random) -> list[Pair]:
    out: list[Pair] = []
    rows = list(_read(root / "answer" / "squad.jsonl"))
    by_article: dict[str, list[dict[str, object]]] = {}
    for r in rows:
        by_article.setdefault(str(r["article"]), []).append(r)
    for r in rows:
        q, passage = str(r["question"]), str(r["passage"])
        answers = [str(a) for a in r.get("answers") or []]  # type: ignore[attr-defined]
        label = int(r["label"] == "answers")
        split = str(r["split"])
        # training reads the sentences around the answer; held-out questions read the whole
        # paragraph (scored as the product does: the best window)
        b = _answer_window(passage, q, answers) if split == "train" else passage
        out.append(Pair("answer", q, b, label, "squad", split))
        # another paragraph of the same article that does not hold the answer
        if label and rng.random() < 0.35:
            others = [
                o
                for o in by_article[str(r["article"])]
                if o["para_id"] != r["para_id"] and not any(a in str(o["passage"]) for a in answers)
            ]
            if others:
                other = str(rng.choice(others)["passage"])
                b = best_window(other, q, width=3) if split == "train" else other
                out.append(Pair("answer", q, b, 0, "squad-other", split))
    out.extend(trecqa_pairs(root / "answer" / "trecqa.jsonl"))
    return out


def trecqa_pairs(path: Path) -> Iterator[Pair]:
    """TrecQA's (question, candidate sentence) pairs as labelled, in its own splits."""
    for r in _read(path):
        split = "train" if r["split"] == "train" else "test" if r["split"] == "test" else "dev"
        yield Pair(
            "answer",
            str(r["question"]),
            str(r["passage"]),
            int(r["label"] == "answers"),
            "trecqa",
            split,
        )


# --- synthetic hard negatives from BBC sentences ---------------------------------------------

_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-z'’-]+(?:\s+[A-Z][a-z'’-]+)*")
_NUMBER = re.compile(r"(?<![\w.])\d[\d,.]*\d%?|(?<![\w.])\d%?(?![\w])")
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_AUX = re.compile(r"\b(is|are|was|were|has|have|had|will|would|can|could|should|must)\b")
_NEG = re.compile(r"\s(not|never)\b|n't\b")
_NOT_NAMES = set(_MONTHS) | set(_DAYS) | {"The", "A", "An", "He", "She", "They", "It", "Mr", "Mrs"}
# clause boundaries after which the head is still a whole claim ('X won, beating Y' -> 'X won');
# never ' and ' (it mostly joins a list or a range: 'between 4.7% and 5%')
_PAIRS = [
    ("rose", "fell"), ("increased", "decreased"), ("higher", "lower"), ("won", "lost"),
    ("gained", "lost"), ("up", "down"), ("more", "fewer"), ("before", "after"),
    ("increase", "decrease"), ("rise", "fall"), ("best", "worst"), ("approved", "rejected"),
    ("accepted", "rejected"), ("early", "late"), ("largest", "smallest"), ("cut", "raised"),
]  # fmt: skip
_ANTONYMS = {a: b for a, b in _PAIRS} | {b: a for a, b in _PAIRS}
_CUT = re.compile(
    r";\s|,\s(?=(?:but|while|after|before|because|although|as|with|despite)\s)|\sbut\s"
)


def _names(text: str) -> list[str]:
    return [m.group(0) for m in _NAME.finditer(text) if m.group(0) not in _NOT_NAMES]


def _sub_once(text: str, old: str, new: str) -> str:
    i = text.find(old)
    return text if i < 0 else text[:i] + new + text[i + len(old) :]


def _other_number(num: str, rng: random.Random) -> str:
    digits = re.sub(r"\D", "", num)
    if not digits:
        return num
    value = int(digits)
    if len(digits) == 4 and 1900 <= value <= 2100 and "," not in num:  # a year: a nearby one
        return str(value + rng.choice([-3, -2, -1, 1, 2, 3]))
    while True:
        factor = rng.choice([0.5, 0.8, 1.2, 1.5, 2.0, 3.0])
        cand = max(1, round(value * factor + rng.choice([-1, 0, 1])))
        if cand != value:
            break
    out = f"{cand:,}" if "," in num else str(cand)
    return out + ("%" if num.endswith("%") else "")


def bbc_articles(folder: Path) -> list[tuple[str, list[str]]]:
    """(title, body sentences) of every BBC article, in a stable order."""
    out = []
    for path in sorted(folder.rglob("*.txt")):
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        title, _, body = text.strip().partition("\n")
        sents = [s for s in _sentences(body.strip()) if 6 <= len(s.split()) <= 45]
        if len(sents) >= 5:
            out.append((title.strip(), sents))
    return out


def synthetic_pairs(folder: Path, n: int, rng: random.Random) -> list[Pair]:
    """``n`` support pairs from BBC sentences, 45 % supported: the label is drawn first and
    sentences are tried until one yields a claim of that label (positive kinds apply to fewer
    sentences)."""
    arts = bbc_articles(folder)
    out: list[Pair] = []
    while len(out) < n:
        want = int(rng.random() < 0.45)
        for _ in range(200):
            title, sents = rng.choice(arts)
            i = rng.randrange(1, len(sents) - 1)
            lo = max(0, i - rng.choice([1, 1, 2]))
            window_sents = sents[lo : i + rng.choice([1, 2, 2, 3])]
            window = " ".join(window_sents)
            made = _make_claim(sents[i], window, sents, lo, lo + len(window_sents), want, rng)
            if made is not None:
                claim, label, kind = made
                split = "test" if premise_split(title, 20) == "test" else "train"
                out.append(Pair("support", claim, window, label, f"bbc-{kind}", split))
                break
    return out


def _head(s: str, rng: random.Random) -> str | None:
    cuts = [
        m.start()
        for m in _CUT.finditer(s)
        if len(s[: m.start()].split()) >= 6 and s[: m.start()].count('"') % 2 == 0
    ]
    if not cuts:
        return None
    return s[: rng.choice(cuts)].rstrip(" ,;") + "."


def _make_claim(
    s: str, window: str, sents: list[str], lo: int, hi: int, want: int, rng: random.Random
) -> tuple[str, int, str] | None:
    # the label first (about 45 % supported), then a kind of that label: positive kinds
    # apply to fewer sentences, and a plain draw by kind would leave few positives
    if want:
        kind = rng.choices(["copy", "head", "drop_said", "drop_aside"], [1, 8, 4, 6])[0]
    else:
        kind = rng.choices(
            ["entity", "number", "moved", "swap", "negation", "antonym", "outside"],
            weights=[16, 12, 10, 6, 10, 8, 10],
        )[0]
    if kind == "copy":
        return s, 1, kind
    if kind == "drop_aside":
        # an aside dropped: '(£600m)', ', who is 28,' -- the rest is still what the text says
        m = re.search(r"\s\([^()]{2,60}\)|,\s(?:who|which|whose)\s[^,]{3,80},", s)
        if not m:
            return None
        shorter = s[: m.start()] + s[m.end() :]
        return (re.sub(r"\s{2,}", " ", shorter), 1, kind) if shorter != s else None
    if kind == "antonym":
        words = [w for w in _ANTONYMS if re.search(rf"\b{w}\b", s)]
        if not words:
            return None
        w = rng.choice(words)
        return re.sub(rf"\b{w}\b", _ANTONYMS[w], s, count=1), 0, kind
    if kind == "head":
        h = _head(s, rng)
        return (h, 1, kind) if h else None
    if kind == "drop_said":
        m = re.match(r"^(.{3,80}?)\s(?:said|says|told [A-Z]\w+|added)\s(?:that\s)?(.{20,})$", s)
        if m and m.group(2)[:1] not in "\"“'‘" and m.group(2).count('"') % 2 == 0:
            rest = m.group(2)
            return rest[:1].upper() + rest[1:], 1, kind
        m = re.match(r"^(.{20,}?),?\s(?:he|she|they|it|[A-Z][a-z]+) (?:said|added)\.?$", s)
        return (m.group(1).rstrip(",") + ".", 1, kind) if m else None
    if kind == "entity":
        names = [n for n in _names(s)]
        pool = [n for j, t in enumerate(sents) if not lo <= j < hi for n in _names(t)]
        pool = [p for p in pool if p not in window]
        if not names or not pool:
            return None
        return _sub_once(s, rng.choice(names), rng.choice(pool)), 0, kind
    if kind in ("number", "moved"):
        nums = _NUMBER.findall(s)
        if not nums:
            return None
        old = rng.choice(nums)
        if kind == "moved":
            # a figure of the same window attached to the wrong fact ('won in 2018' from
            # '... since 2018 ...')
            others = [x for x in _NUMBER.findall(window) if x != old and x not in s]
            if not others:
                return None
            new = rng.choice(others)
        else:
            new = _other_number(old, rng)
            if new in window:
                return None
        return _sub_once(s, old, new), 0, kind
    if kind == "swap":
        names = list(dict.fromkeys(_names(s)))
        if len(names) < 2:
            months = [m for m in _MONTHS + _DAYS if re.search(rf"\b{m}\b", s)]
            if not months:
                return None
            old = months[0]
            group = _MONTHS if old in _MONTHS else _DAYS
            new = rng.choice([m for m in group if m != old])
            return (_sub_once(s, old, new), 0, "date") if new not in window else None
        a, b = rng.sample(names, 2)
        swapped = s.replace(a, "\x00").replace(b, a).replace("\x00", b)
        return (swapped, 0, kind) if swapped != s else None
    if kind == "negation":
        if _NEG.search(s):
            flipped = _NEG.sub("", s, count=1)
            flipped = re.sub(r"\s{2,}", " ", flipped)
            return (flipped, 0, kind) if flipped != s else None
        m = _AUX.search(s)
        if not m:
            return None
        return s[: m.end()] + " not" + s[m.end() :], 0, kind
    # outside: another sentence of the same article, not in the window (on topic, unsupported)
    outside = [t for j, t in enumerate(sents) if not lo <= j < hi and t not in window]
    if not outside:
        return None
    t = rng.choice(outside)
    if len(_words(t) - _words(window)) < 3:
        return None
    return t, 0, kind


def build_pairs(
    training: Path, bbc: Path, per_source: dict[str, int], seed: int, held_out_cap: int = 600
) -> tuple[list[Pair], list[Pair]]:
    """(train, held out): train sampled per source (``per_source``; missing = all); held out
    = every 'test' pair plus the 'dev' pairs that choose thresholds.

    Each draw has a random stream of its own, seeded from ``seed`` and its name: a change to
    one generator (the BBC negatives, say) leaves every other source's pairs, and the held-out
    pairs measured, as they were."""

    def stream(name: str) -> random.Random:
        return random.Random(f"{seed}:{name}")

    pairs = load_support(training) + load_answer(training, stream("squad-other"))
    pairs += synthetic_pairs(bbc, per_source.get("bbc", 12000) * 11 // 10, stream("bbc"))
    train: list[Pair] = []
    held: dict[tuple[str, str], list[Pair]] = {}
    for p in pairs:
        if p.split in ("test", "dev"):
            key = "bbc" if p.source.startswith("bbc-") else p.source
            held.setdefault((key, p.split), []).append(p)
    test: list[Pair] = []
    for (key, split), items in sorted(held.items()):
        stream(f"held-out:{key}:{split}").shuffle(items)
        test.extend(items[:held_out_cap])
    by_source: dict[str, list[Pair]] = {}
    for p in pairs:
        if p.split == "train":
            key = "bbc" if p.source.startswith("bbc-") else p.source
            by_source.setdefault(key, []).append(p)
    for key, items in sorted(by_source.items()):
        stream(f"train:{key}").shuffle(items)
        train.extend(items[: per_source.get(key, len(items))])
    stream("order").shuffle(train)
    return train, test
