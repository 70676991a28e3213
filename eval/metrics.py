"""Ranking metrics with trec_eval semantics, and answer metrics with SQuAD normalisation.

Each ranking function takes the ranked ids returned and the set of relevant ids (binary
relevance). Duplicated ids in a ranking count once, at their first position.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Collection, Sequence
from typing import Any


def _dedup(ranked: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for r in ranked:
        if r not in seen:
            seen.add(r)
            out.append(r)
    return out


def hit_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """1.0 if any relevant id is in the top k."""
    return float(any(r in relevant for r in _dedup(ranked)[:k]))


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Share of the relevant ids found in the top k (0 when nothing is relevant)."""
    if not relevant:
        return 0.0
    return sum(1 for r in _dedup(ranked)[:k] if r in relevant) / len(relevant)


def mrr_at_k(ranked: Sequence[str], relevant: Collection[str], k: int = 10) -> float:
    """Reciprocal rank of the first relevant id within the top k, else 0."""
    for i, r in enumerate(_dedup(ranked)[:k], 1):
        if r in relevant:
            return 1.0 / i
    return 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int = 10) -> float:
    """Binary-gain nDCG@k as trec_eval's ndcg_cut: the ideal ranking puts all relevant ids
    first, truncated at k (not at the number retrieved)."""
    dcg = sum(1.0 / math.log2(i + 1) for i, r in enumerate(_dedup(ranked)[:k], 1) if r in relevant)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(relevant), k) + 1))
    return dcg / ideal if ideal else 0.0


_ASCII_PUNCT = frozenset(string.punctuation)


def _punct(ch: str) -> bool:
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


_POSSESSIVE = re.compile(r"(?<=\w)['’]s\b")


def normalize_answer(s: str) -> str:
    """SQuAD: lower case, drop possessive endings, punctuation (ASCII and Unicode: curly
    quotes, dashes) and articles, collapse whitespace. Without the first, 'Nepal's national
    parks' became 'nepals' and did not name Nepal."""
    s = _POSSESSIVE.sub("", s.lower())
    s = "".join(ch for ch in s if not _punct(ch))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    p = normalize_answer(prediction)
    return float(any(p == normalize_answer(g) for g in golds))


def token_f1(prediction: str, golds: Sequence[str]) -> float:
    """Best SQuAD token F1 over the gold answers."""
    best = 0.0
    p = normalize_answer(prediction).split()
    for g in golds:
        gt = normalize_answer(g).split()
        common = Counter(p) & Counter(gt)
        same = sum(common.values())
        if not p or not gt:
            best = max(best, float(p == gt))
            continue
        if same == 0:
            continue
        prec, rec = same / len(p), same / len(gt)
        best = max(best, 2 * prec * rec / (prec + rec))
    return best


def contains_answer(prediction: str, golds: Sequence[str]) -> float:
    """1.0 if any normalised gold string occurs in the normalised prediction, with
    punctuation deleted (SQuAD: 'U.S.' is 'us') or read as a space (a headline glued to its
    link text, "Not 'enough in the tank':New Zealand prime minister", names New Zealand)."""
    for norm in (normalize_answer, _spaced):
        p = f" {norm(prediction)} "
        if any(f" {norm(g)} " in p for g in golds if norm(g)):
            return 1.0
    return 0.0


def _spaced(s: str) -> str:
    """``normalize_answer`` with punctuation as a word break instead of deleted."""
    s = _POSSESSIVE.sub("", s.lower())
    s = "".join(" " if _punct(ch) else ch for ch in s)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


# --- scorer meta-evaluation (binary labels: 1 = supported) -----------------------------------


def balanced_accuracy(scores: Sequence[float], labels: Sequence[int], threshold: float) -> float:
    """Mean of the recall on supported (score >= threshold) and unsupported items."""
    pos = [s >= threshold for s, y in zip(scores, labels, strict=True) if y == 1]
    neg = [s < threshold for s, y in zip(scores, labels, strict=True) if y == 0]
    if not pos or not neg:
        raise ValueError("balanced accuracy needs both classes")
    return (sum(pos) / len(pos) + sum(neg) / len(neg)) / 2


def auroc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Area under the ROC curve: the chance that a supported item scores above an unsupported
    one (ties count half), by average ranks (Mann-Whitney U)."""
    n = len(scores)
    order = sorted(range(n), key=lambda i: scores[i])
    ranks = [0.0] * n
    i = 0
    while i < n:
        j = i
        while j + 1 < n and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    n_pos = sum(1 for y in labels if y == 1)
    n_neg = n - n_pos
    if not n_pos or not n_neg:
        raise ValueError("AUROC needs both classes")
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y == 1)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def best_threshold(scores: Sequence[float] | Any, labels: Sequence[int] | Any) -> float:
    """The threshold with the best balanced accuracy on these items (a cut between two
    distinct scores). Only ever used on dev items, or reported as 'optimistic'."""
    import numpy as np

    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    order = np.argsort(s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    if not pos or not neg:
        raise ValueError("a threshold needs both classes")
    pos_below = np.concatenate([[0], np.cumsum(y_sorted)])
    neg_below = np.concatenate([[0], np.cumsum(1 - y_sorted)])
    bacc = ((pos - pos_below) / pos + neg_below / neg) / 2
    cut_ok = np.ones(len(s) + 1, dtype=bool)
    cut_ok[1:-1] = s_sorted[1:] > s_sorted[:-1]  # only cut between distinct scores
    i = int(np.argmax(np.where(cut_ok, bacc, -1.0)))
    if i == 0:
        return float(s_sorted[0]) - 1e-9
    if i == len(s):
        return float(s_sorted[-1]) + 1e-9
    return float((s_sorted[i - 1] + s_sorted[i]) / 2)
