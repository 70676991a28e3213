"""The ``qa`` command line: ingest, list, delete, search, ask, chat, serve, run, slack,
feedback, eval, bench.

Exit status: 0 success; 1 something was skipped or failed part-way; 2 bad usage or input;
3 a backend (store, model) is unavailable.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_BACKEND = 0, 1, 2, 3
SAMPLE_QUESTION = "What did China and Russia propose at Guilin?"
EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"


class CLIError(Exception):
    def __init__(self, message: str, status: int = EXIT_USAGE):
        super().__init__(message)
        self.status = status


def _components(args: argparse.Namespace) -> Any:
    from qa.settings import Settings
    from qa.wiring import Components

    try:
        settings = Settings()
    except ValidationError as exc:
        raise CLIError(f"invalid configuration: {exc}") from None
    return Components(settings)


def _filters(args: argparse.Namespace) -> Any:
    from index.dates import parse_day
    from index.model import Filters

    try:
        return Filters(
            sources=tuple(args.source or ()),
            date_from=parse_day(args.date_from) if args.date_from else None,
            date_to=parse_day(args.date_to) if args.date_to else None,
        )
    except ValueError as exc:
        raise CLIError(f"bad filter: {exc}") from None


def cmd_ingest(args: argparse.Namespace) -> int:
    comps = _components(args)
    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing and len(missing) == len(paths):
        raise CLIError(f"no such file or directory: {', '.join(missing)}")
    from index.parse import iter_files

    total = sum(1 for _ in iter_files(p for p in paths if p.exists()))
    bar = _progress(total, "ingest", unit="article")
    try:
        report = comps.ingester.ingest_paths(paths, progress=bar.update if bar else None)
    finally:
        if bar:
            bar.close()
    for item, reason in report.skipped:
        print(f"warning: skipped {item}: {reason}", file=sys.stderr)
    summary = report.as_dict()
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"{summary['files']} file(s): {summary['added']} added, {summary['updated']} updated,"
            f" {summary['unchanged']} unchanged, {len(report.skipped)} skipped;"
            f" {summary['chunks']} chunk(s) written"
        )
    return EXIT_PARTIAL if report.skipped else EXIT_OK


def _progress(total: int, desc: str, unit: str) -> Any:
    if total < 20 or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr)


def cmd_list(args: argparse.Namespace) -> int:
    comps = _components(args)
    records = comps.store.list_articles(offset=args.offset, limit=args.limit)
    rows = [
        {
            "id": r.article.id,
            "title": r.article.title,
            "source": r.article.source,
            "published": r.article.published.iso() if r.article.published else None,
            "chunks": r.n_chunks,
            "path": r.article.path,
            "url": r.article.url,
        }
        for r in records
    ]
    if args.json:
        print(json.dumps({"total": comps.store.count_articles(), "articles": rows}))
    else:
        for row in rows:
            date = row["published"] or "-"
            print(f"{row['id']}  {date:<10}  {row['source'] or '-':<8}  {row['title']}")
        print(f"({len(rows)} shown of {comps.store.count_articles()})")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    comps = _components(args)
    status = EXIT_OK
    for article_id in args.ids:
        if comps.ingester.delete(article_id):
            print(f"deleted {article_id}")
        else:
            print(f"error: no article with id {article_id!r}", file=sys.stderr)
            status = EXIT_USAGE
    return status


def cmd_search(args: argparse.Namespace) -> int:
    if not args.query.strip():
        raise CLIError("the query is empty")
    filters = _filters(args)
    comps = _components(args)
    passages = comps.retriever.search(args.query, k=args.k, filters=filters, method=args.method)
    if args.json:
        print(json.dumps({"query": args.query, "passages": [_passage_json(p) for p in passages]}))
        return EXIT_OK
    if not passages:
        print("no passages found")
    for i, p in enumerate(passages, 1):
        meta = ", ".join(x for x in (p.source, p.published) if x)
        print(f"[{i}] {p.title}" + (f" ({meta})" if meta else "") + f"  score={p.score:.4f}")
        print(f"    {p.article_id} chars {p.start}-{p.end}")
        print("    " + p.text[:300].replace("\n", " ") + ("..." if len(p.text) > 300 else ""))
    return EXIT_OK


def _passage_json(p: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(p)


def cmd_run(args: argparse.Namespace) -> int:
    """The main job: ingest the sample corpus if the index is empty, then answer/serve."""
    comps = _components(args)
    if comps.store.count_articles() == 0:
        print(f"index is empty: ingesting the sample corpus from {EXAMPLES_DIR}")
        report = comps.ingester.ingest_paths([EXAMPLES_DIR])
        print(f"ingested {len(report.added)} article(s), {report.chunks} chunk(s)")
    if args.no_serve:
        return _ask(comps, SAMPLE_QUESTION, mode=None, as_json=False)
    comps.store.close()  # the server opens its own
    return _serve(args.host, args.port, 1)


def _serve(host: str, port: int, workers: int) -> int:
    from api.server import serve

    try:
        return serve(host, port, workers)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def cmd_slack(args: argparse.Namespace) -> int:
    from api.slack.socket import run_socket_mode

    comps = _components(args)
    try:
        return run_socket_mode(comps.settings)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def cmd_feedback(args: argparse.Namespace) -> int:
    """Write the Slack 👍/👎 feedback as JSONL (one vote per line), readable by the eval."""
    from api.slack.store import SlackMemory

    comps = _components(args)
    path = comps.data_dir / "slack.sqlite3"
    if not path.exists():
        raise CLIError(f"no Slack feedback yet ({path} does not exist)")
    memory = SlackMemory(path)
    try:
        rows = list(memory.feedback())
    finally:
        memory.close()
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if args.out == "-":
        sys.stdout.write(lines)
    else:
        Path(args.out).write_text(lines, encoding="utf-8")
        print(f"{len(rows)} feedback record(s) written to {args.out}", file=sys.stderr)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    _components(args)  # a bad configuration fails here, with the CLI's message
    return _serve(args.host, args.port, args.workers)


def _ask(comps: Any, question: str, mode: str | None, as_json: bool, as_of: Any = None) -> int:
    from qa.engine_cli import ask_once

    return ask_once(comps, question, mode=mode, as_json=as_json, as_of=as_of)


def cmd_ask(args: argparse.Namespace) -> int:
    if not args.question.strip():
        raise CLIError("the question is empty")
    as_of = None
    if args.as_of:
        from index.dates import parse_day

        try:
            as_of = parse_day(args.as_of)
        except ValueError as exc:
            raise CLIError(f"bad --as-of: {exc}") from None
    return _ask(_components(args), args.question, args.mode, args.json, as_of)


def cmd_chat(args: argparse.Namespace) -> int:
    from qa.engine_cli import chat_loop

    return chat_loop(_components(args), args.mode)


def cmd_eval(args: argparse.Namespace) -> int:
    from eval.cli import run_eval

    return run_eval(args)


def cmd_bench(args: argparse.Namespace) -> int:
    from eval.cli import run_bench

    return run_bench(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="ingest files and folders (recursively)")
    p.add_argument("paths", nargs="+")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("list", help="list stored articles")
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("delete", help="delete articles by id")
    p.add_argument("ids", nargs="+")
    p.set_defaults(func=cmd_delete)

    def add_filters(p: argparse.ArgumentParser) -> None:
        p.add_argument("--source", action="append", help="only this source (repeatable)")
        p.add_argument("--from", dest="date_from", help="published on or after YYYY-MM-DD")
        p.add_argument("--to", dest="date_to", help="published on or before YYYY-MM-DD")

    p = sub.add_parser("search", help="hybrid search over the stored chunks")
    p.add_argument("query")
    p.add_argument("--k", type=int, default=5, choices=range(1, 101), metavar="N")
    p.add_argument("--method", choices=["hybrid", "dense", "bm25"], default="hybrid")
    p.add_argument("--json", action="store_true")
    add_filters(p)
    p.set_defaults(func=cmd_search)

    modes = ["local", "openai", "extractive"]
    p = sub.add_parser("ask", help="answer a question with cited sources")
    p.add_argument("question")
    p.add_argument("--mode", choices=modes)
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--as-of", help="YYYY-MM-DD that 'this week', 'last year' ... mean (default: today)"
    )
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("serve", help="serve the HTTP API and chat page (uvicorn)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000, choices=range(1, 65536), metavar="PORT")
    p.add_argument("--workers", type=int, default=1, choices=range(1, 65), metavar="N")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("slack", help="run the Slack bot over Socket Mode (no public URL needed)")
    p.set_defaults(func=cmd_slack)

    p = sub.add_parser("feedback", help="Slack feedback")
    p.add_argument("what", choices=["export"])
    p.add_argument("--out", default="-", help="JSONL file (default: standard output)")
    p.set_defaults(func=cmd_feedback)

    p = sub.add_parser("chat", help="interactive chat in the terminal")
    p.add_argument("--mode", choices=modes)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("run", help="ingest the sample corpus if empty, then serve")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--no-serve", action="store_true", help="answer the sample question and exit")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "eval",
        help="evaluation: retrieval, answers, faithfulness, scorer, compare, peers",
        description="retrieval|answers|peers DATASET (realtimeqa, rgb, rgb-counterfactual,"
        " rgb-negatives, or a .jsonl of your own); scorer SET (qags, qags-cnndm, qags-xsum,"
        " cliff, halueval, all); faithfulness RUN_FOLDER|JSONL; compare RUN_A RUN_B",
    )
    p.add_argument(
        "what", choices=["retrieval", "answers", "faithfulness", "scorer", "compare", "peers"]
    )
    p.add_argument("targets", nargs="+", metavar="DATASET|RUN")
    p.add_argument("--mode", choices=modes)
    p.add_argument("--limit", type=int, default=0, help="at most N items (0 = all)")
    p.add_argument("--out", default="runs", help="folder for run records")
    p.add_argument("--no-abstention", action="store_true", help="skip the gold-removed run")
    p.add_argument("--fit", action="store_true", help="scorer: refit the weights on dev items")
    p.add_argument("--judge-url", help="OpenAI-compatible server for the LLM judge backend")
    p.add_argument("--judge-model", default="local", help="the judge's model name")
    p.add_argument("--judge-limit", type=int, default=100, help="scorer: judge items per set")
    p.add_argument("--judge-timeout", type=float, default=60.0)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("bench", help="speed benchmarks")
    p.add_argument("what", choices=["ingest", "query", "answer", "load", "all"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--limit", type=int, default=0, help="at most N articles (0 = all)")
    p.add_argument("--sizes", default="10000,100000", help="query: index sizes in chunks")
    p.add_argument("--queries", type=int, default=200, help="query: queries per size")
    p.add_argument("--seconds", type=float, default=60.0, help="load: seconds per run")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("chromadb", "httpx", "sentence_transformers", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    from index.errors import StoreUnavailable
    from qa.errors import BackendUnavailable, InputError

    try:
        return int(args.func(args))
    except CLIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.status
    except (InputError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (StoreUnavailable, BackendUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BACKEND
    except KeyboardInterrupt:
        print("interrupted; the next run repairs anything half-written", file=sys.stderr)
        return 130
