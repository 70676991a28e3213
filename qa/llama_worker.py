"""The local model's child process: ``python -m qa.llama_worker MODEL [--ctx N] [--threads N]``.

It loads the model with llama.cpp and answers JSON lines on stdin, one request at a time:

    -> {"id": 1, "op": "run", "text": ..., "chat": true, "max_tokens": 160, "stop": [...],
        "repeat_penalty": 1.15}
    -> {"id": 1, "op": "cancel"}                      (stop generating; "done" follows)
    <- {"ready": true, "pid": ..., "backend": "..."}  (once, after loading)
    <- {"id": 1, "piece": "..."} ... {"id": 1, "done": true, "usage": {...}}
    <- {"id": 1, "error": "..."}

Its protocol owns the real stdout; anything native code prints goes to stderr. It exits when
stdin closes or its parent is gone, so it never outlives the process that started it, even
one killed with SIGKILL.

``--self-check`` instead runs one generation over a prompt of at least 1,000 tokens and exits
0: the set-up's check that llama.cpp's code runs on this CPU (a build that does not dies here,
in a child, with the signal named by ``qa.supervisor.self_check``).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from qa.local_model import Completion, InProcessLlama

SELF_CHECK_TEXT = (
    "Beijing, Mar 23 (PTI) China and Russia proposed to establish a regional security dialogue"
    " platform as their foreign ministers met in the southern Chinese city of Guilin. "
)


def _protocol_stdout() -> TextIO:
    """Keep the real stdout for the protocol and send fd 1 (native prints) to stderr."""
    fd = os.dup(1)
    os.dup2(2, 1)
    return os.fdopen(fd, "w", buffering=1, encoding="utf-8")


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(0)  # reparented: the parent died without closing our stdin
        time.sleep(0.5)


def serve(model: Path, ctx: int, threads: int) -> int:
    out = _protocol_stdout()
    parent = os.getppid()
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    llm = InProcessLlama(model, ctx, threads)
    lock = threading.Lock()

    def send(obj: dict[str, Any]) -> None:
        with lock:
            out.write(json.dumps(obj, ensure_ascii=False) + "\n")

    requests: queue.Queue[dict[str, Any]] = queue.Queue()
    cancelled: set[int] = set()

    def read() -> None:
        for line in sys.stdin:
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                send({"error": f"not JSON: {line[:80]!r}"})
                continue
            if msg.get("op") == "cancel":
                cancelled.add(int(msg.get("id", -1)))
            else:
                requests.put(msg)
        os._exit(0)  # stdin closed: the parent is gone or done with us

    threading.Thread(target=read, daemon=True).start()
    send({"ready": True, "pid": os.getpid(), "backend": llm.backend()})
    while True:
        msg = requests.get()
        rid = int(msg.get("id", 0))
        try:
            request = Completion(
                text=str(msg["text"]),
                chat=bool(msg.get("chat", True)),
                max_tokens=int(msg.get("max_tokens", 160)),
                stop=tuple(str(s) for s in msg.get("stop", ())),
                repeat_penalty=float(msg.get("repeat_penalty", 1.0)),
            )
            pieces = llm.run(request)
            for piece in pieces:
                send({"id": rid, "piece": piece})
                if rid in cancelled:
                    close = getattr(pieces, "close", None)
                    if close is not None:
                        close()
                    break
            u = llm.usage
            usage = {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens}
            send({"id": rid, "done": True, "usage": usage, "finish_reason": u.finish_reason})
        except Exception as exc:  # a bad request or a model error: this request fails, not us
            send({"id": rid, "error": f"{type(exc).__name__}: {exc}"})
        cancelled.discard(rid)


def self_check(model: Path, ctx: int, threads: int, tokens: int) -> int:
    """Evaluate a prompt of at least ``tokens`` tokens in one batch, then generate."""
    llm = InProcessLlama(model, ctx, threads)
    text = SELF_CHECK_TEXT
    while llm.count(text) < tokens:
        text += SELF_CHECK_TEXT
    question = f"{text}\nWhat did China and Russia propose?"
    t0 = time.perf_counter()
    answer = "".join(llm.run(Completion(question, True, 24)))
    seconds = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "ok": True,
                "prompt_tokens": llm.usage.prompt_tokens,
                "seconds": round(seconds, 2),
                "answer": answer.strip()[:120],
                "backend": llm.backend(),
            }
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qa.llama_worker")
    ap.add_argument("model", type=Path)
    ap.add_argument("--ctx", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--self-check", action="store_true")
    ap.add_argument("--tokens", type=int, default=1000, help="self-check prompt length")
    args = ap.parse_args(argv)
    if args.self_check:
        return self_check(args.model, args.ctx, args.threads, args.tokens)
    return serve(args.model, args.ctx, args.threads)


if __name__ == "__main__":
    raise SystemExit(main())
