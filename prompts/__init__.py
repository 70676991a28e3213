"""Prompt templates as files (Jinja, strict undefined), each with a stable id.

The id is ``<name>@<first 10 hex of sha256(template text)>``: it changes exactly when the
template changes, and is recorded on every answer and eval run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

import jinja2


@dataclass(frozen=True)
class Prompt:
    name: str
    source: str

    @property
    def id(self) -> str:
        return f"{self.name}@{hashlib.sha256(self.source.encode()).hexdigest()[:10]}"

    def render(self, **values: Any) -> str:
        env = jinja2.Environment(
            undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False
        )
        return env.from_string(self.source).render(**values).strip()


@cache
def load(name: str) -> Prompt:
    """Load ``prompts/<name>.j2`` shipped with the package."""
    return Prompt(name, files("prompts").joinpath(f"{name}.j2").read_text(encoding="utf-8"))
