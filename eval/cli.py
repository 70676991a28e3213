"""``qa eval ...``, ``qa bench ...`` and ``qa train ...``: each eval writes a run folder
(records, summary, report) and prints one JSON summary as its last line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from eval.config import data_root, eval_root, load_dataset
from eval.faithfulness import Scorer
from eval.runs import RunWriter
from qa.settings import Settings
from qa.wiring import Components

MODES = ["local", "openai", "extractive"]


def _judge(args: argparse.Namespace, comps: Components) -> Any:
    if not getattr(args, "judge_url", None):
        return None
    from eval.faithfulness import LLMJudge

    return LLMJudge(args.judge_url, args.judge_model, comps.embedder, timeout_s=args.judge_timeout)


def _scorer(args: argparse.Namespace, comps: Components) -> Scorer:
    """The LLM judge when a server is given, else the product's verifier."""
    judge = _judge(args, comps)
    if judge is not None:
        return judge  # type: ignore[no-any-return]
    from eval.faithfulness import VerifierScorer

    return VerifierScorer(comps.verifier)


def run_eval(args: argparse.Namespace) -> int:
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
    name = Path(target).stem if "/" in target else target
    extra: dict[str, Any] = {}
    if args.what == "scorer":
        from eval.scorer_data import load_scorer_set
        from eval.scorer_eval import evaluate_scorer
        from qa.crossencoder import CrossEncoder
        from qa.verifier import Combiner, ModelVerifier

        items = load_scorer_set(target, eval_root())
        writer = RunWriter(Path(args.out), args.what, name)
        if args.limit:
            items = items[: args.limit]
        # --fit (re)fits the combiner: the shipped one may be missing or fitted on other features
        combiner = Combiner.model_only() if args.fit else Combiner.load()
        verifier = ModelVerifier(comps.similarity, CrossEncoder(), combiner)
        summary = evaluate_scorer(
            items,
            verifier,
            writer,
            fit=args.fit,
            judge=_judge(args, comps),
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
    elif args.what == "tune":
        from eval.articles import load_realtimeqa_articles
        from eval.tune_articles import tune_articles

        if target != "realtimeqa-articles":
            raise ValueError("tune takes realtimeqa-articles (with --weeks)")
        weeks = [w.strip() for w in (args.weeks or "").split(",") if w.strip()]
        ds = load_realtimeqa_articles(eval_root(), weeks)
        writer = RunWriter(Path(args.out), args.what, f"{name}-{'-'.join(weeks) or 'all'}")
        summary = tune_articles(ds, comps, writer, limit=args.limit)
        extra = {"dataset_notes": ds.notes}
    elif args.what == "answers" and target == "realtimeqa-articles":
        from eval.articles import evaluate_articles, load_realtimeqa_articles

        weeks = [w.strip() for w in (args.weeks or "").split(",") if w.strip()]
        ds = load_realtimeqa_articles(eval_root(), weeks)
        writer = RunWriter(Path(args.out), args.what, f"{name}-{'-'.join(weeks) or 'all'}")
        summary = evaluate_articles(
            ds, comps, writer, mode=args.mode, limit=args.limit, peers=not args.no_peers
        )
        extra = {"dataset_notes": ds.notes}
    else:
        ds = load_dataset(target, data_root(required=False))  # fails before a run folder
        writer = RunWriter(Path(args.out), args.what, name)
        if args.what == "retrieval":
            from eval.retrieval import evaluate_retrieval

            retriever = comps.throwaway(ds.articles)
            reranker = comps.verifier if args.rerank else None
            summary = evaluate_retrieval(ds, retriever, writer, limit=args.limit, reranker=reranker)
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
    comps.close()
    print(json.dumps(full))
    return 0


def run_bench(args: argparse.Namespace) -> int:
    settings = Settings()
    if args.what == "all":
        from eval.bench_all import bench_all

        result = bench_all(settings, args.seconds, args.repeats)
        print(json.dumps({k: result[k] for k in ("date", "commit")} | {"written": "BENCHMARKS.md"}))
        return 0
    if args.what == "llama":
        from eval.bench_llama import main as bench_llama

        return bench_llama(args.rest)
    bbc = eval_root() / "bbc-news"
    if args.what == "answer":
        from eval.bench_answer import bench_answer

        comps = Components(settings)
        summary = bench_answer(load_dataset("rgb", eval_root()), comps, 30)
        comps.close()
    elif args.what == "local":
        from eval.bench_local import bench_local

        comps = Components(settings)
        summary = bench_local(load_dataset("rgb", eval_root()), comps, 30)
        comps.close()
    elif args.what == "verifier":
        from eval.bench_verifier import bench_verifier

        comps = Components(settings)
        summary = bench_verifier(load_dataset("rgb", eval_root()), comps, 30)
        comps.close()
    elif args.what == "load":
        from eval.bench_load import bench_load, free_port

        summary = bench_load(settings, free_port(), args.seconds)
    elif args.what == "query":
        from eval.bench_query import bench_query

        sizes = tuple(int(s) for s in str(args.sizes).split(",") if s.strip())
        summary = bench_query(bbc, sizes, args.queries, settings)
    else:
        from eval.bench_ingest import bench_ingest

        summary = bench_ingest(bbc, args.repeats, args.limit, settings)
    print(json.dumps(summary))
    return 0


def run_train(args: argparse.Namespace) -> int:
    if args.what == "selector":
        from eval.train_selector import main as train_selector

        return train_selector(args)
    from eval.train_verifier import main as train_verifier

    return train_verifier(args)


def register(sub: Any) -> None:
    """Add the evaluation commands to the ``qa`` parser's subcommands."""
    p = sub.add_parser(
        "eval",
        help="evaluation: retrieval, answers, faithfulness, scorer, compare, peers, tune",
        description="retrieval|answers|peers DATASET (realtimeqa, rgb, rgb-counterfactual,"
        " rgb-negatives, or a .jsonl of your own); scorer SET (qags, qags-cnndm, qags-xsum,"
        " cliff, halueval, all); faithfulness RUN_FOLDER|JSONL; compare RUN_A RUN_B;"
        " tune realtimeqa-articles --weeks W1,W2",
    )
    p.add_argument(
        "what",
        choices=["retrieval", "answers", "faithfulness", "scorer", "compare", "peers", "tune"],
    )
    p.add_argument("targets", nargs="+", metavar="DATASET|RUN")
    p.add_argument("--mode", choices=MODES)
    p.add_argument("--limit", type=int, default=0, help="at most N items (0 = all)")
    p.add_argument("--out", default="runs", help="folder for run records")
    p.add_argument("--no-abstention", action="store_true", help="skip the gold-removed run")
    p.add_argument("--fit", action="store_true", help="scorer: refit the weights on dev items")
    p.add_argument("--weeks", help="realtimeqa-articles: week prefixes, e.g. 202301,202302")
    p.add_argument("--no-peers", action="store_true", help="skip the peer systems")
    p.add_argument(
        "--rerank",
        action="store_true",
        help="retrieval: also hybrid's top 20 reordered by the verifier's answer head",
    )
    p.add_argument("--judge-url", help="OpenAI-compatible server for the LLM judge backend")
    p.add_argument("--judge-model", default="local", help="the judge's model name")
    p.add_argument("--judge-limit", type=int, default=100, help="scorer: judge items per set")
    p.add_argument("--judge-timeout", type=float, default=60.0)
    p.set_defaults(func=run_eval)

    p = sub.add_parser("bench", help="speed benchmarks")
    p.add_argument(
        "what", choices=["ingest", "query", "answer", "local", "verifier", "load", "llama", "all"]
    )
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--limit", type=int, default=0, help="at most N articles (0 = all)")
    p.add_argument("--sizes", default="10000,100000", help="query: index sizes in chunks")
    p.add_argument("--queries", type=int, default=200, help="query: queries per size")
    p.add_argument("--seconds", type=float, default=60.0, help="load: seconds per run")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="llama: its own options")
    p.set_defaults(func=run_bench)

    p = sub.add_parser("train", help="train the project's own models")
    p.add_argument("what", choices=["verifier", "selector"])
    p.add_argument(
        "--limit",
        type=int,
        default=0,
        help="at most N training pairs (per source for the verifier)",
    )
    p.add_argument(
        "--out",
        help="folder for the model (verifier: qa/models, the shipped one; selector: runs/selector)",
    )
    p.set_defaults(func=run_train)
