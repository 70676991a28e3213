"""The regression gate (inside ``make test``, about a minute): 30 RGB questions answered in
extractive mode and 100 held-out QAGS CNN/DM claims scored by the verifier the product ships. The build fails when
accuracy, faithfulness or the scorer's balanced accuracy drop below ``eval/gate.json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, SHARED_DATA

pytestmark = [pytest.mark.slow]
GATE = json.loads((ROOT / "eval" / "gate.json").read_text())


@pytest.fixture(scope="module")
def comps(onnx_embedder, tmp_path_factory):
    from qa.settings import Settings
    from qa.wiring import Components

    if not SHARED_DATA.is_dir():
        pytest.fail(f"the gate needs the shared data at {SHARED_DATA}")
    s = Settings(data_dir=tmp_path_factory.mktemp("gate"), generator={"kind": "extractive"})
    return Components(s, embedder=onnx_embedder)  # the product's default


def test_rgb_extractive_accuracy_and_faithfulness(comps, tmp_path: Path) -> None:
    from eval.answers import evaluate_answers
    from eval.datasets import load_rgb
    from eval.faithfulness import VerifierScorer
    from eval.runs import RunWriter

    ds = load_rgb(SHARED_DATA / "rgb" / "data" / "en_fact.json")
    writer = RunWriter(tmp_path, "gate", "rgb")
    summary = evaluate_answers(
        ds,
        comps,
        writer,
        mode="extractive",
        limit=GATE["rgb_questions"],
        abstention=False,
        scorer=VerifierScorer(comps.verifier),
    )
    print("gate:", json.dumps({k: summary[k] for k in ("accuracy", "faithfulness")}))
    assert summary["questions"] == GATE["rgb_questions"]
    assert summary["accuracy"] >= GATE["rgb_extractive_accuracy"], summary
    faith = summary["faithfulness"]
    assert faith["faithfulness"] >= GATE["rgb_extractive_faithfulness"], faith
    assert faith["citation_recall"] >= GATE["rgb_extractive_citation_recall"], faith
    # the records say what was shown: in extractive mode, verbatim quotes, each cited
    rows = [json.loads(x) for x in (writer.folder / "records.jsonl").read_text().splitlines()]
    shown = [x for r in rows for x in r["sentences"]]
    assert shown and all(x["kind"] == "quote" and x["citations"] for x in shown)


def test_scorer_balanced_accuracy_on_held_out_claims(comps) -> None:
    import numpy as np

    from eval.faithfulness import VerifierScorer
    from eval.metrics import auroc, balanced_accuracy
    from eval.scorer_data import load_scorer_set

    items = [c for c in load_scorer_set("qags-cnndm", SHARED_DATA) if c.split == "test"]
    items = items[: GATE["scorer_items"]]
    scorer = VerifierScorer(comps.verifier)
    assert scorer.name.startswith("model:"), scorer.name  # the shipped model, not the rule
    scores = scorer.score([c.claim for c in items], [c.evidence for c in items])
    labels = [c.label for c in items]
    bacc = balanced_accuracy(list(scores), labels, scorer.threshold)
    area = auroc(list(np.asarray(scores)), labels)
    print(f"gate: scorer BAcc {bacc:.3f} AUROC {area:.3f} on {len(items)} claims")
    assert bacc >= GATE["scorer_balanced_accuracy"] and area >= GATE["scorer_auroc"]
