"""Generators by answering mode, built on first use; one that failed to build is retried only
after ``retry_s`` (a missing model file is not looked for on every question)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from qa.answer import Mode
from qa.errors import GeneratorTimeout, GeneratorUnavailable
from qa.generators import Generator

log = logging.getLogger(__name__)
RETRY_FAILED_S = 30.0


class GeneratorPool:
    def __init__(
        self, factories: dict[str, Callable[[], Generator]], retry_s: float = RETRY_FAILED_S
    ):
        self._factories = factories
        self._built: dict[str, Generator] = {}
        self._failed: dict[str, tuple[float, str]] = {}  # mode -> (when, why)
        self.retry_s = retry_s

    def modes(self) -> tuple[Mode, ...]:
        """The answering modes that can be asked for (extractive always)."""
        found: list[Mode] = [m for m in ("local", "openai") if m in self._factories]
        return (*found, "extractive")

    def get(self, mode: str) -> tuple[Generator | None, str]:
        """(the generator, "") or (None, why it is unavailable)."""
        if mode in self._built:
            return self._built[mode], ""
        failed = self._failed.get(mode)
        if failed is not None and time.monotonic() - failed[0] < self.retry_s:
            return None, failed[1]
        factory = self._factories.get(mode)
        if factory is None:
            return None, f"mode {mode!r} is not configured"
        try:
            gen = factory()
        except (GeneratorUnavailable, OSError, ValueError) as exc:
            log.warning("generator %s unavailable: %s", mode, exc)
            self._failed[mode] = (time.monotonic(), str(exc))
            return None, str(exc)
        self._failed.pop(mode, None)
        self._built[mode] = gen
        return gen, ""

    def check(self, mode: str) -> str | None:
        """None when ``mode``'s generator can answer now (it is started if needed), else why
        not. A server behind the ``openai`` mode is asked for its model list."""
        if mode == "extractive":
            return None
        gen, problem = self.get(mode)
        if gen is None:
            return problem
        check = getattr(gen, "check", None)
        if check is not None:
            try:
                check()
            except (GeneratorUnavailable, GeneratorTimeout) as exc:
                return str(exc)
        return None
