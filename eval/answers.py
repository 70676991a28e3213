"""Answer evaluation: accuracy (contains-gold, EM, F1), faithfulness and citation quality
(the offline scorer over each claim and the passages it cites), abstention and latency.

Accuracy follows the data sets' convention: a gold answer string occurs in the answer text
(SQuAD-normalised). For RealtimeQA the choices are NOT shown to the model. Abstention is
measured by asking the same questions again with their gold passages removed from the index:
precision = abstentions that were right / all abstentions over both runs, recall = questions
without their sources that abstained.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Sequence
from typing import Any

from eval.datasets import Dataset, QAItem
from eval.faithfulness import (
    ClaimVerdict,
    Scorer,
    judge_claims,
    sentence_claims,
    summarise_verdicts,
)
from eval.metrics import contains_answer, exact_match, token_f1
from eval.runs import RunWriter
from qa.answer import Answer, Mode
from qa.engine import Engine
from qa.wiring import Components


def _engine(ds: Dataset, comps: Components, exclude: frozenset[str] = frozenset()) -> Engine:
    """An engine over a throwaway index of the data set (minus ``exclude``); the models are
    the run's own, loaded once."""
    kept = [a for a in ds.articles if a.id not in exclude]
    return comps.engine_over(comps.throwaway(kept, "ans"))


def spaced(items: list[Any], n: int) -> list[Any]:
    """``n`` items evenly spread over the list (all when n is 0): a dev sample that covers
    every period of a dated set, not just its first weeks."""
    if not n or n >= len(items):
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def _as_of(date: str | None) -> dt.date | None:
    return dt.date.fromisoformat(date) if date else None


def _shown_sentences_cited(answer: Answer) -> float:
    """1.0 when every shown sentence carries the [n] of a real citation."""
    if not answer.citations:
        return 0.0
    numbers = {c.n for c in answer.citations}
    return float(all(s.citations and set(s.citations) <= numbers for s in answer.sentences))


def cited_passages(answer: Answer) -> dict[int, str]:
    """Citation number -> the text of the passage it points into (its quote if unknown)."""
    texts = {p["chunk_id"]: p.get("text") for p in (answer.trace.passages if answer.trace else ())}
    return {c.n: texts.get(c.chunk_id) or c.quote for c in answer.citations}


def evaluate_answers(
    ds: Dataset,
    comps: Components,
    writer: RunWriter,
    mode: Mode | None = None,
    limit: int = 0,
    abstention: bool = True,
    scorer: Scorer | None = None,
) -> dict[str, Any]:
    from tqdm import tqdm

    mode = mode or comps.settings.generator.kind  # the configured default, by name
    items = spaced(ds.items, limit)
    engine = _engine(ds, comps)
    rows = []
    all_verdicts: list[list[ClaimVerdict]] = []
    for item in tqdm(items, desc=f"answers ({mode})", unit="q", disable=None):
        t0 = time.perf_counter()
        ans = engine.answer(item.question, mode=mode, as_of=_as_of(item.date))
        latency = time.perf_counter() - t0
        acc = contains_answer(ans.text, item.answers) if item.answers else 0.0
        faith: dict[str, Any] = {}
        if scorer is not None and ans.status != "insufficient_evidence":
            claims = sentence_claims(ans.sentences)
            verdicts, faithful = judge_claims(claims, cited_passages(ans), scorer)
            all_verdicts.append(verdicts)
            faith = {"faithfulness": round(faithful, 4), "claims": [v.__dict__ for v in verdicts]}
        row = {
            "id": item.id,
            "question": item.question,
            "gold": item.answers,
            "answer": ans.text,
            "status": ans.status,
            "mode": ans.mode,
            "warnings": ans.warnings,
            "citations": len(ans.citations),
            "cited_all": _shown_sentences_cited(ans),
            "min_support": min((c.support for c in ans.citations), default=None),
            "dropped": len(ans.trace.dropped_claims) if ans.trace else 0,
            # what was shown, sentence by sentence (a model's or a verbatim quote), and why
            # each left-out sentence was left out: what a reader of the run checks by hand
            "sentences": [
                {"text": x.text, "kind": x.kind, "citations": list(x.citations)}
                for x in ans.sentences
            ],
            "dropped_reasons": [
                str(d.get("reason", "unsupported"))
                for d in (ans.trace.dropped_claims if ans.trace else ())
            ],
            "accuracy": acc,
            "exact_match": exact_match(ans.text, item.answers) if item.answers else 0.0,
            "f1": token_f1(ans.text, item.answers) if item.answers else 0.0,
            **faith,
            "latency_s": round(latency, 3),
            "gold_in_context": float(
                any(
                    p["article_id"] in item.gold_ids
                    for p in (ans.trace.passages if ans.trace else ())
                )
            ),
            "raw_output": ans.trace.raw_output if ans.trace else None,
            "passages": [
                {k: p.get(k) for k in ("n", "chunk_id", "article_id", "title", "text")}
                for p in (ans.trace.passages if ans.trace else ())
            ],
            "citation_list": [c.__dict__ for c in ans.citations],
        }
        rows.append(row)
        writer.record(row)
    answered = [r for r in rows if r["status"] != "insufficient_evidence"]
    summary: dict[str, Any] = {
        "dataset": ds.name,
        "mode": mode,
        "questions": len(rows),
        "accuracy": _mean(r["accuracy"] for r in rows),
        "exact_match": _mean(r["exact_match"] for r in rows),
        "f1": _mean(r["f1"] for r in rows),
        "gold_in_context": _mean(r["gold_in_context"] for r in rows),
        "answered_share": round(len(answered) / max(1, len(rows)), 4),
        "answers_with_citation": _mean(float(r["citations"] > 0) for r in answered),
        "every_sentence_cited": _mean(r["cited_all"] for r in answered),
        "mode_used": {m: sum(1 for r in rows if r["mode"] == m) for m in {r["mode"] for r in rows}},
        "status": {
            s: sum(1 for r in rows if r["status"] == s) for s in {r["status"] for r in rows}
        },
        "sentences_dropped": sum(r["dropped"] for r in rows),
        "median_latency_s": round(statistics.median(r["latency_s"] for r in rows), 3),
    }
    if scorer is not None:
        summary["faithfulness"] = summarise_verdicts(all_verdicts)
        summary["faithfulness"]["scorer"] = scorer.name
        summary["faithfulness"]["answers_fully_faithful"] = _mean(
            float(r["faithfulness"] == 1.0) for r in rows if "faithfulness" in r
        )
    if abstention:
        # the same questions with their gold passages removed: the share that abstains
        gold = frozenset().union(*(i.gold_ids for i in items))
        blind = _engine(ds, comps, exclude=gold)
        abst = []
        for item in tqdm(items, desc="abstention", unit="q", disable=None):
            ans = blind.answer(item.question, mode=mode, as_of=_as_of(item.date))
            abst.append(float(ans.status == "insufficient_evidence"))
            writer.record(
                {"id": item.id, "abstention_run": True, "status": ans.status, "answer": ans.text}
            )
        false_abst = sum(1 for r in rows if r["status"] == "insufficient_evidence")
        summary["abstention_rate"] = _mean(abst)
        summary["abstention"] = {
            "recall": _mean(abst),
            "precision": round(sum(abst) / max(1.0, sum(abst) + false_abst), 4),
            "unanswerable_questions": len(abst),
            "abstained_with_sources": false_abst,
        }
        stated = ds.notes.get("states_answer_without_gold")
        if isinstance(stated, list):
            summary["abstention"].update(split_abstention(items, abst, set(stated), false_abst))
    return summary


def split_abstention(
    items: Sequence[QAItem], abst: Sequence[float], stated: set[str], false_abst: int
) -> dict[str, Any]:
    """Abstention with the gold removed, scored apart where a passage left in the index still
    states the answer (``stated``: question ids): there an answer is right and an abstention
    is not, so recall counts only the answer-free questions."""
    free = [a for i, a in zip(items, abst, strict=True) if i.id not in stated]
    kept = [a for i, a in zip(items, abst, strict=True) if i.id in stated]
    return {
        "answer_free_questions": len(free),
        "recall_answer_free": _mean(free),
        "precision_answer_free": round(sum(free) / max(1.0, sum(abst) + false_abst), 4),
        "questions_still_answered_by_other_passages": len(kept),
        "abstained_where_a_passage_states_the_answer": _mean(kept),
    }


def _mean(values: Any) -> float:
    vals = list(values)
    return round(statistics.fmean(vals), 4) if vals else 0.0
