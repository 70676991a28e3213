"""A stand-in for ``qa.llama_worker`` speaking its protocol, for supervisor and crash tests.

    python tests/fake_llama_worker.py MODE [--delay S] [--state FILE]

MODE ``answer``: every request streams ``ANSWER`` word by word, ``--delay`` seconds apart;
``die-at-start``: SIGSEGV before reporting ready; ``hang``: ready, then never answers;
``die-once``: like ``answer``, but the first process to use ``--state`` dies with SIGSEGV at
start (later ones answer).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

ANSWER = (
    "China and Russia proposed to establish a regional security dialogue platform. "
    "The foreign ministers met in Guilin. "
    "They said the platform would address the concerns of countries in the region. "
)


def main() -> None:
    mode = sys.argv[1]
    delay = float(sys.argv[sys.argv.index("--delay") + 1]) if "--delay" in sys.argv else 0.05
    state = Path(sys.argv[sys.argv.index("--state") + 1]) if "--state" in sys.argv else None
    if mode == "die-at-start" or (mode == "die-once" and state and not state.exists()):
        if state is not None:
            state.write_text("died once")
        os.kill(os.getpid(), signal.SIGSEGV)
    print(json.dumps({"ready": True, "pid": os.getpid(), "backend": "fake"}), flush=True)
    cancelled: set[int] = set()
    requests: list[dict[str, object]] = []
    cond = threading.Condition()

    def read() -> None:
        for line in sys.stdin:
            msg = json.loads(line)
            with cond:
                if msg.get("op") == "cancel":
                    cancelled.add(int(msg["id"]))
                else:
                    requests.append(msg)
                    cond.notify()
        os._exit(0)

    threading.Thread(target=read, daemon=True).start()
    while True:
        with cond:
            while not requests:
                cond.wait()
            msg = requests.pop(0)
        if mode == "hang":
            time.sleep(3600)
        rid = int(msg["id"])
        words = ANSWER.split(" ")
        for i, word in enumerate(words):
            if rid in cancelled:
                break
            piece = word if i == 0 else " " + word
            print(json.dumps({"id": rid, "piece": piece}), flush=True)
            time.sleep(delay)
        usage = {"prompt_tokens": 100, "completion_tokens": len(words)}
        print(json.dumps({"id": rid, "done": True, "usage": usage}), flush=True)


if __name__ == "__main__":
    main()
