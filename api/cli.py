"""The API's commands for ``qa``: serve, slack, mcp, feedback."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from qa.settings import Settings


def cmd_serve(args: argparse.Namespace) -> int:
    from api.server import serve

    return serve(args.host, args.port, args.workers)


def cmd_slack(args: argparse.Namespace) -> int:
    from api.slack.socket import run_socket_mode

    return run_socket_mode(Settings())


def cmd_mcp(args: argparse.Namespace) -> int:
    """The MCP server over stdio (for desktop assistants and agents)."""
    from api.mcp.server import build_mcp
    from api.queue import AnswerQueue
    from qa.wiring import Components

    settings = Settings()
    comps = Components(settings)
    comps.repair()
    api = settings.api
    answers = AnswerQueue(comps.engine, api.answer_workers, api.queue_size)
    try:
        build_mcp(answers, comps.archive).run("stdio")
    finally:
        comps.close()
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    """Write the Slack 👍/👎 feedback as JSONL (one vote per line), readable by the eval."""
    from api.slack.store import SlackMemory

    path = Settings().data_dir / "slack.sqlite3"
    if not path.exists():
        raise FileNotFoundError(f"no Slack feedback yet ({path} does not exist)")
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
    return 0


def register(sub: Any) -> None:
    """Add the API's commands to the ``qa`` parser's subcommands."""
    p = sub.add_parser("serve", help="serve the HTTP API and chat page (uvicorn)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000, choices=range(1, 65536), metavar="PORT")
    p.add_argument("--workers", type=int, default=1, choices=range(1, 65), metavar="N")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("slack", help="run the Slack bot over Socket Mode (no public URL needed)")
    p.set_defaults(func=cmd_slack)

    p = sub.add_parser("mcp", help="the MCP server over stdio (ask_news, search_news, ...)")
    p.set_defaults(func=cmd_mcp)

    p = sub.add_parser("feedback", help="Slack feedback")
    p.add_argument("what", choices=["export"])
    p.add_argument("--out", default="-", help="JSONL file (default: standard output)")
    p.set_defaults(func=cmd_feedback)
