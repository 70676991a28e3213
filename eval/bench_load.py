"""``qa bench load``: the real server (``qa serve``, uvicorn, 127.0.0.1) under a bounded load:
1, 4 and 16 concurrent clients for a fixed time on ``/v1/search``, ``/v1/ask`` extractive and
``/v1/ask`` local. Throughput, p50/p95/p99, errors (429s apart from the rest), the server's
peak RSS (VmHWM of the process and its children) and the CPU each process used (in cores), which
says whether the machine, not the server, was the limit."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from eval.runs import git_commit, machine
from qa.settings import Settings

QUESTIONS = [
    "What did China and Russia propose at Guilin?",
    "What did Lavrov say about the US dollar?",
    "Who met at Guilin?",
    "What did the foreign ministers criticise?",
]
ENDPOINTS: dict[str, tuple[str, dict[str, Any]]] = {
    "search": ("/v1/search", {"query": QUESTIONS[0]}),
    "ask_extractive": ("/v1/ask", {"question": QUESTIONS[0], "mode": "extractive"}),
    "ask_local": ("/v1/ask", {"question": QUESTIONS[0], "mode": "local"}),
}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tree(pid: int) -> list[int]:
    """A process and its descendants (uvicorn workers, llama.cpp threads live in them)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
    return out


def cpu_seconds(pid: int, tree: bool = True) -> float:
    """User + system CPU seconds used so far by a process (and its descendants), Linux /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in _tree(pid) if tree else [pid]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a process plus its descendants, in MB (Linux /proc)."""
    total = 0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


class CpuShare:
    """CPU used by named process trees over a run, in cores (1.0 = one core busy)."""

    def __init__(self, pids: dict[str, int]):
        self.pids = pids
        self.t0 = time.monotonic()
        self.start = {k: self._used(p) for k, p in pids.items()}

    @staticmethod
    def _used(pid: int) -> float:
        # this process started the servers: its own share must not include theirs
        return cpu_seconds(pid, tree=pid != os.getpid())

    def cores(self) -> dict[str, float]:
        wall = time.monotonic() - self.t0
        used = {k: self._used(p) - self.start[k] for k, p in self.pids.items()}
        return {k: round(v / wall, 2) for k, v in used.items()}


def summarise(latencies: list[float], statuses: list[int], seconds: float) -> dict[str, Any]:
    """Throughput and latency percentiles of successful requests; errors by kind."""
    ok = [t for t, s in zip(latencies, statuses, strict=True) if s == 200]
    arr = np.array(ok) * 1000 if ok else np.zeros(1)
    return {
        "requests": len(statuses),
        "ok": len(ok),
        "throughput_rps": round(len(ok) / seconds, 2),
        "p50_ms": round(float(np.percentile(arr, 50)), 1),
        "p95_ms": round(float(np.percentile(arr, 95)), 1),
        "p99_ms": round(float(np.percentile(arr, 99)), 1),
        "429": sum(1 for s in statuses if s == 429),
        "5xx": sum(1 for s in statuses if s >= 500),
        "other_errors": sum(1 for s in statuses if s != 200 and s != 429 and s < 500),
    }


async def _drive(
    base: str, path: str, body: dict[str, Any], clients: int, seconds: float
) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    statuses: list[int] = []
    stop = time.monotonic() + seconds

    async def client(n: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=120) as http:
            i = n
            while time.monotonic() < stop:
                payload = dict(body)
                key = "query" if "query" in payload else "question"
                payload[key] = QUESTIONS[i % len(QUESTIONS)]
                i += 1
                t0 = time.perf_counter()
                try:
                    r = await http.post(path, json=payload)
                    statuses.append(r.status_code)
                except httpx.HTTPError:
                    statuses.append(599)
                latencies.append(time.perf_counter() - t0)
                if statuses[-1] == 429:
                    await asyncio.sleep(0.2)

    t0 = time.monotonic()
    await asyncio.gather(*(client(n) for n in range(clients)))
    return summarise(latencies, statuses, time.monotonic() - t0)


def _serve(data: Path, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    import httpx

    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port), "--workers", str(workers)],
        env={**os.environ, **env, "QA_DATA_DIR": str(data)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGTERM)
    raise RuntimeError("qa serve did not become ready")


def worker_scaling(
    examples: Path, seconds: float, clients: int = 16, models: Path | None = None
) -> dict[str, Any]:
    """``/v1/search`` throughput with 1 and then 2 uvicorn workers against one Chroma server
    (several workers need it: an embedded Chroma folder is single-process)."""
    import shutil
    import tempfile

    import httpx

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        chroma_port = free_port()
        exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
        chroma = subprocess.Popen(
            [
                exe,
                "run",
                "--path",
                f"{tmp}/chroma",
                "--host",
                "127.0.0.1",
                "--port",
                str(chroma_port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        env = {
            "QA_STORE__KIND": "http",
            "QA_STORE__PORT": str(chroma_port),
            "QA_GENERATOR__KIND": "extractive",
            "QA_API__WARM_UP": "true",
        }
        if models is not None:  # the ONNX export of the main run, not one per server
            env["QA_EMBEDDER__CACHE_DIR"] = str(models)
        try:
            deadline = time.time() + 60
            while time.time() < deadline:
                try:
                    httpx.get(f"http://127.0.0.1:{chroma_port}/api/v2/heartbeat", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.3)
            subprocess.run(
                [sys.executable, "-m", "cli", "ingest", str(examples)],
                env={**os.environ, **env, "QA_DATA_DIR": f"{tmp}/ingest"},
                check=True,
                capture_output=True,
            )
            for workers in (1, 2):
                port = free_port()
                proc = _serve(Path(tmp) / f"w{workers}", port, workers, env)
                try:
                    path, body = ENDPOINTS["search"]
                    cpu = CpuShare(
                        {"server": proc.pid, "chroma": chroma.pid, "load_generator": os.getpid()}
                    )
                    run = asyncio.run(
                        _drive(f"http://127.0.0.1:{port}", path, body, clients, seconds)
                    )
                    run["cpu_cores"] = cpu.cores()
                    results[f"{workers}_workers"] = run
                finally:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=60)
        finally:
            os.killpg(chroma.pid, signal.SIGTERM)
            chroma.wait(timeout=60)
    one, two = results["1_workers"]["throughput_rps"], results["2_workers"]["throughput_rps"]
    results["ratio_2_to_1"] = round(two / one, 3) if one else None
    return results


def bench_load(
    settings: Settings, port: int, seconds: float, levels: tuple[int, ...] = (1, 4, 16)
) -> dict[str, Any]:
    """The configured data folder must hold an index (the sample corpus at least)."""
    data = settings.data_dir
    proc = _serve(data, port, 1, {})
    base = f"http://127.0.0.1:{port}"
    runs: dict[str, Any] = {}
    try:
        for name, (path, body) in ENDPOINTS.items():
            for clients in levels:
                cpu = CpuShare({"server": proc.pid, "load_generator": os.getpid()})
                run = asyncio.run(_drive(base, path, body, clients, seconds))
                run["cpu_cores"] = cpu.cores()
                runs[f"{name}@{clients}"] = run
        rss = peak_rss_mb(proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    scaling = worker_scaling(
        Path(__file__).resolve().parent.parent / "examples",
        seconds,
        models=settings.embedder.cache_dir or data / "models",
    )
    return {
        "benchmark": "load",
        "seconds_per_run": seconds,
        "runs": runs,
        "search_worker_scaling": scaling,
        "server_peak_rss_mb": rss,
        "targets": {
            "no_5xx": all(r["5xx"] == 0 for r in runs.values()),
            "429_only_from_local": all(r["429"] == 0 for k, r in runs.items() if "local" not in k),
            "rss_max_mb": 1536,
        },
        "machine": machine(),
        "commit": git_commit(),
    }
