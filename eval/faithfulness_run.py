"""``qa eval faithfulness``: score answers that were already produced.

Input: a run folder of ``qa eval answers`` (its ``records.jsonl``), the JSONL that
``qa feedback export`` writes, or any JSONL with ``question``, ``answer`` (text with ``[n]``
markers) and ``citations`` (``[{"n", "quote"}]``), optionally ``passages``
(``[{"chunk_id", "text"}]``, cited by ``citations[].chunk_id``) and a human ``label``
(``good``/``bad`` or 1/0). With labels, the scorer's agreement with them is reported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eval.faithfulness import ClaimVerdict, Scorer, judge_answer, summarise_verdicts
from eval.metrics import auroc, balanced_accuracy
from eval.runs import RunWriter


def _rows(path: Path) -> list[dict[str, Any]]:
    file = path / "records.jsonl" if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"no such run folder or JSONL file: {path}")
    rows = []
    for lineno, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{file}:{lineno}: invalid JSON ({exc.msg})") from None
        if row.get("abstention_run"):
            continue
        rows.append(row)
    return rows


def _cited(row: dict[str, Any]) -> dict[int, str]:
    cites = row.get("citation_list") or row.get("citations") or []
    if not isinstance(cites, list):
        return {}
    texts = {p.get("chunk_id"): p.get("text") for p in row.get("passages") or []}
    return {
        int(c["n"]): texts.get(c.get("chunk_id")) or c.get("quote", "")
        for c in cites
        if isinstance(c, dict) and "n" in c
    }


def _label(row: dict[str, Any]) -> int | None:
    value = row.get("label", row.get("rating"))
    if value in ("good", 1, True) or (isinstance(value, int | float) and value > 0):
        return 1
    if value in ("bad", 0, -1, False) or (isinstance(value, int | float) and value <= 0):
        return 0
    return None


def evaluate_faithfulness(
    path: Path, scorer: Scorer, writer: RunWriter, limit: int = 0
) -> dict[str, Any]:
    rows = _rows(path)
    if limit:
        rows = rows[:limit]
    all_verdicts: list[list[ClaimVerdict]] = []
    scored: list[tuple[float, int]] = []
    for i, row in enumerate(rows):
        text = str(row.get("answer", ""))
        if row.get("status") == "insufficient_evidence" or not text.strip():
            continue
        verdicts, faithful = judge_answer(text, _cited(row), scorer)
        all_verdicts.append(verdicts)
        label = _label(row)
        if label is not None:
            scored.append((faithful, label))
        writer.record(
            {
                "id": row.get("id", row.get("answer_id", i)),
                "question": row.get("question"),
                "answer": text,
                "faithfulness": round(faithful, 4),
                "label": label,
                "claims": [v.__dict__ for v in verdicts],
            }
        )
    summary: dict[str, Any] = {
        "source": str(path),
        "answers": len(all_verdicts),
        "scorer": scorer.name,
        **summarise_verdicts(all_verdicts),
    }
    labels = [y for _, y in scored]
    if 0 < sum(labels) < len(labels):
        scores = [s for s, _ in scored]
        summary["agreement_with_labels"] = {
            "items": len(scored),
            "balanced_accuracy": round(balanced_accuracy(scores, labels, 1.0 - 1e-9), 4),
            "auroc": round(auroc(scores, labels), 4),
        }
    return summary
