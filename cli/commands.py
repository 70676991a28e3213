"""The archive's commands: ingest, list, delete, search, ask, chat, run."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cli.terminal import ask_once, chat_loop
from index.dates import parse_day
from index.model import Filters
from qa.settings import Settings
from qa.wiring import Components

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_BACKEND = 0, 1, 2, 3
SAMPLE_QUESTION = "What did China and Russia propose at Guilin?"
EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
MODES = ["local", "openai", "extractive"]


class CLIError(Exception):
    def __init__(self, message: str, status: int = EXIT_USAGE):
        super().__init__(message)
        self.status = status


def components(repair: bool = True) -> Components:
    """The parts for this process, built from the environment; a half-written earlier run
    is repaired first (this process is a start-up)."""
    comps = Components(Settings())
    if repair:
        comps.repair()
    return comps


def _filters(args: argparse.Namespace) -> Filters:
    try:
        return Filters(
            sources=tuple(args.source or ()),
            date_from=parse_day(args.date_from) if args.date_from else None,
            date_to=parse_day(args.date_to) if args.date_to else None,
        )
    except ValueError as exc:
        raise CLIError(f"bad filter: {exc}") from None


def cmd_ingest(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing and len(missing) == len(paths):
        raise CLIError(f"no such file or directory: {', '.join(missing)}")
    comps = components()
    from index.bulk import BULK_EXT, is_bulk
    from index.parse import iter_files

    total = 0  # the bar counts articles, and records of bulk files
    for f in iter_files(p for p in paths if p.exists()):
        if is_bulk(f) and f.suffix.lower() in BULK_EXT:
            with f.open("rb") as fh:
                total += sum(1 for line in fh if line.strip())
        else:
            total += 1
    bar = _progress(total, "ingest", unit="record")
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
    comps = components(repair=False)
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
    total = comps.store.count_articles()
    if args.json:
        print(json.dumps({"total": total, "articles": rows}))
    else:
        for row in rows:
            date = row["published"] or "-"
            print(f"{row['id']}  {date:<10}  {row['source'] or '-':<8}  {row['title']}")
        print(f"({len(rows)} shown of {total})")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    comps = components(repair=False)
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
    comps = components()
    passages = comps.retriever.search(args.query, k=args.k, filters=filters, method=args.method)
    if args.json:
        print(json.dumps({"query": args.query, "passages": [asdict(p) for p in passages]}))
        return EXIT_OK
    if not passages:
        print("no passages found")
    for i, p in enumerate(passages, 1):
        meta = ", ".join(x for x in (p.source, p.published) if x)
        print(f"[{i}] {p.title}" + (f" ({meta})" if meta else "") + f"  score={p.score:.4f}")
        print(f"    {p.article_id} chars {p.start}-{p.end}")
        print("    " + p.text[:300].replace("\n", " ") + ("..." if len(p.text) > 300 else ""))
    return EXIT_OK


def cmd_ask(args: argparse.Namespace) -> int:
    if not args.question.strip():
        raise CLIError("the question is empty")
    as_of: dt.date | None = None
    if args.as_of:
        try:
            as_of = parse_day(args.as_of)
        except ValueError as exc:
            raise CLIError(f"bad --as-of: {exc}") from None
    comps = components()
    try:
        return ask_once(comps.engine, args.question, args.mode, args.json, as_of)
    finally:
        comps.close()


def cmd_chat(args: argparse.Namespace) -> int:
    comps = components()
    try:
        return chat_loop(comps.engine, args.mode)
    finally:
        comps.close()


def cmd_run(args: argparse.Namespace) -> int:
    """The main job: ingest the sample corpus if the index is empty, then answer/serve."""
    comps = components()
    if comps.store.count_articles() == 0:
        print(f"index is empty: ingesting the sample corpus from {EXAMPLES_DIR}")
        report = comps.ingester.ingest_paths([EXAMPLES_DIR])
        print(f"ingested {len(report.added)} article(s), {report.chunks} chunk(s)")
    if args.no_serve:
        try:
            return ask_once(comps.engine, SAMPLE_QUESTION, None, False)
        finally:
            comps.close()
    comps.store.close()  # the server opens its own
    from api.server import serve

    return serve(args.host, args.port, 1)


def register(sub: Any) -> None:
    """Add the archive's commands to the ``qa`` parser's subcommands."""
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

    p = sub.add_parser("search", help="hybrid search over the stored chunks")
    p.add_argument("query")
    p.add_argument("--k", type=int, default=5, choices=range(1, 101), metavar="N")
    p.add_argument("--method", choices=["hybrid", "dense", "bm25"], default="hybrid")
    p.add_argument("--json", action="store_true")
    p.add_argument("--source", action="append", help="only this source (repeatable)")
    p.add_argument("--from", dest="date_from", help="published on or after YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", help="published on or before YYYY-MM-DD")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer a question with cited sources")
    p.add_argument("question")
    p.add_argument("--mode", choices=MODES)
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--as-of", help="YYYY-MM-DD that 'this week', 'last year' ... mean (default: today)"
    )
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="interactive chat in the terminal")
    p.add_argument("--mode", choices=MODES)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("run", help="ingest the sample corpus if empty, then serve")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--no-serve", action="store_true", help="answer the sample question and exit")
    p.set_defaults(func=cmd_run)
