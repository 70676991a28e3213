"""``qa feeds add URL [--every 15m] | list | remove ID | poll [ID]``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from cli.commands import EXIT_OK, EXIT_PARTIAL, CLIError, components


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def cmd_feeds(args: argparse.Namespace) -> int:
    if args.action in ("add", "remove") and not args.target:
        raise CLIError(
            f"qa feeds {args.action} needs a {'URL' if args.action == 'add' else 'feed id'}"
        )
    comps = components(repair=args.action == "poll")
    feeds = comps.feeds
    try:
        if args.action == "add":
            feed = feeds.add(args.target, args.every)
            print(f"following {feed['url']} as {feed['id']} every {feed['every_s']:g} s")
            return EXIT_OK
        if args.action == "remove":
            feed = feeds.remove(args.target)
            print(f"no longer following {feed['url']} ({feed['id']}); its articles stay stored")
            return EXIT_OK
        if args.action == "list":
            rows = feeds.all()
            if args.json:
                print(json.dumps(rows))
                return EXIT_OK
            for f in rows:
                status = f"error: {f['last_error']}" if f["last_error"] else "ok"
                print(
                    f"{f['id']}  every {f['every_s']:g}s  ingested {f['items_ingested']}"
                    f" (fetched {f['fetched']}, skipped {f['skipped']}, failed {f['failed']})"
                    f"  last success {_when(f['last_success'])}  next {_when(f['next_poll'])}"
                    f"  {status}\n    {f['url']}"
                )
            print(f"({len(rows)} feed(s))")
            return EXIT_OK
        reports = feeds.poll(args.target) if args.target else feeds.poll_all()
        out: list[dict[str, Any]] = [r.as_dict() for r in reports]
        print(json.dumps(out) if args.json else "\n".join(_line(r) for r in out))
        return EXIT_PARTIAL if any(r["error"] or r["failed"] for r in out) else EXIT_OK
    finally:
        comps.close()


def _line(r: dict[str, Any]) -> str:
    if r["error"]:
        return f"{r['feed']}: failed: {r['error']}"
    if r["not_modified"]:
        return f"{r['feed']}: not modified"
    lines = [
        f"{r['feed']}: {r['items']} item(s): {r['ingested']} ingested, {r['unchanged']}"
        f" unchanged, {len(r['skipped'])} skipped, {len(r['failed'])} failed"
    ]
    lines += [f"  skipped {x['item']}: {x['reason']}" for x in r["skipped"] + r["failed"]]
    return "\n".join(lines)


def register(sub: Any) -> None:
    p = sub.add_parser("feeds", help="follow RSS/Atom feeds and sitemaps")
    p.add_argument("action", choices=["add", "list", "remove", "poll"])
    p.add_argument("target", nargs="?", help="add: the feed URL; remove/poll: the feed id")
    p.add_argument("--every", help="add: polling interval (15m, 1h, ...)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_feeds)
