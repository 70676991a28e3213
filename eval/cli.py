"""``qa eval ...`` and ``qa bench ...``: each prints one JSON summary as its last line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from eval.datasets import Dataset, load_realtimeqa, load_rgb
from eval.runs import RunWriter


def data_root(settings: Any) -> Path:
    root = Path(settings.eval_data)
    if not root.is_dir():
        raise FileNotFoundError(
            f"evaluation data not found at {root}: set QA_EVAL_DATA to the folder holding "
            "realtimeqa/, rgb/, bbc-news/ ..."
        )
    return root


def load_dataset(name: str, root: Path) -> Dataset:
    match name:
        case "realtimeqa":
            return load_realtimeqa(root / "realtimeqa")
        case "rgb":
            return load_rgb(root / "rgb" / "data" / "en_fact.json")
        case "rgb-counterfactual":
            return load_rgb(root / "rgb" / "data" / "en_fact.json", counterfactual=True)
    raise ValueError(f"unknown data set {name!r} (known: realtimeqa, rgb, rgb-counterfactual)")


def run_eval(args: argparse.Namespace) -> int:
    from qa.settings import Settings
    from qa.wiring import Components

    settings = Settings()
    comps = Components(settings)
    ds = load_dataset(args.dataset, data_root(settings))
    writer = RunWriter(Path(args.out), args.what, ds.name)
    if args.what == "retrieval":
        from eval.retrieval import build_index, evaluate_retrieval

        retriever = build_index(ds, comps.embedder, comps.chunker, comps.fusion_params())
        summary = evaluate_retrieval(ds, retriever, writer, limit=args.limit)
    elif args.what == "peers":
        from eval.peers import evaluate_peers

        summary = evaluate_peers(ds, writer, limit=args.limit)
    else:
        from eval.answers import evaluate_answers

        summary = evaluate_answers(
            ds,
            comps,
            writer,
            mode=args.mode,
            limit=args.limit,
            abstention=not args.no_abstention,
        )
    full = writer.finish(summary, settings.model_dump(mode="json"))
    print(json.dumps(full))
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from eval.bench_ingest import bench_ingest
    from qa.settings import Settings

    settings = Settings()
    summary = bench_ingest(data_root(settings) / "bbc-news", args.repeats, args.limit, settings)
    print(json.dumps(summary))
    return 0
