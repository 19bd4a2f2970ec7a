"""make bench-load: 50 concurrent clients against one `rag serve` for LOAD_SECONDS (60).

The mix: searches; answers as JSON, streamed, streamed and hung up after the first token, and
asked by clients that never read; OpenAI chat completions; uploads each followed by its delete;
document lists; and /healthz polled throughout. Per route: requests/s, p50/p99 latency, 503s
(the generation queue full), other 4xx, 5xx and client errors. The server's RSS is sampled every
second. Targets (issue 20): no 5xx, no crash, /healthz p99 under 50 ms, RSS at most 1.5x its
value after warm-up. Exits 1 when one is not met.

usage: bench_load.py PORT PID PROBE_FILE (see bench-load.sh)
"""
import asyncio
import json
import os
import random
import sys
import time

import httpx

PORT, PID, PROBE_FILE = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
BASE = f"http://127.0.0.1:{PORT}"
SECONDS = float(os.environ.get("LOAD_SECONDS", "60"))
WARMUP = min(10.0, SECONDS / 6)
QUESTIONS = [line.strip() for line in open("scripts/questions.txt") if line.strip()]


class Route:
    def __init__(self):
        self.latencies, self.statuses, self.errors = [], {}, []

    def record(self, status, seconds):
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if 200 <= status < 300:
            self.latencies.append(seconds)

    def count(self, low, high):
        return sum(n for s, n in self.statuses.items() if low <= s < high)

    def percentile(self, p):
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1)


routes = {}


def route(name):
    return routes.setdefault(name, Route())


async def status_code(request):
    return (await request).status_code


async def timed(name, send):
    start = time.perf_counter()
    try:
        status = await send()
    except (httpx.HTTPError, OSError, asyncio.TimeoutError) as error:
        route(name).errors.append(type(error).__name__)
        return None
    route(name).record(status, time.perf_counter() - start)
    if status == 503:
        await asyncio.sleep(0.5)  # the queue is full: as Retry-After asks, come back later
    return status


async def searcher(http, deadline, rng):
    while time.monotonic() < deadline:
        body = {"query": rng.choice(QUESTIONS), "top_k": 10}
        await timed("search", lambda: status_code(http.post("/v1/search", json=body)))


async def asker(http, deadline, rng, mode):
    while time.monotonic() < deadline:
        body = {"question": rng.choice(QUESTIONS), "max_tokens": 24, "stream": mode != "json"}

        async def send():
            async with http.stream("POST", "/v1/ask", json=body) as response:
                if mode == "hang-up" and response.status_code == 200:
                    async for line in response.aiter_lines():
                        if line.startswith("event: token"):
                            break  # leaving the block closes the connection mid-answer
                    return response.status_code
                await response.aread()
                return response.status_code

        await timed(f"ask ({mode})", send)


async def silent(deadline, rng):
    """Asks for a streamed answer and never reads a byte of it; hangs up after 15 s."""
    while time.monotonic() < deadline:
        start = time.perf_counter()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
            body = json.dumps({"question": rng.choice(QUESTIONS), "max_tokens": 24, "stream": True}).encode()
            writer.write(b"POST /v1/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            await writer.drain()
            await asyncio.sleep(min(15, max(0, deadline - time.monotonic())))
            writer.close()
            route("ask (never read)").record(0, time.perf_counter() - start)
        except OSError as error:
            route("ask (never read)").errors.append(type(error).__name__)


async def chatter(http, deadline, rng):
    while time.monotonic() < deadline:
        body = {"model": "rag", "max_tokens": 24, "messages": [{"role": "user", "content": rng.choice(QUESTIONS)}]}
        await timed("chat/completions", lambda: status_code(http.post("/v1/chat/completions", json=body)))


async def uploader(http, deadline, rng, n):
    i = 0
    while time.monotonic() < deadline:
        i += 1
        text = f"# Load note {n}-{i}\n\nNote {n}-{i} of the load test: harbor {rng.randrange(1000)}, tide {rng.randrange(1000)}.\n"
        response = None

        async def upload():
            nonlocal response
            response = await http.post(f"/v1/documents?filename=load-{n}-{i}.md", content=text.encode(),
                                       headers={"Content-Type": "text/markdown"})
            return response.status_code

        status = await timed("upload", upload)
        if status in (200, 201):
            for document in response.json()["files"][0]["documents"]:
                await timed("delete", lambda: status_code(http.delete(f"/v1/documents/{document['id']}")))


async def lister(http, deadline):
    while time.monotonic() < deadline:
        await timed("documents", lambda: status_code(http.get("/v1/documents?limit=50")))
        await asyncio.sleep(0.2)


async def health(deadline):
    """/healthz latencies from scripts/healthz_probe.py, which the shell script runs beside this
    one at normal priority (this load generator runs niced: on two cores its busy event loop
    would otherwise add its own delay to the server's)."""
    await asyncio.sleep(max(0, deadline - time.monotonic()))
    for _ in range(600):
        try:
            results = json.load(open(PROBE_FILE))
            break
        except (OSError, ValueError):
            await asyncio.sleep(0.1)
    else:
        results = []
    for status, seconds in results:
        if status:
            route("healthz").record(status, seconds)
        else:
            route("healthz").errors.append("connection")


def rss_kib():
    with open(f"/proc/{PID}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def sample(deadline, samples):
    start = time.monotonic()
    while time.monotonic() < deadline:
        try:
            samples.append((time.monotonic() - start, rss_kib()))
        except FileNotFoundError:
            return  # the server is gone: reported below
        await asyncio.sleep(1)


async def main():
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=BASE, timeout=120, limits=limits) as http:
        await http.get("/healthz")
        deadline = time.monotonic() + SECONDS
        samples = []
        rng = random.Random(20261206)
        tasks = [sample(deadline, samples)]
        tasks += [searcher(http, deadline, random.Random(rng.random())) for _ in range(20)]
        tasks += [asker(http, deadline, random.Random(rng.random()), "json") for _ in range(4)]
        tasks += [asker(http, deadline, random.Random(rng.random()), "stream") for _ in range(4)]
        tasks += [asker(http, deadline, random.Random(rng.random()), "hang-up") for _ in range(3)]
        tasks += [silent(deadline, random.Random(rng.random())) for _ in range(3)]
        tasks += [chatter(http, deadline, random.Random(rng.random())) for _ in range(3)]
        tasks += [uploader(http, deadline, random.Random(rng.random()), n) for n in range(6)]
        tasks += [lister(http, deadline) for _ in range(3)]
        tasks += [health(deadline)]  # 4 clients in healthz_probe.py
        started = time.perf_counter()
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started

    alive = os.path.exists(f"/proc/{PID}")
    print(f"{'route':<18} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'2xx':>6} {'503':>5} {'4xx':>5} {'5xx':>5} {'errors':>6}")
    report = {"seconds": round(elapsed, 1), "clients": 50, "routes": {}}
    for name, r in sorted(routes.items()):
        total = sum(r.statuses.values())
        row = {"requests_per_s": round(total / elapsed, 2), "p50_ms": r.percentile(0.5), "p99_ms": r.percentile(0.99),
               "ok": r.count(200, 300), "rejected_503": r.statuses.get(503, 0),
               "other_4xx": r.count(400, 500), "5xx": r.count(500, 600) - r.statuses.get(503, 0), "errors": len(r.errors)}
        report["routes"][name] = row
        print(f"{name:<18} {row['requests_per_s']:>7} {str(row['p50_ms']):>8} {str(row['p99_ms']):>8} {row['ok']:>6} "
              f"{row['rejected_503']:>5} {row['other_4xx']:>5} {row['5xx']:>5} {row['errors']:>6}")
    warm = next((kib for t, kib in samples if t >= WARMUP), samples[-1][1] if samples else 0)
    peak = max((kib for t, kib in samples if t >= WARMUP), default=warm)
    report["rss_mib"] = {"after_warmup": round(warm / 1024, 1), "peak": round(peak / 1024, 1),
                         "ratio": round(peak / warm, 2) if warm else None}
    five = sum(r.count(500, 600) - r.statuses.get(503, 0) for r in routes.values())
    healthz_p99 = route("healthz").percentile(0.99)
    targets = {
        "no crash": alive,
        "no 5xx": five == 0,
        "healthz p99 < 50 ms": healthz_p99 is not None and healthz_p99 < 50,
        "RSS <= 1.5x warm-up": warm > 0 and peak <= 1.5 * warm,
    }
    report["targets"] = targets
    print(f"RSS: {report['rss_mib']['after_warmup']} MiB after {WARMUP:.0f} s of warm-up, peak {report['rss_mib']['peak']} MiB "
          f"({report['rss_mib']['ratio']}x)")
    for name, met in targets.items():
        print(f"target {name}: {'met' if met else 'NOT MET'}")
    print(json.dumps(report))
    sys.path.insert(0, "scripts")
    from benchtable import row
    row("load: /healthz p99 ms (50 clients)", healthz_p99 or 0)
    row("load: /v1/search requests/s (20 of 50 clients)", report["routes"].get("search", {}).get("requests_per_s", 0))
    row("load: RSS peak / after warm-up", report["rss_mib"]["ratio"] or 0)
    sys.exit(0 if all(targets.values()) else 1)


asyncio.run(main())
