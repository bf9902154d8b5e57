"""Load test of ``framescope serve``: concurrent clients, a soak, and a shutdown under load.

Starts ``framescope serve`` as its own process on a free port and drives it with an async
httpx client (one asyncio task per simulated client, each sending one to eight sentence-length
texts per request, back to back, with no think time):

1. **16 and 64 clients**, ``--seconds`` each (default 120): requests/s, passages/s,
   p50/p95/p99 latency, errors (any status but 200, or a failed connection), and the server's
   RSS at the start and end of the phase.
2. **Batch throughput** on the same texts: ``framescope score`` on a JSONL file of 2,000 of
   them at the same precision, in its own process. The goal is served passages/s at 64
   clients of at least 70% of this.
3. **Soak**: ``--soak-seconds`` (default 600) at 16 clients, sampling the server's RSS every
   10 s; growth is measured from the first sample after a 60 s warm-up to the end (goal < 10%).
4. **Shutdown under load**: 32 clients, then SIGTERM to the server after 10 s. Every request
   must get either a 200 or a 503; a request that was sent and then lost (connection reset
   or closed before an answer) counts as dropped (goal 0). Attempts whose connection the
   server refused after it stopped listening never reached it and are counted separately.

Clients and server share this machine's CPUs, so served throughput includes the clients'
cost; the machine's CPU and load average are recorded with the results.

    python bench/serve_load.py                         # the full run (~20 min)
    python bench/serve_load.py --seconds 20 --soak-seconds 60   # quick

Writes ``bench/results/serve_load.json``; exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from _common import cpu_name  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "serve_load.json"
SYNTHETIC_WORDS = ("the army said shelling hit the port city as talks on a ceasefire stalled while "
                   "sanctions squeezed exports and aid groups warned of refugees crossing the border")


def sentences(n: int = 4000) -> list[str]:
    """Sentence-length texts from ``data/seed`` (synthetic when absent)."""
    from framescope.data.passages import sentence_spans

    out: list[str] = []
    for path in sorted((ROOT / "data" / "seed").rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            text = json.loads(line).get("text") or ""
            out.extend(text[s:e] for s, e in sentence_spans(text, 0, len(text)) if e - s >= 20)
    rng = random.Random(0)
    if len(out) < 100:
        words = SYNTHETIC_WORDS.split()
        out = [" ".join(rng.choice(words) for _ in range(rng.randint(8, 24))).capitalize() + "."
               for _ in range(n)]
    rng.shuffle(out)
    return out[:n]


def rss_mb(pid: int) -> float | None:
    """Resident set of a process in MB (``VmRSS``), or ``None`` once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``framescope serve`` in its own process."""

    def __init__(self, model: Path, precision: str, max_batch: int, max_wait_ms: float, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log, "ab")  # noqa: SIM115 - open for the server's whole life
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "framescope.cli", "serve", "--model", str(model), "--port", str(self.port),
             "--precision", precision, "--max-batch", str(max_batch), "--max-wait-ms", str(max_wait_ms)],
            stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 300) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"framescope serve exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"framescope serve was not ready after {timeout} s; see {self.log.name}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=120)
        finally:
            self.log.close()


def percentile(values: list[float], q: float) -> float | None:
    import numpy as np

    return round(float(np.percentile(values, q)) * 1000, 1) if values else None


async def drive(url: str, pool: list[str], clients: int, seconds: float, *, seed: int,
                on_tick=None, stop_after: float | None = None, stop=None, polite: bool = True) -> dict:
    """``clients`` concurrent clients for ``seconds``; returns counts and latencies."""
    import httpx

    latencies: list[float] = []
    counts = {"requests": 0, "ok": 0, "passages": 0, "status_503": 0, "other_status": {},
              "dropped": 0, "dropped_by_kind": {}, "refused_connect": 0}
    end = time.monotonic() + seconds

    async def client(i: int, http: httpx.AsyncClient) -> None:
        rng = random.Random(seed * 1000 + i)
        while time.monotonic() < end:
            texts = [rng.choice(pool) for _ in range(rng.randint(1, 8))]
            t0 = time.perf_counter()
            try:
                resp = await http.post(url + "/v1/score", json={"texts": texts})
            except httpx.ConnectError:  # nothing listening any more: never reached the server
                counts["refused_connect"] += 1
                if stop_after is not None:
                    return
                await asyncio.sleep(0.05)
                continue
            except httpx.HTTPError as exc:  # sent, then lost: reset, closed or timed out
                counts["requests"] += 1
                counts["dropped"] += 1
                kind = type(exc).__name__
                counts["dropped_by_kind"][kind] = counts["dropped_by_kind"].get(kind, 0) + 1
                continue
            counts["requests"] += 1
            if resp.status_code == 200:
                counts["ok"] += 1
                counts["passages"] += len(resp.json().get("passages", []))
                latencies.append(time.perf_counter() - t0)
            elif resp.status_code == 503:
                counts["status_503"] += 1
                if polite:  # a well-behaved client waits as long as the server asks
                    await asyncio.sleep(float(resp.headers.get("retry-after", "1")))
            else:
                key = str(resp.status_code)
                counts["other_status"][key] = counts["other_status"].get(key, 0) + 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=httpx.Timeout(300.0), limits=limits) as http:
        tasks = [asyncio.create_task(client(i, http)) for i in range(clients)]
        t0 = time.monotonic()
        ticker = None
        if on_tick is not None:
            async def tick() -> None:
                while True:
                    await asyncio.sleep(10)
                    on_tick(time.monotonic() - t0)
            ticker = asyncio.create_task(tick())
        if stop_after is not None:
            await asyncio.sleep(stop_after)
            stop()
        await asyncio.gather(*tasks)
        if ticker is not None:
            ticker.cancel()
        elapsed = time.monotonic() - t0
    counts.update(seconds=round(elapsed, 1), clients=clients,
                  requests_per_s=round(counts["ok"] / elapsed, 2),
                  passages_per_s=round(counts["passages"] / elapsed, 1),
                  latency_ms={"p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
                              "p99": percentile(latencies, 99)},
                  errors=counts["dropped"] + sum(counts["other_status"].values()) + counts["status_503"])
    return counts


def batch_throughput(model: Path, pool: list[str], precision: str, work: Path) -> dict:
    """``framescope score`` on 2,000 of the same texts, whole process."""
    src = work / "batch.jsonl"
    with open(src, "w", encoding="utf-8") as fh:
        for i, text in enumerate(pool[:2000]):
            fh.write(json.dumps({"id": f"s{i}", "text": text}) + "\n")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "framescope.cli", "score", "--model", str(model), str(src),
                           "--out", str(work / "batch-out.jsonl"), "--overwrite", "-q", "--precision", precision],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    n = len((work / "batch-out.jsonl").read_text(encoding="utf-8").splitlines())
    return {"passages": n, "seconds": round(seconds, 1), "passages_per_s": round(n / seconds, 1),
            "note": "whole process: start-up, model load, reading, scoring, writing"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    ap.add_argument("--seconds", type=float, default=120, help="length of each load phase (default 120)")
    ap.add_argument("--soak-seconds", type=float, default=600, help="length of the soak (default 600; 0 skips)")
    ap.add_argument("--clients", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--max-wait-ms", type=float, default=10)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if not (args.model / "framescope.json").exists():
        print(f"{args.model} holds no trained model: run `make demo` (or framescope train) first", file=sys.stderr)
        return 2
    pool = sentences()
    report: dict = {"created": time.strftime("%Y-%m-%dT%H:%M:%S"), "cpu": cpu_name(),
                    "load_average_start": os.getloadavg()[0], "model": str(args.model),
                    "precision": args.precision, "max_batch": args.max_batch, "max_wait_ms": args.max_wait_ms}
    with tempfile.TemporaryDirectory(prefix="fs-load-") as tmp:
        work = Path(tmp)
        log = Path(tempfile.gettempdir()) / "framescope-serve-load.log"  # the servers' output
        args.out.parent.mkdir(parents=True, exist_ok=True)
        log.unlink(missing_ok=True)

        server = Server(args.model, args.precision, args.max_batch, args.max_wait_ms, log)
        server.wait_ready()
        import httpx

        info = httpx.get(server.url + "/v1/model", timeout=30).json()
        report["precision_resolved"] = info.get("precision")
        print(f"serving {info.get('name')} at precision {info.get('precision')}", flush=True)
        # warm up: the first requests pay for lazy initialisation
        asyncio.run(drive(server.url, pool, 4, 5, seed=99))
        phases = []
        for clients in args.clients:
            start = rss_mb(server.proc.pid)
            res = asyncio.run(drive(server.url, pool, clients, args.seconds, seed=clients))
            res.update(rss_start_mb=start, rss_end_mb=rss_mb(server.proc.pid))
            phases.append(res)
            print(f"{clients:>3} clients: {res['requests_per_s']} req/s, {res['passages_per_s']} passages/s, "
                  f"p50/p95/p99 {res['latency_ms']['p50']}/{res['latency_ms']['p95']}/{res['latency_ms']['p99']} ms, "
                  f"errors {res['errors']}, RSS {start} -> {res['rss_end_mb']} MB", flush=True)
        report["phases"] = phases

        soak = None
        if args.soak_seconds:
            samples: list[tuple[float, float | None]] = [(0.0, rss_mb(server.proc.pid))]
            res = asyncio.run(drive(server.url, pool, 16, args.soak_seconds, seed=7,
                                    on_tick=lambda t: samples.append((round(t, 1), rss_mb(server.proc.pid)))))
            samples.append((res["seconds"], rss_mb(server.proc.pid)))
            warm = next((mb for t, mb in samples if t >= min(60, args.soak_seconds / 4)), samples[0][1])
            growth = samples[-1][1] / warm - 1
            soak = {"seconds": res["seconds"], "clients": 16, "requests": res["requests"], "errors": res["errors"],
                    "passages_per_s": res["passages_per_s"], "rss_samples_mb": samples,
                    "rss_after_warmup_mb": warm, "rss_end_mb": samples[-1][1], "growth": round(growth, 4)}
            print(f"soak {res['seconds']} s: RSS {warm} -> {samples[-1][1]} MB ({100 * growth:+.1f}%), "
                  f"errors {res['errors']}", flush=True)
        report["soak"] = soak
        server.stop()

        shutdowns = []
        for polite in (True, False):
            server = Server(args.model, args.precision, args.max_batch, args.max_wait_ms, log)
            server.wait_ready()
            res = asyncio.run(drive(server.url, pool, 32, 60, seed=5, stop_after=10, polite=polite,
                                    stop=lambda server=server: server.proc.send_signal(signal.SIGTERM)))
            code = server.stop()
            shutdowns.append({"clients": 32, "sigterm_after_s": 10,
                              "clients_honour_retry_after": polite, "answered_200": res["ok"],
                              "refused_503": res["status_503"], "other_status": res["other_status"],
                              "dropped": res["dropped"], "dropped_by_kind": res["dropped_by_kind"],
                              "refused_connect_after_close": res["refused_connect"],
                              "server_exit_code": code})
            print(f"shutdown under load ({'clients honour' if polite else 'clients ignore'} Retry-After): "
                  f"{res['ok']} answered, {res['status_503']} refused with 503, {res['dropped']} dropped "
                  f"{res['dropped_by_kind'] or ''}, {res['refused_connect']} connection attempts after close; "
                  f"server exit {code}", flush=True)
        report["shutdown_under_load"] = shutdowns
        shutdown = shutdowns[0]

        batch = batch_throughput(args.model, pool, args.precision, work)
        report["batch"] = batch
        print(f"framescope score on 2,000 of the same texts: {batch['passages_per_s']} passages/s "
              f"({batch['seconds']} s, whole process)", flush=True)

    top = max(phases, key=lambda p: p["clients"])
    ratio = top["passages_per_s"] / batch["passages_per_s"]
    goals = {
        "zero_errors": all(p["errors"] == 0 for p in phases) and (soak is None or soak["errors"] == 0),
        "served_vs_batch_at_most_clients": round(ratio, 3),
        "served_at_least_70_percent_of_batch": ratio >= 0.70,
        "soak_rss_growth_under_10_percent": soak is None or soak["growth"] < 0.10,
        "no_request_lost_at_shutdown": shutdown["dropped"] == 0 and not shutdown["other_status"],
    }
    report["goals"] = goals
    report["load_average_end"] = os.getloadavg()[0]
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(goals, indent=1))
    print(f"wrote {args.out}")
    ok = all(v for k, v in goals.items() if isinstance(v, bool))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
