"""Loaders for the shared evaluation sets (read from ``QA_EVAL_DATA``, never copied)."""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path

from index.dates import parse_date
from index.model import Article, content_hash


@dataclass(frozen=True)
class QAItem:
    """One question with gold answers and the ids of the articles that hold the answer."""

    id: str
    question: str
    answers: tuple[str, ...]
    gold_ids: frozenset[str]
    date: str | None = None
    choices: tuple[str, ...] = ()


@dataclass
class Dataset:
    name: str
    articles: list[Article]
    items: list[QAItem]
    notes: dict[str, object] = field(default_factory=dict)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(fragment: str) -> str:
    p = _Text()
    p.feed(fragment)
    p.close()
    return " ".join("".join(p.parts).split())


def passage_article(text: str, title: str = "", published: str | None = None) -> Article:
    pid = "p" + hashlib.sha256(text.encode()).hexdigest()[:16]
    return Article(
        id=pid,
        title=title,
        text=text,
        published=parse_date(published) if published else None,
        source=None,
        content_hash=content_hash(title, text),
    )


def load_realtimeqa(root: Path, dated: bool = True) -> Dataset:
    """Every distinct ``evidence`` passage of every ``*_qa.jsonl`` under ``root``.

    With ``dated``, a passage carries the date of the quiz that used it (the week's news).
    """
    files = sorted(root.rglob("*_qa.jsonl"))
    if not files:
        raise FileNotFoundError(f"no *_qa.jsonl files under {root}")
    articles: dict[str, Article] = {}
    items: list[QAItem] = []
    for f in files:
        for line in f.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            evidence = html_to_text(row.get("evidence") or "")
            if not evidence:
                continue
            date = str(row.get("question_date") or "").replace("/", "-") or None
            art = passage_article(evidence, published=date if dated else None)
            articles.setdefault(art.id, art)
            ans = _answer_indexes(row.get("answer"))
            choices = tuple(str(c) for c in row.get("choices") or [])
            golds = tuple(choices[a] for a in ans if a < len(choices))
            items.append(
                QAItem(
                    id=str(row["question_id"]),
                    question=str(row["question_sentence"]),
                    answers=golds,
                    gold_ids=frozenset({art.id}),
                    date=date,
                    choices=choices,
                )
            )
    return Dataset("realtimeqa", list(articles.values()), items, {"files": len(files)})


def _answer_indexes(value: object) -> list[int]:
    """'answer' is ["2"], [2], "2", or ["[0, 2]"] in a few rows."""
    if isinstance(value, str):
        value = ast.literal_eval(value) if value.strip().startswith("[") else [value]
    if isinstance(value, int):
        value = [value]
    out: list[int] = []
    for v in value if isinstance(value, list) else []:
        if isinstance(v, str) and v.strip().startswith("["):
            out.extend(_answer_indexes(v))
        elif str(v).strip().isdigit():
            out.append(int(str(v).strip()))
    return out


def _listish(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str) and value.startswith("["):
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return [value]
        return [str(v) for v in parsed] if isinstance(parsed, list) else [value]
    return [str(value)] if value else []


def load_rgb(path: Path, counterfactual: bool = False, negatives_only: bool = False) -> Dataset:
    """RGB en_fact: corpus = all positive (or positive_wrong) and negative passages.
    ``negatives_only`` leaves the positives out: no question is answerable, every answer
    should be an abstention (``answers`` are kept to count answers that guessed right)."""
    articles: dict[str, Article] = {}
    items: list[QAItem] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        pos_key = "positive_wrong" if counterfactual else "positive"
        gold: set[str] = set()
        for text in [] if negatives_only else _listish(row.get(pos_key)):
            art = passage_article(" ".join(text.split()))
            articles.setdefault(art.id, art)
            gold.add(art.id)
        for text in _listish(row.get("negative")):
            art = passage_article(" ".join(text.split()))
            articles.setdefault(art.id, art)
        answers = _listish(row.get("fakeanswer" if counterfactual else "answer"))
        flat: list[str] = []
        for a in answers:
            flat.extend(_listish(a) if a.startswith("[") else [a])
        items.append(
            QAItem(
                id=str(row["id"]),
                question=str(row["query"]),
                answers=tuple(flat),
                gold_ids=frozenset(gold),
            )
        )
    name = "rgb-negatives" if negatives_only else "rgb-counterfactual" if counterfactual else "rgb"
    notes: dict[str, object] = {"unanswerable": negatives_only}
    if not counterfactual:
        # questions whose negatives state the answer anyway (read by hand): without their
        # positives the honest reply is still the answer, so abstention is scored apart
        notes["states_answer_without_gold"] = sorted(rgb_states_answer(), key=int)
    return Dataset(name, list(articles.values()), items, notes)


RGB_GOLD_REMOVED = Path(__file__).with_name("rgb_gold_removed.json")


def rgb_states_answer(path: Path = RGB_GOLD_REMOVED) -> dict[str, str]:
    """RGB question id -> the phrase of a passage left without its positives that states
    the answer (``eval/rgb_gold_removed.json``, read by hand)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data["states_answer"].items()}


def load_jsonl_dataset(path: Path) -> Dataset:
    """The project's own format, one JSON object a line, documents and questions mixed:

    ``{"type": "document", "id": "d1", "title": "...", "text": "...", "published":
    "2021-03-23", "source": "PTI", "url": "..."}``

    ``{"type": "question", "id": "q1", "question": "...", "answers": ["..."], "gold": ["d1"],
    "date": "2021-03-24"}``

    ``gold`` names the documents that hold the answer (may be empty: an unanswerable question);
    ``date`` is the question's reference date (``as_of``). Errors name the line.
    """
    articles: dict[str, Article] = {}
    items: list[QAItem] = []
    ids: dict[str, str] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            kind = row.get("type") or ("question" if "question" in row else "document")
            if kind == "document":
                art = passage_article(
                    str(row["text"]), str(row.get("title", "")), row.get("published")
                )
                art = replace(art, source=row.get("source"), url=row.get("url"))
                articles.setdefault(art.id, art)
                ids[str(row.get("id", art.id))] = art.id
            else:
                items.append(
                    QAItem(
                        id=str(row.get("id", f"line{lineno}")),
                        question=str(row["question"]),
                        answers=tuple(str(a) for a in row.get("answers", [])),
                        gold_ids=frozenset(str(g) for g in row.get("gold", [])),
                        date=row.get("date"),
                    )
                )
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path}:{lineno}: not a document or question line ({exc})") from None
    items = [replace(i, gold_ids=frozenset(ids.get(g, g) for g in i.gold_ids)) for i in items]
    unknown = {g for i in items for g in i.gold_ids} - set(articles)
    if unknown:
        raise ValueError(f"{path}: gold ids without a document: {', '.join(sorted(unknown)[:5])}")
    return Dataset(path.stem, list(articles.values()), items)
