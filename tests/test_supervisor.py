"""The supervised local model: crashes, hangs, restarts with back-off, giving up, no orphans.

Fast tests run ``tests/fake_llama_worker.py`` (the worker's protocol, scripted); the slow ones
run the real SmolLM2 in ``qa.llama_worker``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from qa.errors import GeneratorTimeout, GeneratorUnavailable
from qa.local_model import Completion, LocalModelGenerator, smollm2_path
from qa.supervisor import ModelCrashed, SupervisedLlama, describe_exit, run_check

FAKE = str(Path(__file__).with_name("fake_llama_worker.py"))
REQUEST = Completion("What did China and Russia propose?", True, 64)


def fake(mode: str, *more: str, **kw: object) -> SupervisedLlama:
    opts = {"backoff_s": (0.05, 0.05, 0.05), "retry_after_s": 0.5, "piece_timeout_s": 5.0}
    opts.update(kw)
    return SupervisedLlama(
        Path("unused.gguf"),
        command=[sys.executable, FAKE, mode, *more],
        **opts,
    )


def wait_for(predicate, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead: its parent has not reaped it yet
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_answer_then_sigill_mid_stream_then_restart() -> None:
    sup = fake("answer", "--delay", "0.05")
    try:
        text = "".join(sup.run(REQUEST))
        assert text.startswith("China and Russia proposed") and sup.usage.prompt_tokens == 100
        first_pid = sup.pid
        assert first_pid is not None
        pieces = sup.run(REQUEST)
        assert next(pieces) == "China"
        os.kill(first_pid, signal.SIGILL)
        with pytest.raises(ModelCrashed, match=r"crashed: process \d+ killed by SIGILL"):
            list(pieces)
        assert sup.stats.crashes == 1 and "SIGILL" in sup.stats.last_crash
        wait_for(lambda: sup.pid is not None)
        assert sup.pid != first_pid and sup.stats.restarts == 1
        assert "".join(sup.run(REQUEST)).startswith("China and Russia proposed")
    finally:
        sup.stop()


def test_a_child_that_dies_at_every_start_is_given_up_then_tried_again() -> None:
    sup = fake("die-at-start", retry_after_s=1.0)
    with pytest.raises(GeneratorUnavailable, match="SIGSEGV"):
        sup.check()
    wait_for(lambda: "gave up" in sup.state())
    assert sup.stats.failed_starts == 3
    assert "SIGSEGV" in sup.state() and "next try in" in sup.state()
    with pytest.raises(GeneratorUnavailable, match="gave up after 3 failed starts"):
        list(sup.run(REQUEST))
    assert sup.stats.failed_starts == 3  # no start while given up
    time.sleep(1.1)
    with pytest.raises(GeneratorUnavailable):
        sup.check()  # a later start is tried again
    assert sup.stats.failed_starts == 4


def test_one_failed_start_is_retried_with_back_off(tmp_path: Path) -> None:
    sup = fake("die-once", "--state", str(tmp_path / "state"))
    try:
        with pytest.raises(GeneratorUnavailable, match="before it was ready"):
            sup.check()
        wait_for(lambda: sup.pid is not None)
        assert sup.stats.failed_starts == 1
        assert "".join(sup.run(REQUEST)).startswith("China")
    finally:
        sup.stop()


def test_a_hung_model_times_out_and_is_replaced() -> None:
    sup = fake("hang", piece_timeout_s=0.5)
    try:
        sup.check()
        hung = sup.pid
        with pytest.raises(GeneratorTimeout, match=r"did not answer within 0\.5 s"):
            list(sup.run(REQUEST))
        assert hung is not None and not alive(hung)
        assert sup.stats.hangs == 1
        wait_for(lambda: sup.pid is not None)
    finally:
        sup.stop()


def test_an_early_stop_cancels_the_rest_of_the_answer() -> None:
    sup = fake("answer", "--delay", "0.05")
    try:
        gen = LocalModelGenerator(sup, "fake")
        pieces = gen.runner.run(REQUEST)
        assert next(pieces) == "China"
        pieces.close()  # the consumer went away
        t0 = time.monotonic()
        assert "".join(sup.run(REQUEST)).startswith("China and Russia")
        assert time.monotonic() - t0 < 5
    finally:
        sup.stop()


def test_no_orphan_when_the_parent_is_killed(tmp_path: Path) -> None:
    """A parent SIGKILLed while its model is busy leaves no model process behind."""
    script = tmp_path / "parent.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys, time
            sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
            from pathlib import Path
            from qa.local_model import Completion
            from qa.supervisor import SupervisedLlama
            sup = SupervisedLlama(Path("x"), command=[sys.executable, {FAKE!r}, "answer", "--delay", "1"])
            sup.check()
            print(sup.pid, flush=True)
            for piece in sup.run(Completion("q", True, 10)):
                pass
            time.sleep(60)
            """
        )
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert alive(child)
    parent.kill()
    parent.wait()
    wait_for(lambda: not alive(child), timeout=5)


def test_the_self_check_reports_a_dying_child() -> None:
    ok, message = run_check(
        [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGILL)"]
    )
    assert not ok
    assert "killed by SIGILL" in message
    assert "CPU:" in message and "Fix:" in message and "scripts/build_llama.py" in message
    assert describe_exit(-11).startswith("killed by SIGSEGV")
    assert describe_exit(3) == "exited with status 3"


@pytest.mark.slow
def test_real_model_survives_a_kill_and_answers_again() -> None:
    sup = SupervisedLlama(smollm2_path(), backoff_s=(0.1, 0.5, 1.0))
    gen = LocalModelGenerator(sup, "smollm2")
    try:
        sup.check()
        assert "AMX" not in sup.state()
        pid = sup.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # as an OOM kill would, while it is idle
        wait_for(lambda: sup.pid is None)  # reaped: the supervisor can tell it is gone
        assert gen.complete("Name a colour in one word.", max_tokens=8).strip()
        assert sup.stats.crashes == 1 and sup.stats.last_crash.startswith("killed by SIGKILL")
        assert sup.stats.restarts == 1 and sup.pid not in (None, pid)
    finally:
        sup.stop()
