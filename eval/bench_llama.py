"""``qa bench llama``: prefill and decode tokens/s of the local models, build against build.

Each measurement runs in a child process of its own, so that a build whose code traps on this
CPU (SIGILL) is reported as such instead of ending the benchmark. A *build* is a folder that
holds a ``llama_cpp`` package (the venv's, or one installed with ``pip install --target``);
``variants`` splits the portable build into one folder per CPU variant, so that each variant's
speed is measured on this machine (llama.cpp otherwise always picks the best one).

Prefill: one prompt of about ``prompt_tokens`` tokens evaluated in one batch. Decode: greedy
tokens one at a time after it. Median of ``repeats`` runs, each on a fresh context.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

CHILD = r"""
import json, statistics, sys, time
import llama_cpp
path = sys.argv[1]
n_prompt, n_decode, repeats, threads = (int(x) for x in sys.argv[2:6])
llm = llama_cpp.Llama(
    model_path=path, n_ctx=2048, n_batch=512, n_threads=threads or None,
    n_threads_batch=threads or None, verbose=False, seed=0,
)
text = open(sys.argv[6], encoding="utf-8").read()
tokens = llm.tokenize(text.encode())[:n_prompt]
pre, dec = [], []
for _ in range(repeats):
    llm.reset()
    t = time.perf_counter(); llm.eval(tokens); pre.append(len(tokens) / (time.perf_counter() - t))
    t = time.perf_counter()
    for _ in range(n_decode):
        tok = llm.sample(temp=0.0)
        llm.eval([tok])
    dec.append(n_decode / (time.perf_counter() - t))
info = llama_cpp.llama_print_system_info().decode()
print(json.dumps({"prefill_tok_s": statistics.median(pre), "decode_tok_s": statistics.median(dec),
                  "prompt_tokens": len(tokens), "system_info": info}))
"""


def _lib(build: Path) -> Path:
    return build / "llama_cpp" / "lib"


def variant_builds(portable: Path, into: Path) -> dict[str, Path]:
    """One folder per CPU variant of the portable build (a copy holding only that variant)."""
    out: dict[str, Path] = {}
    for so in sorted(_lib(portable).glob("libggml-cpu-*.so")):
        name = so.stem.removeprefix("libggml-cpu-")
        dest = into / name
        shutil.copytree(portable / "llama_cpp", dest / "llama_cpp", symlinks=True)
        for other in _lib(dest).glob("libggml-cpu-*.so"):
            if other.name != so.name:
                other.unlink()
        out[f"portable ({name})"] = dest
    return out


def measure(
    build: Path, model: Path, prompt_file: Path, prompt_tokens: int, decode: int, repeats: int
) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(build)}
    threads = str(os.cpu_count() or 2)
    cmd = [sys.executable, "-c", CHILD, str(model), str(prompt_tokens), str(decode)]
    cmd += [str(repeats), threads, str(prompt_file)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if proc.returncode != 0:
        sig = -proc.returncode if proc.returncode < 0 else None
        why = f"killed by {signal.Signals(sig).name}" if sig else f"exit {proc.returncode}"
        return {"error": why, "stderr": proc.stderr.strip().splitlines()[-3:]}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    loaded = [x for x in proc.stderr.splitlines() if "loaded CPU backend" in x]
    result["backend"] = loaded[-1].rsplit("/", 1)[-1] if loaded else "static"
    return result


def bench_llama(
    builds: dict[str, Path],
    models: dict[str, Path],
    prompt_file: Path,
    prompt_tokens: int = 1000,
    decode: int = 64,
    repeats: int = 3,
) -> dict[str, Any]:
    """Tokens/s per (build, model), every measurement in its own child process."""
    rows: list[dict[str, Any]] = []
    for build_name, build in builds.items():
        for model_name, model in models.items():
            r = measure(build, model, prompt_file, prompt_tokens, decode, repeats)
            rows.append({"build": build_name, "model": model_name, **r})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    base = {r["model"]: r for r in rows if r["build"].startswith("portable") and "error" not in r}
    for r in rows:
        ref = base.get(r["model"])
        if ref is not None and "error" not in r:
            r["prefill_vs_first_portable"] = round(r["prefill_tok_s"] / ref["prefill_tok_s"], 3)
            r["decode_vs_first_portable"] = round(r["decode_tok_s"] / ref["decode_tok_s"], 3)
    return {
        "prompt_tokens": prompt_tokens,
        "decode_tokens": decode,
        "repeats": repeats,
        "rows": rows,
    }


def default_builds(extra: dict[str, Path], scratch: Path) -> dict[str, Path]:
    """The venv's portable build split by variant, then ``extra`` builds (e.g. native)."""
    import llama_cpp

    portable = Path(llama_cpp.__file__).resolve().parent.parent
    builds = variant_builds(portable, scratch)
    builds["portable (runtime choice)"] = portable
    builds.update(extra)
    return builds


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="qa bench llama", description=__doc__.split("\n")[0])
    ap.add_argument("--native", type=Path, help="a folder with a native build (pip --target)")
    ap.add_argument("--prompt-tokens", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--prompt-file", type=Path, required=True)
    ap.add_argument("--models-dir", type=Path, default=Path("data/models"))
    args = ap.parse_args(argv)
    from qa.local_model import gemma3_path, smollm2_path

    models = {"smollm2-135m": smollm2_path(), "gemma3-270m": gemma3_path(args.models_dir)}
    with tempfile.TemporaryDirectory(prefix="bench-llama-") as tmp:
        extra = {"native (-march=native)": args.native} if args.native else {}
        out = bench_llama(
            default_builds(extra, Path(tmp)),
            models,
            args.prompt_file,
            args.prompt_tokens,
            repeats=args.repeats,
        )
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
