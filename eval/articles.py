"""``qa eval answers realtimeqa-articles [--weeks 202301]``: questions over whole news articles.

For the chosen weeks of RealtimeQA 2023 (``past/2023/<YYYYMMDD>_gcs.jsonl``: each question's
search results as full articles), the distinct articles go into a fresh index and every
question is asked with its own date as ``as_of``, its choices hidden (as the product is asked).
Reported, for ours and, in the same run, llama-index's ``CitationQueryEngine`` (same model file
and embedder) and the three-best-sentences baseline: the right choice in the answer, the right
choice in the top-5 / top-10 context, abstentions, exact quotes, p50/p95 latency, and the share
of answers drawn from articles older than the question's week (and than 30 days, unless the
question names a past time). A per-question table goes into the run's report.

For the weeks read by hand (``eval/realtimeqa_answerable.json``), the same figures are also
given over the questions whose articles state the answer: a string match also counts an article
that names the gold choice by chance.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from eval.datasets import Dataset, QAItem, _answer_indexes
from eval.metrics import contains_answer
from eval.runs import RunWriter, p50_p95
from index.dates import parse_date
from index.errors import ParseError
from index.model import Article
from index.parse import make_article
from qa.answer import Answer, Mode
from qa.search import scoped_search
from qa.timewords import analyse
from qa.wiring import Components

ANSWERABLE = Path(__file__).with_name("realtimeqa_answerable.json")


def answerable_by_reading(path: Path = ANSWERABLE) -> tuple[frozenset[str], dict[str, Any]]:
    """(weeks read by hand, question id -> the article sentence that states its answer)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return frozenset(data["weeks"]), dict(data["answerable"])


def week_files(root: Path, weeks: Sequence[str]) -> list[Path]:
    folder = root / "realtimeqa" / "past" / "2023"
    files = sorted(folder.glob("*_gcs.jsonl"))
    chosen = [f for f in files if not weeks or any(f.name.startswith(w) for w in weeks)]
    if not chosen:
        raise FileNotFoundError(f"no *_gcs.jsonl for weeks {list(weeks)} under {folder}")
    return chosen


def load_realtimeqa_articles(root: Path, weeks: Sequence[str] = ()) -> Dataset:
    articles: dict[str, Article] = {}
    items: list[QAItem] = []
    for gcs in week_files(root, weeks):
        qa_file = gcs.with_name(gcs.name.replace("_gcs", "_qa"))
        questions = {
            json.loads(line)["question_id"]: json.loads(line)
            for line in qa_file.read_text(encoding="utf-8").splitlines()
            if line.strip()
        }
        for line in gcs.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            q = questions.get(row["question_id"])
            if q is None:
                continue
            ids: set[str] = set()
            for r in row.get("search_result") or []:
                text = str(r.get("text") or "").strip()
                if len(text.split()) < 20:
                    continue
                try:
                    a = make_article(
                        title=str(r.get("title") or ""),
                        text=text,
                        source=urlsplit(str(r.get("url"))).hostname,
                        published=parse_date(str(r["publish_date"]).replace("/", "-"))
                        if r.get("publish_date")
                        else None,
                        url=str(r.get("url")),
                    )
                except ParseError:
                    continue
                articles.setdefault(a.id, a)
                ids.add(a.id)
            choices = tuple(str(c) for c in q.get("choices") or [])
            gold = tuple(choices[i] for i in _answer_indexes(q.get("answer")) if i < len(choices))
            items.append(
                QAItem(
                    id=str(q["question_id"]),
                    question=str(q["question_sentence"]),
                    answers=gold,
                    gold_ids=frozenset(ids),
                    date=str(q.get("question_date") or "").replace("/", "-") or None,
                    choices=choices,
                )
            )
    notes = {"weeks": [f.name[:8] for f in week_files(root, weeks)], "articles": len(articles)}
    return Dataset("realtimeqa-articles", list(articles.values()), items, notes)


def age_days(answer: Answer, as_of: dt.date | None) -> float | None:
    """Days between ``as_of`` and the oldest dated article the answer cites."""
    if as_of is None or not answer.citations:
        return None
    ages = []
    for c in answer.citations:
        d = parse_date(c.published) if c.published else None
        day = d.to_date() if d else None
        if day is not None:
            ages.append((as_of - day).days)
    return float(max(ages)) if ages else None


# a question that picks among its hidden choices ("… all of these except:", "Which of these
# … did not advance?") has no free-text answer: counted apart, never dropped
_NEEDS_CHOICES = re.compile(r"\bexcept\s*:?\s*$|\bwhich of (these|the following)\b.*\bnot\b", re.I)


def needs_choices(question: str) -> bool:
    """Whether the question can only be answered by picking among its (hidden) choices."""
    return bool(_NEEDS_CHOICES.search(question.strip()))


def context_hits(passages: Sequence[Any], gold: Sequence[str], k: int) -> float:
    text = " ".join(p.text for p in passages[:k])
    return contains_answer(text, gold) if gold else 0.0


def _exact(answer: Answer, texts: dict[str, str]) -> float:
    if not answer.citations:
        return 1.0
    return float(all(texts[c.article_id][c.start : c.end] == c.quote for c in answer.citations))


def evaluate_articles(
    ds: Dataset,
    comps: Components,
    writer: RunWriter,
    mode: Mode | None = None,
    limit: int = 0,
    peers: bool = True,
) -> dict[str, Any]:
    from tqdm import tqdm

    from eval.answers import spaced

    items = spaced(ds.items, limit)
    retriever = comps.throwaway(ds.articles, "articles")
    engine = comps.engine_over(retriever)
    texts = {a.id: a.text for a in ds.articles}
    dated = {a.id: a.published.to_date() if a.published else None for a in ds.articles}
    modes: list[Mode] = [mode] if mode else ["extractive", "local"]
    read_weeks, answerable = answerable_by_reading()
    rows: list[dict[str, Any]] = []
    for item in tqdm(items, desc="questions", unit="q", disable=None):
        as_of = dt.date.fromisoformat(item.date) if item.date else None
        found = scoped_search(retriever, item.question, item.question, 10, as_of=as_of)
        row: dict[str, Any] = {
            "id": item.id,
            "question": item.question,
            "date": item.date,
            "gold": item.answers,
            "gold_in_top5": context_hits(found.passages, item.answers, 5),
            "gold_in_top10": context_hits(found.passages, item.answers, 10),
            # the data's ceiling: the gold choice is written in the question's own results
            "gold_in_own_results": contains_answer(
                " ".join(texts[i] for i in sorted(item.gold_ids)), item.answers
            )
            if item.answers
            else 0.0,
            "names_past_time": analyse(item.question, as_of).date_to is not None,
            "needs_choices": needs_choices(item.question),
            # None: the question's week was not read by hand
            "answerable_by_reading": item.id in answerable if item.id[:6] in read_weeks else None,
        }
        for m in modes:
            t0 = time.perf_counter()
            ans = engine.answer(item.question, mode=m, as_of=as_of)
            age = age_days(ans, as_of)
            row[m] = {
                "answer": ans.text,
                "mode": ans.mode,
                "status": ans.status,
                "reason": ans.reason,
                "warnings": list(ans.warnings),
                "gold_in_answer": contains_answer(ans.text, item.answers) if item.answers else 0.0,
                "abstained": float(ans.status == "insufficient_evidence"),
                "exact_quotes": _exact(ans, texts),
                "latency_s": round(time.perf_counter() - t0, 3),
                "oldest_cited_days": age,
                "cited": [
                    {"title": c.title, "published": c.published, "url": c.url}
                    for c in ans.citations
                ],
            }
        rows.append(row)
        writer.record(row)
    summary: dict[str, Any] = {
        "dataset": ds.name,
        "weeks": ds.notes.get("weeks"),
        "articles": len(ds.articles),
        "questions": len(rows),
        "gold_in_top5": _mean(r["gold_in_top5"] for r in rows),
        "gold_in_top10": _mean(r["gold_in_top10"] for r in rows),
        "gold_in_own_results": _mean(r["gold_in_own_results"] for r in rows),
        "needs_choices": sum(1 for r in rows if r["needs_choices"]),
    }
    for m in modes:
        part = [r[m] for r in rows]
        answered = [p for p in part if not p["abstained"]]
        old_week = [p for p in answered if (p["oldest_cited_days"] or 0) > 7]
        recent_q = [r[m] for r in rows if not r["names_past_time"] and not r[m]["abstained"]]
        summary[f"ours_{m}"] = {
            "gold_in_answer": _mean(p["gold_in_answer"] for p in part),
            "gold_in_answer_free_text": _mean(
                r[m]["gold_in_answer"] for r in rows if not r["needs_choices"]
            ),
            "abstained": _mean(p["abstained"] for p in part),
            "exact_quotes": _mean(p["exact_quotes"] for p in part),
            "answered_by_model": sum(1 for p in part if p["mode"] != "extractive"),
            "older_than_the_week": round(len(old_week) / max(1, len(answered)), 4),
            "older_than_30_days": round(
                sum(1 for p in recent_q if (p["oldest_cited_days"] or 0) > 30)
                / max(1, len(recent_q)),
                4,
            ),
            **p50_p95([p["latency_s"] for p in part], scale=1000, digits=1),
            "abstention_reasons": dict(
                Counter(re.sub(r"\b\d{4}\b", "YEAR", p["reason"]) for p in part if p["abstained"])
            ),
        }
    read = [r for r in rows if r["answerable_by_reading"] is not None]
    able = [r for r in read if r["answerable_by_reading"]]
    if read:
        summary["answerable_by_reading"] = {
            "questions_read": len(read),
            "answerable": len(able),
            "share": _mean(float(r["answerable_by_reading"]) for r in read),
            "gold_in_top5": _mean(r["gold_in_top5"] for r in able),
            **{f"ours_{m}": _mean(r[m]["gold_in_answer"] for r in able) for m in modes},
        }
    if peers:
        summary.update(_peers(ds, items, comps, writer.folder / "peers.jsonl"))
    summary["dated_articles"] = sum(1 for d in dated.values() if d is not None)
    return summary


def _peers(
    ds: Dataset, items: Sequence[QAItem], comps: Components, records: Path
) -> dict[str, Any]:
    """llama-index's CitationQueryEngine (the same SmolLM2 file and embedder) and the three
    MiniLM-best sentences of its top-5 passages, on the same questions; each question's
    answers and hits go to ``records`` (JSONL), beside ours in ``records.jsonl``."""
    from llama_index.core.query_engine import CitationQueryEngine

    from eval.peers import llamaindex_parts
    from index.chunking import sentence_spans

    index, llm = llamaindex_parts(ds, comps.embedder)
    citation = CitationQueryEngine.from_args(index, llm=llm, similarity_top_k=5)
    retriever = index.as_retriever(similarity_top_k=5)
    out: dict[str, Any] = {}
    acc, lat, base_acc, base_lat = [], [], [], []
    with records.open("w", encoding="utf-8") as per_question:
        for item in items:
            t0 = time.perf_counter()
            text = str(citation.query(item.question))
            lat.append(time.perf_counter() - t0)
            acc.append(contains_answer(text, item.answers) if item.answers else 0.0)
            t0 = time.perf_counter()
            nodes = retriever.retrieve(item.question)
            sents = [n.text[s:e] for n in nodes for s, e in sentence_spans(n.text)]
            best: list[str] = []
            if sents:
                sims = comps.embedder.embed(sents) @ comps.embedder.embed_query(item.question)
                best = [sents[i] for i in np.argsort(-sims)[:3]]
            base_lat.append(time.perf_counter() - t0)
            base_acc.append(contains_answer(" ".join(best), item.answers) if item.answers else 0.0)
            row = {
                "id": item.id,
                "llamaindex_citation": {
                    "answer": text,
                    "gold_in_answer": acc[-1],
                    "latency_s": lat[-1],
                },
                "three_best_sentences": {
                    "answer": " ".join(best),
                    "gold_in_answer": base_acc[-1],
                    "latency_s": base_lat[-1],
                },
            }
            per_question.write(json.dumps(row) + "\n")
    out["llamaindex_citation"] = {
        "gold_in_answer": round(statistics.fmean(acc), 4),
        **p50_p95(lat, scale=1000, digits=1),
    }
    out["three_best_sentences"] = {
        "gold_in_answer": round(statistics.fmean(base_acc), 4),
        **p50_p95(base_lat, scale=1000, digits=1),
    }
    return out


def _mean(values: Any) -> float:
    vals = list(values)
    return round(statistics.fmean(vals), 4) if vals else 0.0
