"""The ``qa`` command line: ingest, list, delete, search, ask, chat, run (here); serve, slack,
feedback (``api``); eval, bench, train (``eval``).

Exit status: 0 success; 1 something was skipped or failed part-way; 2 bad usage or input;
3 a backend (store, model) is unavailable.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from cli import commands, feeds
from cli.commands import EXIT_BACKEND, EXIT_USAGE, CLIError
from qa.errors import BackendUnavailable, InputError


def build_parser() -> argparse.ArgumentParser:
    import api.cli
    import eval.cli

    parser = argparse.ArgumentParser(prog="qa", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)
    commands.register(sub)
    feeds.register(sub)
    api.cli.register(sub)
    eval.cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("chromadb", "httpx", "sentence_transformers", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        return int(args.func(args))
    except CLIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.status
    except ValidationError as exc:
        print(f"error: invalid configuration: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (InputError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BackendUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BACKEND
    except KeyboardInterrupt:
        print("interrupted; the next run repairs anything half-written", file=sys.stderr)
        return 130
