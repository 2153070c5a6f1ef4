#!/usr/bin/env python
"""Load on `localrag serve`: search latency and throughput at 1, 8 and 32 concurrent clients, and
the time to the first answer token under 4 concurrent askers.

Starts `localrag serve --index DIR` on a free 127.0.0.1 port (or drives a running server given
with --url) and prints one JSON object. Each search level runs its clients for --seconds (at most
--max-requests requests) after a short untimed warm-up; each client keeps one connection and
sends `POST /v1/search` with the queries in turn. Askers send streaming `POST /v1/ask` requests
--asks times each (the --queries, or questions about docs/). Time to first token counts from
sending the request (the wait for the LLM's turn included) to the first `token` event;
`answer_*` are the server's own timings of each answer (`timings_ms` of the `done` event), which
start when its turn comes. 503s from a full answer queue are designed and counted apart
(`busy_503`); any other failure is an error. Clients run in this process, on the same CPUs as
the server, as on a single machine they would.

    .venv/bin/python scripts/bench_serve.py --index indexes/docs --model models/SmolLM2-135M-Instruct.Q4_1.gguf
    .venv/bin/python scripts/bench_serve.py --index DIR --queries ../shared/eval/scifact/queries.jsonl

--query-batch N sets serve.query_batch of the started server (micro-batched query embeddings);
with --compare-query-batch the search levels run on servers without it and with it, alternated
for --rounds rounds in one run, and the report adds their p95 and throughput ratios (no askers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

REPO = Path(__file__).resolve().parents[1]
DEFAULT_QUERIES = [
    "how do I install it", "which models are used", "what does the index store", "how are answers cited",
    "configuration file settings", "error message and fix", "offline air-gapped install", "keyboard shortcuts",
    "hybrid search fusion", "reranking with a cross-encoder", "what happens when nothing is found",
    "environment variables", "benchmark results", "supported file formats", "chunk size and overlap",
]  # fmt: skip
DEFAULT_QUESTIONS = ["how are answers cited?", "which file formats are supported?", "how do I use my own GGUF model?"]
MAX_CLIENTS = 256
MAX_SECONDS = 300.0
WARMUP_S = 1.0


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return round(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo), 2)


def load_queries(path: Path | None) -> list[str]:
    """Queries from a text file (one a line) or a BEIR queries.jsonl ("text"), else built-in ones."""
    if path is None:
        return DEFAULT_QUERIES
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if path.suffix == ".jsonl":
        return [json.loads(line)["text"] for line in lines]
    return lines


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def started_server(
    index: Path, model: str | None, max_queue: int, extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    env["LOCALRAG_SERVE__MAX_QUEUE"] = str(max_queue)
    env.update(extra_env or {})
    cmd = [sys.executable, "-m", "localrag", "serve", "--index", str(index), "--port", str(port)]
    if model:
        cmd += ["--model", model]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 300
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise SystemExit(f"localrag serve exited:\n{log.read().decode(errors='replace')[-3000:]}")
                try:
                    if httpx.get(f"{url}/healthz", timeout=2, trust_env=False).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("localrag serve did not answer /healthz in 300 s")
                time.sleep(0.3)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


async def search_level(
    url: str, headers: dict, queries: list[str], clients: int, seconds: float, max_requests: int, k: int
) -> dict:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    busy = 0
    sent = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60, limits=limits, trust_env=False) as http:

        async def client(i: int, until: float, record: bool) -> None:
            nonlocal sent, busy
            n = i
            while time.perf_counter() < until and (not record or sent < max_requests):
                if record:
                    sent += 1
                query = queries[n % len(queries)]
                n += clients
                t = time.perf_counter()
                try:
                    r = await http.post("/v1/search", json={"query": query, "k": k})
                    status = str(r.status_code)
                except httpx.HTTPError as e:
                    status = type(e).__name__
                elapsed = (time.perf_counter() - t) * 1000
                if not record:
                    continue
                if status == "200":
                    latencies.append(elapsed)
                elif status == "503":
                    busy += 1
                else:
                    errors[status] = errors.get(status, 0) + 1

        warm_until = time.perf_counter() + WARMUP_S
        await asyncio.gather(*(client(i, warm_until, False) for i in range(clients)))
        t0 = time.perf_counter()
        await asyncio.gather(*(client(i, t0 + seconds, True) for i in range(clients)))
        wall = time.perf_counter() - t0
    return {
        "clients": clients,
        "requests": len(latencies),
        "seconds": round(wall, 2),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else None,
        "throughput_rps": round(len(latencies) / wall, 1) if wall else None,
        "busy_503": busy,
        "errors": errors,
    }


async def ask_level(url: str, headers: dict, questions: list[str], askers: int, asks: int) -> dict:
    first_token: list[float] = []
    first_event: list[float] = []
    totals: list[float] = []
    server_first_token: list[float] = []  # the answer's own timings: from its turn, without the wait
    server_totals: list[float] = []
    errors: dict[str, int] = {}
    busy = 0
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=600, trust_env=False) as http:

        async def asker(i: int) -> None:
            nonlocal busy
            for j in range(asks):
                question = questions[(i + j * askers) % len(questions)]
                t = time.perf_counter()
                got_token = got_event = None
                try:
                    async with http.stream("POST", "/v1/ask", json={"question": question, "stream": True}) as r:
                        if r.status_code == 503:
                            busy += 1
                            await r.aread()
                            continue
                        if r.status_code != 200:
                            errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
                            await r.aread()
                            continue
                        event = None
                        async for line in r.aiter_lines():
                            if line.startswith("event:"):
                                event = line[6:].strip()
                                got_event = got_event or time.perf_counter()
                                if event == "token" and got_token is None:
                                    got_token = time.perf_counter()
                                elif event == "error":
                                    errors["error_event"] = errors.get("error_event", 0) + 1
                            elif line.startswith("data:") and event == "done":
                                timings = json.loads(line[5:])["timings_ms"]
                                if timings["first_token"] is not None:
                                    server_first_token.append(timings["first_token"])
                                server_totals.append(timings["total"])
                        if event != "done":
                            errors["no_done_event"] = errors.get("no_done_event", 0) + 1
                            continue
                except httpx.HTTPError as e:
                    errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
                    continue
                end = time.perf_counter()
                totals.append((end - t) * 1000)
                if got_event is not None:
                    first_event.append((got_event - t) * 1000)
                if got_token is not None:
                    first_token.append((got_token - t) * 1000)

        await asyncio.gather(*(asker(i) for i in range(askers)))
    return {
        "askers": askers,
        "answers": len(totals),
        "first_token_p50_ms": percentile(first_token, 50),
        "first_token_p95_ms": percentile(first_token, 95),
        "first_token_max_ms": percentile(first_token, 100),
        "sources_p50_ms": percentile(first_event, 50),
        "total_p50_ms": percentile(totals, 50),
        "total_p95_ms": percentile(totals, 95),
        "answer_first_token_p50_ms": percentile(server_first_token, 50),
        "answer_total_p50_ms": percentile(server_totals, 50),
        "busy_503": busy,
        "errors": errors,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--index", type=Path, help="start `localrag serve --index DIR` on 127.0.0.1")
    where.add_argument("--url", help="drive a running server, e.g. http://127.0.0.1:8642")
    ap.add_argument("--model", help="LLM for the started server (registry name or .gguf path)")
    ap.add_argument(
        "--token", default=os.environ.get("LOCALRAG_SERVE__TOKEN"), help="bearer token, if the server needs one"
    )
    ap.add_argument("--clients", default="1,8,32", help="concurrent search clients per level (comma-separated)")
    ap.add_argument("--seconds", type=float, default=10.0, help="timed seconds per search level")
    ap.add_argument("--max-requests", type=int, default=5000, help="cap on timed requests per search level")
    ap.add_argument("--k", type=int, default=5, help="hits per search")
    ap.add_argument("--queries", type=Path, help="search queries: a text file, one a line, or a BEIR queries.jsonl")
    ap.add_argument("--askers", type=int, default=4, help="concurrent askers (0: skip the ask test)")
    ap.add_argument("--asks", type=int, default=3, help="questions each asker sends, one after another")
    ap.add_argument("--max-queue", type=int, default=4, help="serve.max_queue of the started server")
    ap.add_argument("--query-batch", type=int, help="serve.query_batch of the started server (0: off)")
    ap.add_argument("--query-batch-wait-ms", type=float, help="serve.query_batch_wait_ms of the started server")
    ap.add_argument("--compare-query-batch", action="store_true",
                    help="search levels without and with --query-batch, alternated, in one run")  # fmt: skip
    ap.add_argument("--rounds", type=int, default=2, help="rounds of --compare-query-batch (1..10)")
    args = ap.parse_args(argv)
    if args.compare_query_batch and (args.url or not args.query_batch or not 1 <= args.rounds <= 10):
        ap.error("--compare-query-batch needs --index, --query-batch N >= 2 and --rounds 1..10")

    levels = [int(c) for c in args.clients.split(",") if c.strip()]
    if not levels or not all(1 <= c <= MAX_CLIENTS for c in levels):
        ap.error(f"--clients: each level must be 1..{MAX_CLIENTS}")
    if not 0 < args.seconds <= MAX_SECONDS:
        ap.error(f"--seconds must be in (0, {MAX_SECONDS}]")
    if not 1 <= args.max_requests <= 1_000_000 or not 0 <= args.askers <= 64 or not 1 <= args.asks <= 100:
        ap.error("--max-requests 1..1000000, --askers 0..64, --asks 1..100")
    queries = load_queries(args.queries)
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}

    def run(url: str) -> dict:
        with httpx.Client(base_url=url, headers=headers, trust_env=False, timeout=60) as http:
            status = http.get("/v1/status").json()
        report: dict = {
            "url": url,
            "index": {k: status.get(k) for k in ("index", "documents", "chunks", "generation")},
            "dense": status.get("dense"),
            "cpus": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
            "k": args.k,
            "search": [],
        }
        for clients in levels:
            level = asyncio.run(search_level(url, headers, queries, clients, args.seconds, args.max_requests, args.k))
            report["search"].append(level)
            print(
                f"search, {clients} clients: p95 {level['p95_ms']} ms, {level['throughput_rps']} req/s", file=sys.stderr
            )
        if args.askers:
            questions = queries if args.queries else DEFAULT_QUESTIONS  # a collection's own queries, else docs/ ones
            report["ask"] = asyncio.run(ask_level(url, headers, questions, args.askers, args.asks))
            print(
                f"ask, {args.askers} askers: first token p50 {report['ask']['first_token_p50_ms']} ms", file=sys.stderr
            )
        report["errors_total"] = sum(sum(level["errors"].values()) for level in report["search"]) + sum(
            report.get("ask", {}).get("errors", {}).values()
        )
        return report

    batch_env = {}
    if args.query_batch is not None:
        batch_env["LOCALRAG_SERVE__QUERY_BATCH"] = str(args.query_batch)
    if args.query_batch_wait_ms is not None:
        batch_env["LOCALRAG_SERVE__QUERY_BATCH_WAIT_MS"] = str(args.query_batch_wait_ms)
    if args.compare_query_batch:
        report = compare_query_batch(args, levels, queries, headers, batch_env)
    elif args.url:
        report = run(args.url.rstrip("/"))
    else:
        with started_server(args.index, args.model, args.max_queue, batch_env) as url:
            report = run(url)
    print(json.dumps(report, indent=2))
    return 0 if report["errors_total"] == 0 else 1


def compare_query_batch(
    args: argparse.Namespace, levels: list[int], queries: list[str], headers: dict, batch_env: dict
) -> dict:
    """The search levels on a server without query batching ("off") and one with it ("on"),
    alternated for args.rounds rounds; per level, the ratios on/off of p95 and throughput."""
    runs: dict[str, list[list[dict]]] = {"off": [], "on": []}
    load = [round(x, 2) for x in os.getloadavg()]
    for _ in range(args.rounds):
        for name, env in (("off", {"LOCALRAG_SERVE__QUERY_BATCH": "0"}), ("on", batch_env)):
            with started_server(args.index, args.model, args.max_queue, env) as url:
                results = [
                    asyncio.run(search_level(url, headers, queries, c, args.seconds, args.max_requests, args.k))
                    for c in levels
                ]
            runs[name].append(results)
            for level in results:
                print(f"query batch {name}, {level['clients']} clients: p95 {level['p95_ms']} ms, "
                      f"{level['throughput_rps']} req/s", file=sys.stderr)  # fmt: skip
    ratios = []
    for i, clients in enumerate(levels):
        p95 = [on[i]["p95_ms"] / off[i]["p95_ms"] for off, on in zip(runs["off"], runs["on"])]
        rps = [on[i]["throughput_rps"] / off[i]["throughput_rps"] for off, on in zip(runs["off"], runs["on"])]
        ratios.append({"clients": clients, "p95_on_over_off": [round(r, 3) for r in p95],
                       "throughput_on_over_off": [round(r, 3) for r in rps]})  # fmt: skip
    errors = sum(sum(level["errors"].values()) for rounds in runs.values() for results in rounds for level in results)
    return {"index": str(args.index), "cpus": os.cpu_count(), "load_average_before": load, "k": args.k,
            "query_batch": batch_env, "rounds": runs, "ratios": ratios, "errors_total": errors}  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
