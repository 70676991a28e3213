"""A fake Slack Web API over real HTTP on 127.0.0.1: records every call in order, keeps the
messages of each thread (so ``conversations.replies`` works), and can answer 429 on demand."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

BOT_USER, BOT_ID, TEAM = "UBOT", "BBOT", "T0001"


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.threads: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.rate_limit: dict[str, int] = {}  # method -> how many 429s to answer first
        self._ts = 1_700_000_000.000100
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _args(self) -> dict[str, Any]:
                parts = urlsplit(self.path)
                args: dict[str, Any] = dict(parse_qsl(parts.query))
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                ctype = self.headers.get("content-type", "")
                if raw and "json" in ctype:
                    args.update(json.loads(raw))
                elif raw:
                    args.update(dict(parse_qsl(raw.decode())))
                for key in ("blocks",):
                    if isinstance(args.get(key), str):
                        args[key] = json.loads(args[key])
                return args

            def _handle(self) -> None:
                method = urlsplit(self.path).path.rsplit("/", 1)[-1]
                args = self._args()
                status, body, headers = fake.respond(method, args)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = _handle
            do_POST = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def next_ts(self) -> str:
        with self._lock:
            self._ts += 1
            return f"{self._ts:.6f}"

    def add_message(self, channel: str, thread_ts: str, message: dict[str, Any]) -> None:
        with self._lock:
            self.threads.setdefault((channel, thread_ts), []).append(message)

    def respond(
        self, method: str, args: dict[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            self.calls.append((method, args))
            if self.rate_limit.get(method, 0) > 0:
                self.rate_limit[method] -= 1
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}
        if method == "auth.test":
            return (
                200,
                {
                    "ok": True,
                    "user_id": BOT_USER,
                    "bot_id": BOT_ID,
                    "team_id": TEAM,
                    "user": "newsqa",
                    "team": "Test",
                    "url": "https://test.slack.com/",
                },
                {},
            )
        if method == "chat.postMessage":
            ts = self.next_ts()
            msg = {"ts": ts, "user": BOT_USER, "bot_id": BOT_ID, "text": args.get("text", "")}
            thread = args.get("thread_ts")
            if thread:
                self.add_message(args["channel"], thread, msg)
            return 200, {"ok": True, "channel": args["channel"], "ts": ts, "message": msg}, {}
        if method == "chat.update":
            with self._lock:
                for messages in self.threads.values():
                    for m in messages:
                        if m["ts"] == args.get("ts"):
                            m["text"] = args.get("text", "")
            return 200, {"ok": True, "channel": args["channel"], "ts": args["ts"]}, {}
        if method == "conversations.replies":
            with self._lock:
                messages = list(self.threads.get((args["channel"], args["ts"]), []))
            return 200, {"ok": True, "messages": messages, "has_more": False}, {}
        if method == "chat.postEphemeral":
            return 200, {"ok": True, "message_ts": self.next_ts()}, {}
        return 200, {"ok": True}, {}

    def of(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [a for m, a in self.calls if m == method]

    def wait_for(self, method: str, count: int, timeout: float = 180) -> list[dict[str, Any]]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = self.of(method)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"no {count} {method} call(s) within {timeout}s: {self.calls}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def signed_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = f"v0:{ts}:".encode() + body
    sig = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}
