"""Run folders: per-item records plus a summary stamped with settings and git commit."""

from __future__ import annotations

import datetime as dt
import json
import platform
import subprocess
from pathlib import Path
from typing import Any


def p50_p95(values: list[float], scale: float = 1.0, digits: int = 2) -> dict[str, float]:
    """Median and 95th percentile of timings, multiplied by ``scale`` (1000: seconds to ms)."""
    import statistics

    import numpy as np

    return {
        "p50_ms": round(statistics.median(values) * scale, digits),
        "p95_ms": round(float(np.percentile(np.array(values), 95)) * scale, digits),
    }


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent.parent,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent.parent,
        )
        commit = out.stdout.strip() or "unknown"
        return commit + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine() -> dict[str, Any]:
    import os

    return {
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "system": platform.system(),
    }


class RunWriter:
    """Writes ``records.jsonl`` and ``summary.json`` into a fresh folder under ``root``."""

    def __init__(self, root: Path, kind: str, dataset: str):
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.folder = root / f"{stamp}-{kind}-{dataset}"
        n = 1
        while self.folder.exists():
            n += 1
            self.folder = root / f"{stamp}-{kind}-{dataset}-{n}"
        self.folder.mkdir(parents=True)
        self._records = (self.folder / "records.jsonl").open("w", encoding="utf-8")

    def record(self, row: dict[str, Any]) -> None:
        self._records.write(json.dumps(row, default=str) + "\n")

    def finish(self, summary: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
        self._records.close()
        full = {
            **summary,
            "run": str(self.folder),
            "commit": git_commit(),
            "date": dt.datetime.now().isoformat(timespec="seconds"),
            "machine": machine(),
            "settings": settings,
        }
        (self.folder / "summary.json").write_text(json.dumps(full, indent=2, default=str))
        return full
