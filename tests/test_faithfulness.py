"""The faithfulness machinery: metric functions on hand-worked examples, claims, verdicts,
ALCE citation recall/precision with a transparent fake scorer, data set loaders, compare."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from eval.compare import compare_runs
from eval.datasets import load_jsonl_dataset
from eval.faithfulness import answer_claims, judge_answer, split_claims, verdict_for
from eval.metrics import auroc, balanced_accuracy, best_threshold
from eval.scorer_data import load_scorer_set
from tests.conftest import SHARED_DATA


def test_balanced_accuracy_and_auroc_by_hand() -> None:
    scores, labels = [0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]
    # at 0.5: supported recall 1/2 (0.8), unsupported recall 2/2 -> 0.75
    assert balanced_accuracy(scores, labels, 0.5) == 0.75
    # pairs (pos, neg): 0.35>0.1, 0.35<0.4, 0.8>0.1, 0.8>0.4 -> 3/4
    assert auroc(scores, labels) == 0.75
    assert auroc([0.5, 0.5], [1, 0]) == 0.5  # a tie counts half
    assert auroc([0.9, 0.1], [1, 0]) == 1.0
    # the best cut separates {0.1} from the rest or {0.8} from the rest (both 0.75)
    t = best_threshold(scores, labels)
    assert balanced_accuracy(scores, labels, t) == 0.75
    with pytest.raises(ValueError):
        auroc([0.1, 0.2], [1, 1])


def test_auroc_matches_sklearn() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200).tolist()
    scores = np.round(rng.random(200) + 0.3 * np.array(labels), 2).tolist()  # with ties
    assert abs(auroc(scores, labels) - roc_auc_score(labels, scores)) < 1e-12


def test_claims_are_sentences_split_at_joined_clauses() -> None:
    text = (
        "Prices rose by 5 percent in May; wages fell by 2 percent in June. The bank said so."
        " It was founded by Ann, Bob, Carl, and Dora Smith in 1901."
    )
    assert split_claims(text) == [
        "Prices rose by 5 percent in May",
        "wages fell by 2 percent in June.",
        "The bank said so.",
        "It was founded by Ann, Bob, Carl, and Dora Smith in 1901.",
    ]
    claims = answer_claims(
        "According to PTI (23 March): China and Russia proposed a platform. [1] "
        "Lavrov criticised sanctions. [2] [3] (Left out: 1 sentence(s) the sources do not support.)"
    )
    assert claims == [
        ("China and Russia proposed a platform.", (1,)),
        ("Lavrov criticised sanctions.", (2, 3)),
    ]


class WordScorer:
    """Supported = every content word of the claim occurs in the evidence (transparent)."""

    name, threshold = "words", 0.5

    def score(self, claims, evidences):
        out = []
        for c, e in zip(claims, evidences, strict=True):
            words = {w.strip(".,").lower() for w in c.split() if len(w) > 3}
            have = {w.strip(".,").lower() for w in e.split()}
            out.append(1.0 if words <= have else 0.0)
        return np.array(out)


def test_alce_citation_recall_and_precision() -> None:
    cited = {
        1: "China and Russia proposed a regional platform at Guilin.",
        2: "The weather in Guilin was mild.",
        3: "Lavrov criticised Western sanctions.",
        4: "Wang said sanctions were unjustified.",
    }
    answer = (
        "China and Russia proposed a regional platform. [1] [2] "
        "Lavrov criticised sanctions. [3] "
        "Wang welcomed sanctions. [4]"
    )
    verdicts, faithful = judge_answer(answer, cited, WordScorer())
    assert [v.verdict for v in verdicts] == ["supported", "supported", "unsupported"]
    assert faithful == pytest.approx(2 / 3)
    # claim 1: jointly supported (recall 1); [1] supports it, [2] neither supports nor is
    # needed -> precision 1/2
    assert verdicts[0].citation_recall == 1.0 and verdicts[0].citation_precision == 0.5
    assert verdicts[1].citation_recall == 1.0 and verdicts[1].citation_precision == 1.0
    # claim 3: not supported, so (as in ALCE) none of its citations counts -> precision 0.0
    assert verdicts[2].citation_recall == 0.0 and verdicts[2].citation_precision == 0.0


def test_contradiction_needs_conflicting_evidence() -> None:
    assert (
        verdict_for("Prices rose 7 percent.", "Prices rose 5 percent.", 0.1, 0.5) == "contradicted"
    )
    assert verdict_for("Talks did not fail.", "The talks failed.", 0.1, 0.5) == "contradicted"
    assert verdict_for("Paris hosts it.", "Guilin hosted the talks.", 0.1, 0.5) == "unsupported"
    assert verdict_for("Guilin hosted.", "Guilin hosted the talks.", 0.9, 0.5) == "supported"


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared data not found")
def test_scorer_sets_load_with_their_labels() -> None:
    counts = {}
    for name in ("qags-cnndm", "qags-xsum", "cliff", "halueval"):
        items = load_scorer_set(name, SHARED_DATA)
        counts[name] = (len(items), sum(c.label for c in items))
        assert {c.split for c in items} == {"dev", "test"}
    # the data README: CNN/DM 714 sentences (531 yes), XSum 239 (116 yes), CLIFF 600 (374
    # correct), HaluEval 500 questions x (right, hallucinated)
    assert counts == {
        "qags-cnndm": (714, 531),
        "qags-xsum": (239, 116),
        "cliff": (600, 374),
        "halueval": (1000, 500),
    }


def test_own_jsonl_format(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(x)
            for x in [
                {
                    "type": "document",
                    "id": "d1",
                    "title": "Port",
                    "text": "The port opened in 1901.",
                    "published": "2020-01-02",
                    "source": "Gazette",
                },
                {
                    "type": "question",
                    "id": "q1",
                    "question": "When did the port open?",
                    "answers": ["1901"],
                    "gold": ["d1"],
                    "date": "2020-02-01",
                },
                {"type": "question", "id": "q2", "question": "Who owns the port?", "answers": []},
            ]
        )
    )
    ds = load_jsonl_dataset(path)
    assert len(ds.articles) == 1 and ds.articles[0].source == "Gazette"
    assert (
        ds.items[0].gold_ids == frozenset({ds.articles[0].id}) and ds.items[0].date == "2020-02-01"
    )
    assert ds.items[1].gold_ids == frozenset()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "question", "question": "x", "gold": ["nope"]}\n')
    with pytest.raises(ValueError, match="gold ids without a document"):
        load_jsonl_dataset(bad)
    bad.write_text('{"type": "document"}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:1"):
        load_jsonl_dataset(bad)


def test_compare_reports_deltas_and_changed_items(tmp_path: Path) -> None:
    for name, acc, rows in (
        ("a", 0.5, [{"id": "1", "accuracy": 1.0}, {"id": "2", "accuracy": 0.0}]),
        ("b", 1.0, [{"id": "1", "accuracy": 1.0}, {"id": "2", "accuracy": 1.0}]),
    ):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "summary.json").write_text(json.dumps({"accuracy": acc, "commit": name}))
        (folder / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = compare_runs(tmp_path / "a", tmp_path / "b")
    assert result["summary"]["deltas"]["accuracy"]["delta"] == 0.5
    assert [c["id"] for c in result["summary"]["changed"]] == ["2"]
    assert "1 item verdict(s) changed" in result["text"]


def test_the_combiner_shrinks_where_noise_features_would_overfit_and_stays_calibrated() -> None:
    """21 features of which 2 carry the label, 150 claims in 50 documents: cross-validation
    by document picks strong shrinkage, and the Platt-rescaled probabilities spread out again
    (plain strong shrinkage squeezes them to about 0.5)."""
    from eval.scorer_eval import choose_regularisation, fit_combiner
    from qa.evidence import FEATURES

    rng = np.random.default_rng(7)
    n = 150
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, len(FEATURES)))
    x[:, 0] += 1.2 * y  # the model's logit and one overlap carry the label
    x[:, 4] += 0.8 * y
    windows = [[row[None, :]] for row in x]  # one sentence, one window per claim
    groups = np.array([f"doc{i // 3}" for i in range(n)])
    sets = np.array(["a" if i % 2 else "b" for i in range(n)])
    c, cv = choose_regularisation(windows, y, sets, groups, grid=(0.001, 0.01, 1000.0))
    assert c < 1000.0 and cv[c] > cv[1000.0], cv
    combiner = fit_combiner(x, y, c)
    p = combiner.predict(x)
    assert p[y == 1].mean() - p[y == 0].mean() > 0.2  # not squeezed to 0.5
    assert combiner.coef[0] > 0 and combiner.coef[4] > 0
