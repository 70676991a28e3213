"""The local model in a supervised child process (``qa.llama_worker``), behind a pipe.

Why a pipe and not llama-cpp-python's own HTTP server: both keep native crashes out of this
process; the pipe needs no port, no HTTP framing per token and no second web stack, and its end
closing is how the child learns that its parent is gone (measured overhead: BENCHMARKS.md).

When the child dies (SIGILL, SIGSEGV, an OOM kill) or stays silent past ``piece_timeout_s``, the
request in flight fails with ``ModelCrashed`` (a ``GeneratorUnavailable``), which the engine
turns into the extractive answer with a warning. The supervisor then restarts the child in the
background with back-off; after ``max_failed_starts`` failed starts in a row it gives up, says
why in ``state()`` (readiness), and tries again ``retry_after_s`` later. Children are killed
when this process exits; a child also exits by itself when its stdin closes.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from qa.errors import GeneratorTimeout, GeneratorUnavailable, ModelCrashed
from qa.local_model import Completion, Usage

log = logging.getLogger(__name__)
_LIVE: weakref.WeakSet[SupervisedLlama] = weakref.WeakSet()


def describe_exit(returncode: int | None) -> str:
    """'killed by SIGILL (illegal instruction)', 'exited with status 1'."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        sig = signal.Signals(-returncode)
        return f"killed by {sig.name} ({signal.strsignal(sig) or sig.name})".replace(
            "Illegal instruction", "illegal instruction"
        )
    return f"exited with status {returncode}"


@dataclass
class SupervisorStats:
    crashes: int = 0  # children that died or hung while running
    restarts: int = 0  # successful starts after the first
    failed_starts: int = 0  # starts that never became ready
    hangs: int = 0  # of the crashes: killed for silence past the timeout
    last_crash: str = ""


@dataclass
class _Child:
    proc: subprocess.Popen[str]
    lines: queue.Queue[dict[str, Any] | None]
    backend: str = ""
    stderr_tail: list[str] = field(default_factory=list)


def _read_lines(
    stream: IO[str], sink: queue.Queue[dict[str, Any] | None], tail: list[str] | None
) -> None:
    for line in stream:
        if tail is not None:
            tail.append(line.rstrip())
            del tail[:-20]
            continue
        try:
            sink.put(json.loads(line))
        except json.JSONDecodeError:
            log.warning("local model wrote a line that is not JSON: %r", line[:120])
    if tail is None:
        sink.put(None)  # end of stdout: the child is gone


class SupervisedLlama:
    """A ``Runner`` whose model lives in a child process it starts, watches and restarts."""

    def __init__(
        self,
        model_path: Path,
        *,
        context_tokens: int = 2048,
        threads: int = 0,
        load_timeout_s: float = 120.0,
        piece_timeout_s: float = 60.0,
        max_failed_starts: int = 3,
        backoff_s: Sequence[float] = (0.5, 2.0, 8.0),
        retry_after_s: float = 60.0,
        command: Sequence[str] | None = None,
    ):
        self.model_path = model_path
        self.command = list(command) if command else self._command(context_tokens, threads)
        self.load_timeout_s = load_timeout_s
        self.piece_timeout_s = piece_timeout_s
        self.max_failed_starts = max_failed_starts
        self.backoff_s = tuple(backoff_s)
        self.retry_after_s = retry_after_s
        self.stats = SupervisorStats()
        self.usage = Usage()
        self._child: _Child | None = None
        # one request at a time; a plain Lock, since the API advances a stream from whichever
        # worker thread is free (an RLock must be released by the thread that took it)
        self._lock = threading.Lock()
        self._restarting: threading.Thread | None = None
        self._gave_up: tuple[float, str] | None = None  # (when, why)
        self._started_once = False
        self._ids = 0
        _LIVE.add(self)

    def _command(self, ctx: int, threads: int) -> list[str]:
        args = [sys.executable, "-m", "qa.llama_worker", str(self.model_path), "--ctx", str(ctx)]
        return [*args, "--threads", str(threads)]

    # --- lifecycle -----------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        child = self._child
        return child.proc.pid if child is not None and child.proc.poll() is None else None

    def state(self) -> str:
        """'ready (pid N; ...)', 'restarting after a crash ...', 'gave up ...' or 'not started'."""
        child = self._child
        if child is not None and child.proc.poll() is None:
            return f"ready (pid {child.proc.pid}; {child.backend or 'llama.cpp'})"
        if self._restarting is not None and self._restarting.is_alive():
            return f"restarting after a crash ({self.stats.last_crash})"
        if self._gave_up is not None:
            when, why = self._gave_up
            wait = max(0.0, when + self.retry_after_s - time.monotonic())
            return (
                f"gave up after {self.max_failed_starts} failed starts in a row ({why});"
                f" next try in {wait:.0f} s"
            )
        return "not started"

    def check(self) -> None:
        """Start the child if needed; raise GeneratorUnavailable when it cannot answer now.
        Never waits for an answer in progress (a busy model is a running one)."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            self._ensure()
        finally:
            self._lock.release()

    def stop(self) -> None:
        with self._lock:
            child, self._child = self._child, None
        if child is not None:
            _kill(child.proc)

    def _ensure(self) -> _Child:
        child = self._child
        if child is not None:
            if child.proc.poll() is None:
                return child
            self._crashed(child, hang=False, restart=False)  # died while idle: start it now
        if self._restarting is not None and self._restarting.is_alive():
            raise GeneratorUnavailable(
                f"the local model is restarting after a crash ({self.stats.last_crash})"
            )
        if self._gave_up is not None:
            when, _ = self._gave_up
            if time.monotonic() - when < self.retry_after_s:
                raise GeneratorUnavailable(f"the local model is unavailable: {self.state()}")
        # first start, or a new round after giving up: one attempt now, the rest with back-off
        try:
            return self._start()
        except GeneratorUnavailable as exc:
            self._restart_later(str(exc), attempts_made=1)
            raise

    def _start(self) -> _Child:
        """Start a child and wait until it has loaded the model (or died trying)."""
        proc = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
            start_new_session=True,  # a Ctrl-C to the terminal is ours to handle, not its
        )
        assert proc.stdout is not None and proc.stderr is not None
        lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        child = _Child(proc, lines)
        for stream, tail in ((proc.stdout, None), (proc.stderr, child.stderr_tail)):
            threading.Thread(
                target=_read_lines, args=(stream, lines, tail), daemon=True, name="llama-pipe"
            ).start()
        try:
            first = lines.get(timeout=self.load_timeout_s)
        except queue.Empty:
            _kill(proc)
            self.stats.failed_starts += 1
            raise GeneratorUnavailable(
                f"the local model did not load within {self.load_timeout_s:g} s"
            ) from None
        if first is None or not first.get("ready"):
            proc.wait(timeout=10)
            self.stats.failed_starts += 1
            why = describe_exit(proc.returncode)
            detail = next((x for x in reversed(child.stderr_tail) if x.strip()), "")
            log.error("local model process failed to start: %s %s", why, detail)
            raise GeneratorUnavailable(
                f"the local model process {why} before it was ready"
                + (f": {detail[:200]}" if detail else "")
            )
        child.backend = str(first.get("backend", ""))
        if self._started_once:
            self.stats.restarts += 1
        self._started_once = True
        self._gave_up = None
        self._child = child
        log.info("local model ready in pid %d (%s)", proc.pid, child.backend)
        return child

    def _restart_later(self, why: str, attempts_made: int = 0) -> None:
        """Restart in the background with back-off; give up after too many failed starts."""

        def loop() -> None:
            last = why
            for attempt in range(attempts_made, self.max_failed_starts):
                time.sleep(self.backoff_s[min(attempt, len(self.backoff_s) - 1)])
                with self._lock:
                    try:
                        self._start()
                        return
                    except GeneratorUnavailable as exc:
                        last = str(exc)
            with self._lock:
                self._gave_up = (time.monotonic(), last)
            log.error(
                "local model: gave up after %d failed starts (%s)", self.max_failed_starts, last
            )

        if attempts_made >= self.max_failed_starts:
            self._gave_up = (time.monotonic(), why)
            return
        self._restarting = threading.Thread(target=loop, daemon=True, name="llama-restart")
        self._restarting.start()

    def _crashed(self, child: _Child, hang: bool, restart: bool = True) -> str:
        if hang:
            _kill(child.proc)
        try:
            child.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _kill(child.proc)
        why = (
            f"did not answer within {self.piece_timeout_s:g} s and was killed"
            if hang
            else describe_exit(child.proc.returncode)
        )
        self.stats.crashes += 1
        self.stats.hangs += int(hang)
        self.stats.last_crash = why
        log.error("local model process %d %s; restarting it", child.proc.pid, why)
        if self._child is child:
            self._child = None
        if restart:
            self._restart_later(why)
        return why

    # --- answering -----------------------------------------------------------------------------

    def run(self, request: Completion) -> Iterator[str]:
        with self._lock:
            child = self._ensure()
            self._ids += 1
            rid = self._ids
            self.usage = Usage()
            try:
                _send(child, {"id": rid, "op": "run", **request.to_json()})
            except OSError:
                why = self._crashed(child, hang=False)
                raise ModelCrashed(
                    f"the local model crashed: process {child.proc.pid} {why}"
                ) from None
            finished = False
            try:
                while True:
                    try:
                        msg = child.lines.get(timeout=self.piece_timeout_s)
                    except queue.Empty:
                        why = self._crashed(child, hang=True)
                        raise GeneratorTimeout(f"the local model hung: it {why}") from None
                    if msg is None:
                        why = self._crashed(child, hang=False)
                        raise ModelCrashed(
                            f"the local model crashed: process {child.proc.pid} {why}"
                        )
                    if msg.get("id") != rid:
                        continue  # the tail of a request that was cancelled
                    if "piece" in msg:
                        yield str(msg["piece"])
                    elif msg.get("done"):
                        u = msg.get("usage") or {}
                        self.usage = Usage(
                            int(u.get("prompt_tokens", 0)),
                            int(u.get("completion_tokens", 0)),
                            str(msg.get("finish_reason", "stop")),
                        )
                        finished = True
                        return
                    else:
                        finished = True
                        raise GeneratorUnavailable(f"the local model failed: {msg.get('error')}")
            finally:
                if not finished and self._child is child:
                    # the caller stopped early (loop guard, client gone): let the child stop too
                    with contextlib.suppress(OSError):
                        _send(child, {"id": rid, "op": "cancel"})


def _send(child: _Child, obj: dict[str, Any]) -> None:
    assert child.proc.stdin is not None
    child.proc.stdin.write(json.dumps(obj, ensure_ascii=False) + "\n")
    child.proc.stdin.flush()


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        try:
            proc.kill()
            proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass


@atexit.register
def _stop_all() -> None:
    for sup in list(_LIVE):
        sup.stop()


def self_check(model: Path, tokens: int = 1000, timeout_s: float = 600.0) -> tuple[bool, str]:
    """Run one long-prompt generation in a child process: (ok, what happened)."""
    cmd = [sys.executable, "-m", "qa.llama_worker", str(model), "--self-check"]
    return run_check([*cmd, "--tokens", str(tokens)], timeout_s)


def run_check(cmd: Sequence[str], timeout_s: float = 600.0) -> tuple[bool, str]:
    """Run a check command; a death by signal is reported with the CPU's features and the fix."""
    try:
        proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return False, f"the model self-check did not finish within {timeout_s:g} s"
    if proc.returncode == 0:
        return True, proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "ok"
    why = describe_exit(proc.returncode)
    tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
    return False, (
        f"the local model's self-check (one generation over a long prompt, in a child process)"
        f" {why}.\nCPU: {cpu_summary()}\n"
        + (f"Its last output:\n{tail}\n" if tail else "")
        + "Fix: rebuild llama-cpp-python portably for this machine: remove .wheels/ and"
        " .venv/.llama-build.json, then `make install` (scripts/build_llama.py builds an AVX2"
        " baseline with AVX-512 variants chosen at run time and no AMX). A CPU without AVX2"
        " cannot run the packaged build: use QA_GENERATOR__KIND=extractive or an OpenAI-compatible"
        " model server (QA_GENERATOR__KIND=openai)."
    )


def cpu_summary() -> str:
    """The CPU model and the SIMD features that matter to llama.cpp, from /proc/cpuinfo."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return os.uname().machine
    model = next((x.split(":", 1)[1].strip() for x in info.splitlines() if "model name" in x), "")
    flags = next(
        (x.split(":", 1)[1].split() for x in info.splitlines() if x.startswith("flags")), []
    )
    wanted = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile")
    have = [f for f in wanted if f in flags]
    return (
        f"{model or os.uname().machine}; features: {' '.join(have) or 'none of AVX/AVX2/AVX-512'}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m qa.supervisor self-check``: the set-up's check of the local model."""
    import argparse

    from qa.local_model import smollm2_path

    ap = argparse.ArgumentParser(prog="python -m qa.supervisor")
    ap.add_argument("what", choices=["self-check"])
    ap.add_argument("--model", type=Path, help="GGUF file (default: the packaged SmolLM2)")
    ap.add_argument("--tokens", type=int, default=1000)
    args = ap.parse_args(argv)
    ok, message = self_check(args.model or smollm2_path(), args.tokens)
    print(("local model self-check passed: " if ok else "error: ") + message, file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
