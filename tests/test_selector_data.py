"""The selector's training pairs: the answer sentence against on-topic sentences without it,
and the ranking figures its model card reports."""

from __future__ import annotations

import json
import random
from pathlib import Path

from eval.selector_data import squad_pairs
from eval.train_selector import ranking
from eval.verifier_data import Pair

PARAGRAPH = (
    "The Rhine flows through six countries. It rises in the Swiss Alps near the Oberalp Pass. "
    "The Rhine flows north and reaches the North Sea in the Netherlands. "
    "Shipping on the Rhine carries coal and grain."
)


def _squad(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "squad.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_answer_sentence_is_the_positive_and_on_topic_sentences_the_negatives(
    tmp_path: Path,
) -> None:
    rows = [
        {
            "question": "Where does the Rhine rise?",
            "passage": PARAGRAPH,
            "label": "answers",
            "answers": ["Swiss Alps"],
            "split": "train",
        },
        {
            "question": "Where does the Danube reach the sea?",
            "passage": PARAGRAPH,
            "label": "no_answer",
            "answers": [],
            "split": "test",
        },
    ]
    pairs = list(squad_pairs(_squad(tmp_path, rows), random.Random(0)))
    positives = [p.b for p in pairs if p.label == 1]
    assert positives == ["It rises in the Swiss Alps near the Oberalp Pass."]
    negatives = [p for p in pairs if p.label == 0 and p.source == "squad-sentence"]
    assert len(negatives) == 2 and all("Swiss Alps" not in p.b for p in negatives)
    # the negatives are the sentences that share most words with the question
    assert all("Rhine" in p.b for p in negatives)
    (unanswerable,) = [p for p in pairs if p.source == "squad-unanswerable"]
    assert unanswerable.label == 0 and unanswerable.split == "test"
    assert "North Sea" in unanswerable.b  # "reach ... sea": the best-matching sentence


def test_an_answer_split_over_two_sentences_gives_no_pair(tmp_path: Path) -> None:
    rows = [
        {
            "question": "What does shipping carry?",
            "passage": PARAGRAPH,
            "label": "answers",
            "answers": ["Netherlands. Shipping"],
            "split": "train",
        }
    ]
    assert list(squad_pairs(_squad(tmp_path, rows), random.Random(0))) == []


def test_ranking_counts_the_first_answering_sentence_per_question() -> None:
    def pair(q: str, label: int) -> Pair:
        return Pair("answer", q, f"s{label}", label, "x", "test")

    items = [
        pair("q1", 0),
        pair("q1", 1),
        pair("q2", 1),
        pair("q2", 0),
        pair("q3", 0),
        pair("q3", 0),
    ]
    scores = [0.9, 0.2, 0.8, 0.1, 0.5, 0.4]  # q1: answer second; q2: first; q3: no answer
    assert ranking(scores, items) == {"questions": 2, "p_at_1": 0.5, "mrr": 0.75}
