"""``qa eval ...`` and ``qa bench ...``: each writes a run folder (records, summary, report)
and prints one JSON summary as its last line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from eval.datasets import Dataset, load_jsonl_dataset, load_realtimeqa, load_rgb
from eval.runs import RunWriter

ANSWER_SETS = "realtimeqa, rgb, rgb-counterfactual, rgb-negatives, or a .jsonl file"


def data_root(settings: Any) -> Path:
    root = Path(settings.eval_data)
    if not root.is_dir():
        raise FileNotFoundError(
            f"evaluation data not found at {root}: set QA_EVAL_DATA to the folder holding "
            "realtimeqa/, rgb/, bbc-news/ ..."
        )
    return root


def load_dataset(name: str, root: Path | None) -> Dataset:
    if name.endswith((".jsonl", ".json")) and Path(name).is_file():
        return load_jsonl_dataset(Path(name))
    if root is None:
        raise FileNotFoundError("evaluation data not found: set QA_EVAL_DATA")
    rgb = root / "rgb" / "data" / "en_fact.json"
    match name:
        case "realtimeqa":
            return load_realtimeqa(root / "realtimeqa")
        case "rgb":
            return load_rgb(rgb)
        case "rgb-counterfactual":
            return load_rgb(rgb, counterfactual=True)
        case "rgb-negatives":
            return load_rgb(rgb, negatives_only=True)
    raise ValueError(f"unknown data set {name!r} (known: {ANSWER_SETS})")


def _judge(args: argparse.Namespace, embedder: Any) -> Any:
    if not getattr(args, "judge_url", None):
        return None
    from eval.faithfulness import LLMJudge

    return LLMJudge(args.judge_url, args.judge_model, embedder, timeout_s=args.judge_timeout)


def run_eval(args: argparse.Namespace) -> int:
    from qa.settings import Settings
    from qa.wiring import Components

    settings = Settings()
    comps = Components(settings)
    targets: list[str] = args.targets
    if args.what == "compare":
        if len(targets) != 2:
            raise ValueError("compare takes two run folders: qa eval compare RUN_A RUN_B")
        from eval.compare import compare_runs

        result = compare_runs(Path(targets[0]), Path(targets[1]))
        print(result["text"])
        print(json.dumps(result["summary"]))
        return 0
    if len(targets) != 1:
        raise ValueError(f"{args.what} takes one data set or file")
    target = targets[0]
    root = Path(settings.eval_data) if Path(settings.eval_data).is_dir() else None
    name = Path(target).stem if "/" in target else target
    extra: dict[str, Any] = {}
    if args.what == "scorer":
        from eval.faithfulness import FeatureExtractor
        from eval.scorer_data import load_scorer_set
        from eval.scorer_eval import evaluate_scorer

        items = load_scorer_set(target, data_root(settings))
        writer = RunWriter(Path(args.out), args.what, name)
        if args.limit:
            items = items[: args.limit]
        judge = _judge(args, comps.embedder)
        summary = evaluate_scorer(
            items,
            FeatureExtractor(comps.embedder),
            writer,
            fit=args.fit,
            judge=judge,
            judge_limit=args.judge_limit,
        )
    elif args.what == "faithfulness":
        from eval.faithfulness_run import evaluate_faithfulness

        if not Path(target).exists():
            raise FileNotFoundError(f"no such run folder or JSONL file: {target}")
        writer = RunWriter(Path(args.out), args.what, name)
        summary = evaluate_faithfulness(
            Path(target), _scorer(args, comps), writer, limit=args.limit
        )
    else:
        ds = load_dataset(target, root)  # a bad name fails before any run folder is made
        writer = RunWriter(Path(args.out), args.what, name)
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
                abstention=not args.no_abstention and bool(ds.items and ds.items[0].gold_ids),
                scorer=_scorer(args, comps),
            )
        extra = {"dataset_notes": ds.notes}
    full = writer.finish({**summary, **extra}, settings.model_dump(mode="json"))
    from eval.report import write_report

    write_report(writer.folder, full)
    print(json.dumps(full))
    return 0


def _scorer(args: argparse.Namespace, comps: Any) -> Any:
    judge = _judge(args, comps.embedder)
    if judge is not None:
        return judge
    from eval.faithfulness import OfflineScorer

    return OfflineScorer(comps.embedder)


def run_bench(args: argparse.Namespace) -> int:
    from qa.settings import Settings
    from qa.wiring import Components

    settings = Settings()
    bbc = data_root(settings) / "bbc-news"
    if args.what == "all":
        from eval.bench_all import bench_all

        result = bench_all(settings, args.seconds, args.repeats)
        print(json.dumps({k: result[k] for k in ("date", "commit")} | {"written": "BENCHMARKS.md"}))
        return 0
    if args.what == "answer":
        from eval.bench_answer import bench_answer

        summary = bench_answer(load_dataset("rgb", data_root(settings)), Components(settings), 30)
        print(json.dumps(summary))
        return 0
    if args.what == "load":
        from eval.bench_load import bench_load, free_port

        summary = bench_load(Path(settings.data_dir), free_port(), args.seconds)
        print(json.dumps(summary))
        return 0
    if args.what == "query":
        from eval.bench_query import bench_query

        sizes = tuple(int(s) for s in str(args.sizes).split(",") if s.strip())
        summary = bench_query(bbc, sizes, args.queries, settings)
    else:
        from eval.bench_ingest import bench_ingest

        summary = bench_ingest(bbc, args.repeats, args.limit, settings)
    print(json.dumps(summary))
    return 0
