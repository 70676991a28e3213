"""``qa eval compare RUN_A RUN_B``: per-metric deltas and the items that changed verdict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VERDICT_KEYS = ("accuracy", "status", "faithfulness", "verdict")


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, int | float):  # bools included
            out[key] = float(v)
        elif isinstance(v, dict) and k not in ("settings", "machine", "weights"):
            out.update(_flat(v, key + "."))
    return out


def _records(folder: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for line in (folder / "records.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("abstention_run"):
            continue
        out[str(row.get("id"))] = row
    return out


def compare_runs(a: Path, b: Path) -> dict[str, Any]:
    for folder in (a, b):
        if not (folder / "summary.json").is_file():
            raise FileNotFoundError(f"{folder} is not a run folder (no summary.json)")
    sa = json.loads((a / "summary.json").read_text())
    sb = json.loads((b / "summary.json").read_text())
    fa, fb = _flat(sa), _flat(sb)
    deltas = {
        k: {"a": fa[k], "b": fb[k], "delta": round(fb[k] - fa[k], 4)}
        for k in sorted(set(fa) & set(fb))
        if fa[k] != fb[k] or not k.startswith(("commit",))
    }
    ra, rb = _records(a), _records(b)
    changed = []
    for item in sorted(set(ra) & set(rb)):
        for key in VERDICT_KEYS:
            if key in ra[item] and key in rb[item] and ra[item][key] != rb[item][key]:
                changed.append(
                    {
                        "id": item,
                        "field": key,
                        "a": ra[item][key],
                        "b": rb[item][key],
                        "question": rb[item].get("question") or rb[item].get("claim"),
                    }
                )
    lines = [f"A: {a} ({sa.get('commit')})", f"B: {b} ({sb.get('commit')})", ""]
    lines.append(f"{'metric':48} {'A':>10} {'B':>10} {'B-A':>9}")
    for k, v in deltas.items():
        if v["delta"] or k in ("accuracy", "faithfulness.faithfulness"):
            lines.append(f"{k:48} {v['a']:>10.4f} {v['b']:>10.4f} {v['delta']:>+9.4f}")
    lines.append("")
    lines.append(f"{len(changed)} item verdict(s) changed (of {len(set(ra) & set(rb))} in both)")
    for c in changed[:30]:
        lines.append(
            f"  {c['id']} {c['field']}: {c['a']!r} -> {c['b']!r}  {str(c['question'])[:70]}"
        )
    summary = {
        "a": str(a),
        "b": str(b),
        "deltas": {k: v for k, v in deltas.items() if v["delta"]},
        "changed": changed,
        "items_in_both": len(set(ra) & set(rb)),
    }
    return {"text": "\n".join(lines), "summary": summary}
