"""Meta-evaluation of the faithfulness scorer against human labels.

Reported on each set's ``test`` half only. The weights are fitted on the dev halves of QAGS
and CLIFF; balanced accuracy is taken at the threshold chosen on the set's own dev half, and
also at the product's threshold (chosen on QAGS CNN/DM dev). Beside it, in the same run and
on the same items: naive single features with an *optimistic* threshold (the best one on the
test items themselves), and the LLM judge when a server is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from eval.faithfulness import FEATURES, FeatureExtractor, LLMJudge, Weights, fit_weights
from eval.metrics import auroc, balanced_accuracy, best_threshold
from eval.runs import RunWriter
from eval.scorer_data import LabelledClaim

FIT_SETS = ("qags-cnndm", "qags-xsum", "cliff")  # HaluEval's answers differ by artefact


def _features(items: Sequence[LabelledClaim], extractor: FeatureExtractor) -> np.ndarray:
    from tqdm import tqdm

    rows = []
    batch = 32
    bar = tqdm(total=len(items), desc="features", unit="claim", disable=None)
    # items of one document are adjacent, so the evidence cache keeps its sentence vectors
    for lo in range(0, len(items), batch):
        part = items[lo : lo + batch]
        rows.append(extractor.features([c.claim for c in part], [c.evidence for c in part]))
        bar.update(len(part))
    bar.close()
    return np.vstack(rows) if rows else np.zeros((0, len(FEATURES)))


def _metrics(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    return {
        "balanced_accuracy": round(balanced_accuracy(list(scores), list(labels), threshold), 4),
        "auroc": round(auroc(list(scores), list(labels)), 4),
    }


def _optimistic(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    return _metrics(scores, labels, best_threshold(scores, labels))


def evaluate_scorer(
    items: Sequence[LabelledClaim],
    extractor: FeatureExtractor,
    writer: RunWriter,
    fit: bool = False,
    judge: LLMJudge | None = None,
    judge_limit: int = 100,
) -> dict[str, Any]:
    x = _features(items, extractor)
    y = np.array([c.label for c in items])
    sets = np.array([c.set for c in items])
    split = np.array([c.split for c in items])
    if fit:
        dev = (split == "dev") & np.isin(sets, FIT_SETS)
        counts = {s: int(((sets == s) & dev).sum()) for s in FIT_SETS}
        weights = fit_weights(x[dev], y[dev], counts)
        dev_scores = weights.predict(x)
        for name in dict.fromkeys(sets.tolist()):
            d = (sets == name) & (split == "dev")
            if len(set(y[d])) == 2:
                weights.set_thresholds[name] = best_threshold(dev_scores[d], y[d])
        weights.threshold = weights.set_thresholds.get("qags-cnndm", weights.threshold)
        weights.save()
    else:
        weights = Weights.load()
    scores = weights.predict(x)
    summary: dict[str, Any] = {
        "threshold": round(weights.threshold, 4),
        "set_thresholds": {k: round(v, 4) for k, v in weights.set_thresholds.items()},
        "fitted_on_dev_items": weights.trained_on,
        "weights": dict(zip(FEATURES, [round(c, 3) for c in weights.coef], strict=True)),
        "sets": {},
    }
    judge_scores: dict[int, float] = {}
    for name in dict.fromkeys(c.set for c in items):
        test = (sets == name) & (split == "test")
        idx = np.flatnonzero(test)
        if len(set(y[idx])) < 2:
            continue
        col = {f: x[idx, i] for i, f in enumerate(FEATURES)}
        report: dict[str, Any] = {
            "items": len(idx),
            "supported": int(y[idx].sum()),
            # at the threshold chosen on this set's dev half (never on these test items)
            "offline": _metrics(
                scores[idx], y[idx], weights.set_thresholds.get(name, weights.threshold)
            ),
            "offline_at_product_threshold": _metrics(scores[idx], y[idx], weights.threshold),
            "naive_optimistic": {
                "unigram_overlap": _optimistic(col["unigram"], y[idx]),
                "bigram_overlap": _optimistic(col["bigram"], y[idx]),
                "minilm_max_sentence": _optimistic(col["sim_sentence"], y[idx]),
                "mean_bigram_minilm": _optimistic(
                    (col["bigram"] + col["sim_sentence"]) / 2, y[idx]
                ),
            },
        }
        report["beats_every_naive_feature"] = all(
            report["offline"][m] > v[m]
            for v in report["naive_optimistic"].values()
            for m in ("balanced_accuracy", "auroc")
        )
        if judge is not None and judge_limit:
            # a balanced sample of the test items: the first n/2 of each label
            pos = [int(i) for i in idx if y[i] == 1][: judge_limit // 2]
            neg = [int(i) for i in idx if y[i] == 0][: judge_limit // 2]
            picked = sorted(pos + neg)
            js = judge.score([items[i].claim for i in picked], [items[i].evidence for i in picked])
            judge_scores.update(zip(picked, js.tolist(), strict=True))
            report["llm_judge"] = {
                "items": len(picked),
                **_metrics(js, y[picked], judge.threshold),
                "offline_on_same_items": _metrics(
                    scores[picked], y[picked], weights.set_thresholds.get(name, weights.threshold)
                ),
            }
        summary["sets"][name] = report
    for i, c in enumerate(items):
        writer.record(
            {
                "id": c.id,
                "set": c.set,
                "split": c.split,
                "label": c.label,
                "score": round(float(scores[i]), 4),
                "verdict": "supported" if scores[i] >= weights.threshold else "unsupported",
                "judge": judge_scores.get(i),
                "features": dict(zip(FEATURES, np.round(x[i], 4).tolist(), strict=True)),
                "claim": c.claim,
            }
        )
    if judge is not None:
        summary["judge"] = {"model": judge.model, "prompt": judge.prompt_id}
    return summary
