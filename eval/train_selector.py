"""``qa train selector``: a candidate answer-sentence selector, a MiniLM cross-encoder.

P(this sentence names what the question asks), read on (question, sentence) pairs of
``eval.selector_data`` (SQuAD sentences, SQuAD 2.0 unanswerable questions, TrecQA). The
same encoder, head and training loop as the verifier (``eval.train_verifier.fit``): one
length-sorted pass, fixed seed, 2 threads; then an ONNX export (int8 when it stays within 0.01
AUROC of fp32), its SHA-256 in ``selector.json`` and a model card (``SELECTOR.md``) with
held-out figures beside the verifier's answer head and word overlap on the same pairs. No
evaluation set (RGB, RealtimeQA, ...) is read.

It is not shipped: as a sentence-choice signal in the engine it lost answers on RealtimeQA
January-February 2023 (MEASUREMENTS.md, "The verifier"). The command stays to reproduce that finding
and as the sentence-level data for the verifier's next answer head. Output: ``runs/selector``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.metrics import auroc, balanced_accuracy
from eval.runs import git_commit, machine
from eval.selector_data import build, counts, overlap
from eval.train_verifier import FitConfig, OnnxScorer, export_onnx, fit, quantize, ship
from eval.verifier_data import Pair
from qa.crossencoder import MODEL_DIR, PairTokenizer

SELECTOR_MANIFEST = "selector.json"


@dataclass
class SelectorConfig(FitConfig):
    max_tokens: int = 128  # a question and one sentence
    limit: int = 0  # at most N training pairs (0 = all)


def ranking(scores: Sequence[float], items: Sequence[Pair]) -> dict[str, float]:
    """Per question with at least one answering sentence: precision at 1 and MRR."""
    groups: dict[str, list[tuple[float, int]]] = {}
    for s, p in zip(scores, items, strict=True):
        groups.setdefault(p.a, []).append((float(s), p.label))
    p1, rr = [], []
    for cands in groups.values():
        if not any(lab for _, lab in cands) or len(cands) < 2:
            continue
        order = sorted(cands, key=lambda c: -c[0])
        first = next(i for i, (_, lab) in enumerate(order) if lab)
        p1.append(float(first == 0))
        rr.append(1.0 / (first + 1))
    return {
        "questions": len(p1),
        "p_at_1": round(float(np.mean(p1)), 4),
        "mrr": round(float(np.mean(rr)), 4),
    }


def measure(
    score: Callable[[Sequence[tuple[str, str]]], np.ndarray], held: Sequence[Pair]
) -> dict[str, dict[str, float]]:
    """Accuracy, BAcc at 0.5 and AUROC per held-out source (test files only); ranking
    figures for the sources that group several sentences per question."""
    out: dict[str, dict[str, float]] = {}
    by: dict[str, list[Pair]] = {}
    for p in held:
        if p.split == "test":
            by.setdefault(p.source, []).append(p)
    for key, items in sorted(by.items()):
        s = score([(p.a, p.b) for p in items])
        labels = [p.label for p in items]
        m: dict[str, float] = {
            "n": len(items),
            "accuracy": round(float(np.mean((s >= 0.5) == np.array(labels))), 4),
        }
        if len(set(labels)) == 2:
            m["balanced_accuracy"] = round(balanced_accuracy(list(s), labels, 0.5), 4)
            m["auroc"] = round(auroc(list(s), labels), 4)
            m.update(ranking(list(s), items))
        out[key] = m
    return out


def train(cfg: SelectorConfig, training: Path, out: Path) -> dict[str, Any]:
    from qa.crossencoder import minilm_tokenizer_json

    t_start = time.time()
    train_pairs, held = build(training, cfg.seed)
    if cfg.limit:
        train_pairs = train_pairs[: cfg.limit]
    print(f"{len(train_pairs)} training pairs: {counts(train_pairs)}", flush=True)
    tok = PairTokenizer(minilm_tokenizer_json(), cfg.max_tokens)
    model, info = fit(cfg, train_pairs, tok, "train selector")
    out.mkdir(parents=True, exist_ok=True)
    fp32, int8 = out / "selector-fp32.onnx", out / "selector-int8.onnx"
    export_onnx(model, fp32)
    quantize(fp32, int8)

    def answer(path: Path) -> Callable[[Sequence[tuple[str, str]]], np.ndarray]:
        scorer = OnnxScorer(path, tok)
        return lambda pairs: scorer.probs("answer", pairs)

    m32, m8 = measure(answer(fp32), held), measure(answer(int8), held)
    gap = {k: round(abs(m32[k]["auroc"] - m8[k]["auroc"]), 4) for k in m32 if "auroc" in m32[k]}
    shipped = int8 if max(gap.values()) <= 0.01 else fp32
    metrics = m8 if shipped == int8 else m32
    manifest = ship(
        shipped,
        (fp32, int8),
        out / "selector.onnx",
        out / SELECTOR_MANIFEST,
        cfg.max_tokens,
        {"answer": 0.5},
    )
    baselines = {
        "verifier answer head": measure(answer(MODEL_DIR / "verifier.onnx"), held),
        "word overlap": measure(lambda pairs: np.array([overlap(a, b) for a, b in pairs]), held),
    }
    card = {
        "config": dataclasses.asdict(cfg),
        "train_pairs": counts(train_pairs),
        "test_pairs": counts([p for p in held if p.split == "test"]),
        **info,
        "metrics": metrics,
        "baselines": baselines,
        "fp32_vs_int8_auroc_gaps": gap,
        "manifest": manifest,
        "commit": git_commit(),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "total_seconds": round(time.time() - t_start),
    }
    (out / "selector-card.json").write_text(json.dumps(card, indent=2) + "\n")
    write_card(out / "SELECTOR.md", card)
    return card


def _rows(metrics: dict[str, dict[str, float]]) -> str:
    return "\n".join(
        f"| {k} | {v['n']} | {v['accuracy']} | {v.get('balanced_accuracy', '—')}"
        f" | {v.get('auroc', '—')} | {v.get('p_at_1', '—')} | {v.get('mrr', '—')} |"
        for k, v in metrics.items()
    )


def write_card(path: Path, card: dict[str, Any]) -> None:
    cfg, man = card["config"], card["manifest"]
    head = (
        "| held-out set | pairs | accuracy @0.5 | BAcc @0.5 | AUROC | P@1 | MRR |\n"
        "|---|---|---|---|---|---|---|"
    )
    gaps = json.dumps(card["fp32_vs_int8_auroc_gaps"])
    base = "\n\n".join(f"{name}:\n\n{head}\n{_rows(m)}" for name, m in card["baselines"].items())
    path.write_text(f"""# Answer-sentence selector model card (`selector.onnx`)

A cross-encoder trained here, on 2 CPU cores, by `qa train selector` ({card["date"]}, commit
{card["commit"]}). It reads (question, sentence) and gives P(the sentence names what the
question asks): a candidate for choosing answer sentences among on-topic ones, where a sentence
that only restates the question's topic should fall behind the one that answers it. Not
shipped: see MEASUREMENTS.md ("The verifier") for how it did inside the engine.

- **Base:** the packaged all-MiniLM-L6-v2, mean pooling, the verifier's head layout (its
  `answer` column is the one trained and read). Word embeddings frozen.
- **File:** `{man["file"]}`, {man["precision"]} ({man["bytes"] / 1e6:.1f} MB), SHA-256
  `{man["sha256"]}` (checked at load); fp32/int8 AUROC gaps {gaps}.
- **Training:** one length-sorted pass over {sum(card["train_pairs"].values())} pairs in
  {card["train_seconds"]} s ({card["pairs_per_second"]} pairs/s), batch {cfg["batch_size"]},
  AdamW lr {cfg["lr"]} (head {cfg["head_lr"]}), warm-up {cfg["warmup"]}, weight decay
  {cfg["weight_decay"]}, at most {cfg["max_tokens"]} word-pieces a pair, seed {cfg["seed"]},
  {cfg["threads"]} threads; final loss (mean of the last 200 batches) {card["final_loss"]}.
- **Data** (read from `../shared/data/training/answer`, never copied; licences in its
  README), source:label counts: {json.dumps(card["train_pairs"])}. `squad-sentence`: the
  sentence holding the gold answer, and the two other sentences of its paragraph sharing most
  words with the question; `squad-unanswerable`: the best-matching sentence for a SQuAD 2.0
  question written to have no answer in the paragraph; `trecqa`: newswire candidate sentences.
- **Held out:** SQuAD's test articles and TrecQA's test file ({json.dumps(card["test_pairs"])}).
  No item of QAGS, CLIFF, HaluEval, RGB or RealtimeQA is read.

{head}
{_rows(card["metrics"])}

On the same held-out pairs, {base}

P@1 and MRR: per question that has an answering sentence among its candidates (SQuAD: the
answer sentence and two on-topic sentences of its paragraph; TrecQA: all candidates).
Machine: {json.dumps(card["machine"])}. Reproduce: `qa train selector` (about
{round(card["total_seconds"] / 60)} minutes here).
""")


def main(args: Any) -> int:
    from eval.config import eval_root

    cfg = SelectorConfig(limit=args.limit)
    out = Path(args.out) if args.out else Path("runs") / "selector"
    card = train(cfg, eval_root() / "training", out)
    print(json.dumps({k: card[k] for k in ("train_seconds", "metrics", "baselines", "manifest")}))
    return 0
