"""Human-labelled faithfulness sets for the scorer's meta-evaluation (read, never copied).

Each item is (claim, evidence, label): label 1 = the claim is supported by the evidence.
``split`` is ``dev`` (the weights and threshold may be fitted on it) or ``test`` (reported):
CLIFF's own ``val``/``test`` cut; for QAGS and HaluEval half of the documents by a stable hash.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LabelledClaim:
    id: str
    set: str
    claim: str
    evidence: str
    label: int  # 1 supported / consistent, 0 not
    split: str  # "dev" or "test"
    question: str = ""


def _half(key: str) -> str:
    return "dev" if int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 2 == 0 else "test"


def load_qags(path: Path, name: str) -> list[LabelledClaim]:
    """QAGS: every summary sentence, label = majority of the 3 annotators."""
    out = []
    with path.open(encoding="utf-8") as f:
        for doc_no, line in enumerate(f):
            row = json.loads(line)
            split = _half(row["article"][:500])
            for j, s in enumerate(row["summary_sentences"]):
                yes = sum(r["response"] == "yes" for r in s["responses"])
                label = int(yes * 2 > len(s["responses"]))
                out.append(
                    LabelledClaim(
                        f"{name}-{doc_no}-{j}", name, s["sentence"], row["article"], label, split
                    )
                )
    return out


def load_cliff(path: Path) -> list[LabelledClaim]:
    """CLIFF (AggreFact): a summary is unfaithful when it has an annotated error."""
    out = []
    with path.open(encoding="utf-8", newline="") as f:
        for i, row in enumerate(csv.DictReader(f)):
            label = int(row["error_type"].strip() == "correct")
            out.append(
                LabelledClaim(
                    f"cliff-{row['origin']}-{row['id']}-{row['model_name']}-{i}",
                    "cliff",
                    row["summ"],
                    row["doc"],
                    label,
                    "dev" if row["cut"] == "val" else "test",
                )
            )
    return out


def load_halueval(path: Path) -> list[LabelledClaim]:
    """HaluEval QA: the right answer (1) and the hallucinated one (0) against ``knowledge``."""
    out = []
    with path.open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            row = json.loads(line)
            split = _half(row["question"])
            for label, key in ((1, "right_answer"), (0, "hallucinated_answer")):
                out.append(
                    LabelledClaim(
                        f"halueval-{i}-{label}",
                        "halueval",
                        row[key],
                        row["knowledge"],
                        label,
                        split,
                        question=row["question"],
                    )
                )
    return out


SETS = ("qags-cnndm", "qags-xsum", "cliff", "halueval")


def load_scorer_set(name: str, root: Path) -> list[LabelledClaim]:
    """One of ``SETS``; ``qags`` means both QAGS sets, ``all`` every set."""
    match name:
        case "qags-cnndm":
            return load_qags(root / "qags" / "data" / "mturk_cnndm.jsonl", name)
        case "qags-xsum":
            return load_qags(root / "qags" / "data" / "mturk_xsum.jsonl", name)
        case "qags":
            return load_scorer_set("qags-cnndm", root) + load_scorer_set("qags-xsum", root)
        case "cliff":
            return load_cliff(root / "aggrefact" / "CLIFF_error_types.csv")
        case "halueval":
            return load_halueval(root / "halueval" / "generation" / "qa" / "qa_one-turn_data.json")
        case "all":
            return [c for s in SETS for c in load_scorer_set(s, root)]
    raise ValueError(f"unknown scorer data set {name!r} (known: qags, {', '.join(SETS)}, all)")
