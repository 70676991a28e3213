"""The full-article eval's loader: a week's search results become one deduplicated archive,
each question keeps its own results, its gold choice and its date (no model is loaded)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from eval.articles import load_realtimeqa_articles, needs_choices

BODY = "The Buffalo Bills safety Damar Hamlin collapsed on the field during Monday's game. " * 3


def _write(root: Path, week: str, questions: list[dict], results: list[dict]) -> None:
    folder = root / "realtimeqa" / "past" / "2023"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{week}_qa.jsonl").write_text("\n".join(json.dumps(q) for q in questions))
    (folder / f"{week}_gcs.jsonl").write_text("\n".join(json.dumps(r) for r in results))


def test_a_week_becomes_one_archive_and_each_question_keeps_its_results(tmp_path) -> None:
    shared = {
        "url": "https://news.example/hamlin",
        "title": "Hamlin collapses",
        "text": BODY,
        "publish_date": "2023/01/03",
    }
    other = {**shared, "url": "https://wire.example/bills", "text": BODY + "The Bills won."}
    stub = {**shared, "url": "https://news.example/stub", "text": "Too short to keep."}
    questions = [
        {
            "question_id": "20230106_0",
            "question_date": "2023/01/05",
            "question_sentence": "Damar Hamlin plays for which team?",
            "choices": ["Pittsburgh Steelers", "Buffalo Bills"],
            "answer": ["1"],
        },
        {
            "question_id": "20230106_1",
            "question_date": "2023/01/05",
            "question_sentence": "Where did Hamlin collapse?",
            "choices": ["On the field", "At home"],
            "answer": ["0"],
        },
    ]
    results = [
        {"question_id": "20230106_0", "search_result": [shared, other, stub]},
        {"question_id": "20230106_1", "search_result": [shared]},
    ]
    _write(tmp_path, "20230106", questions, results)
    _write(tmp_path, "20230113", [], [])  # another week, not chosen

    ds = load_realtimeqa_articles(tmp_path, ["20230106"])

    assert len(ds.articles) == 2  # the shared article once, the stub under 20 words dropped
    first, second = ds.items
    assert first.answers == ("Buffalo Bills",) and first.date == "2023-01-05"
    assert len(first.gold_ids) == 2 and second.gold_ids < first.gold_ids
    assert {a.published.to_date().isoformat() for a in ds.articles if a.published} == {"2023-01-03"}
    assert ds.notes["weeks"] == ["20230106"]


def test_a_week_with_no_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="202399"):
        load_realtimeqa_articles(tmp_path, ["202399"])


def test_questions_that_pick_among_hidden_choices_are_counted_apart() -> None:
    assert needs_choices("The rules will prompt changes to all of these except:") and needs_choices(
        "Which of these 2023 NCAA men’s basketball tournament participants did not advance?"
    )
    # free-text questions, even with "which of the following" or a "not", stay in
    assert not needs_choices("Which of the following bands will headline the coronation concert?")
    assert not needs_choices("The arrival carpet will not be red. What color will it be?")


def test_the_prior_fit_reads_the_old_source_target_before_accuracy() -> None:
    """The January-February fit of the recency prior: the issue caps answers citing articles
    older than 30 days at 15 %, so a prior within it beats a slightly more accurate one past it,
    and among priors past it the one with fewer old answers wins."""
    from eval.tune_articles import fit_key

    def point(gold: float, old: float, top5: float = 0.48) -> dict[str, float]:
        return {"gold_in_answer": gold, "gold_in_top5": top5, "older_than_30_days": old}

    grid = {
        "1 x 90 d": point(0.367, 0.195),
        "2 x 30 d": point(0.363, 0.148),
        "3 x 90 d": point(0.354, 0.104),
    }
    assert max(grid, key=lambda k: fit_key(grid[k])) == "2 x 30 d"
    assert max([point(0.40, 0.30), point(0.30, 0.20)], key=fit_key)["gold_in_answer"] == 0.30
    assert fit_key(point(0.36, 0.15, 0.49)) > fit_key(point(0.36, 0.15, 0.47))


def test_march_questions_read_as_answerable_point_at_a_sentence_stating_the_gold() -> None:
    """Each hand-read verdict names an article of the March archive, dated on or before its
    question, whose cited sentence holds the gold choice; no January-February question is
    listed (those weeks fit the engine and were not read)."""
    from eval.articles import answerable_by_reading
    from eval.config import eval_root
    from eval.metrics import contains_answer

    weeks, answerable = answerable_by_reading()
    assert weeks == {"202303"} and 55 <= len(answerable) <= 70
    ds = load_realtimeqa_articles(eval_root(), ["202303"])
    arts = {a.id: a for a in ds.articles}
    items = {i.id: i for i in ds.items}
    assert set(answerable) <= set(items)
    for qid, where in answerable.items():
        article, item = arts[where["article"]], items[qid]
        sentence = article.text[where["start"] : where["end"]]
        assert contains_answer(sentence, item.answers), (qid, sentence)
        assert article.published and item.date
        assert article.published.to_date() <= dt.date.fromisoformat(item.date), qid
