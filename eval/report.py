"""``report.md`` with PNG charts in every run folder (matplotlib, no display needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _charts(folder: Path, rows: list[dict[str, Any]]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made: list[str] = []
    scores = [r["score"] for r in rows if "score" in r and "label" in r and r.get("split")]
    if scores:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for label, colour in ((1, "tab:green"), (0, "tab:red")):
            vals = [
                r["score"] for r in rows if r.get("label") == label and r.get("split") == "test"
            ]
            ax.hist(vals, bins=20, alpha=0.6, color=colour, label="supported" if label else "not")
        ax.set_xlabel("offline scorer P(supported), test items")
        ax.set_ylabel("claims")
        ax.legend()
        fig.tight_layout()
        fig.savefig(folder / "scores.png", dpi=100)
        plt.close(fig)
        made.append("scores.png")
    claims = [c for r in rows for c in r.get("claims", [])]
    if claims:
        kinds = ["supported", "unsupported", "contradicted"]
        counts = [sum(c["verdict"] == k for c in claims) for k in kinds]
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.bar(kinds, counts, color=["tab:green", "tab:orange", "tab:red"])
        ax.set_ylabel("claims")
        ax.set_title("per-claim verdicts")
        fig.tight_layout()
        fig.savefig(folder / "verdicts.png", dpi=100)
        plt.close(fig)
        made.append("verdicts.png")
    latency = [r["latency_s"] for r in rows if isinstance(r.get("latency_s"), int | float)]
    if latency:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.hist(latency, bins=30, color="tab:blue")
        ax.set_xlabel("seconds per answer")
        ax.set_ylabel("questions")
        fig.tight_layout()
        fig.savefig(folder / "latency.png", dpi=100)
        plt.close(fig)
        made.append("latency.png")
    return made


def _table(d: dict[str, Any], prefix: str = "") -> list[str]:
    lines = []
    for k, v in d.items():
        if k in ("settings", "machine", "changed", "deltas"):
            continue
        if isinstance(v, dict):
            lines.extend(_table(v, f"{prefix}{k}."))
        elif isinstance(v, int | float | str | bool) or v is None:
            lines.append(f"| {prefix}{k} | {v} |")
    return lines


def _per_question(rows: list[dict[str, Any]]) -> list[str]:
    """A row per question for the full-article runs: gold, context hits, each mode's answer."""
    modes = [m for m in ("extractive", "local") if rows and isinstance(rows[0].get(m), dict)]
    if not modes or "gold_in_top5" not in rows[0]:
        return []
    head = (
        "| question | date | gold | top-5 | "
        + " | ".join(f"{m}: hit, oldest cited (days), answer" for m in modes)
        + " |"
    )
    out = ["## Per question", "", head, "|" + "---|" * (4 + len(modes))]
    for r in rows:
        cells = [
            str(r["question"]).replace("|", "/"),
            str(r.get("date")),
            "; ".join(r.get("gold") or []).replace("|", "/"),
            str(int(r["gold_in_top5"])),
        ]
        for m in modes:
            a = r[m]
            text = str(a["answer"]).replace("|", "/").replace("\n", " ")[:160]
            cells.append(f"{int(a['gold_in_answer'])}, {a['oldest_cited_days']}, {text}")
        out.append("| " + " | ".join(cells) + " |")
    return [*out, ""]


def write_report(folder: Path, summary: dict[str, Any]) -> Path:
    """Write ``report.md`` (summary table, charts) next to the run's records."""
    records = folder / "records.jsonl"
    rows = []
    if records.is_file():
        rows = [json.loads(x) for x in records.read_text(encoding="utf-8").splitlines() if x]
    charts = _charts(folder, rows)
    out = [
        f"# Eval run {folder.name}",
        "",
        f"commit `{summary.get('commit')}`, {summary.get('date')}, "
        f"{summary.get('machine', {}).get('cores')} cores, Python "
        f"{summary.get('machine', {}).get('python')}",
        "",
        "| metric | value |",
        "|---|---|",
        *_table({k: v for k, v in summary.items() if k not in ("commit", "date", "run")}),
        "",
    ]
    for chart in charts:
        out += [f"![{chart}]({chart})", ""]
    out += _per_question(rows)
    settings = summary.get("settings", {})
    if settings:
        out += ["## Settings", "", "```json", json.dumps(settings, indent=2), "```", ""]
    path = folder / "report.md"
    path.write_text("\n".join(out), encoding="utf-8")
    return path
