#!/usr/bin/env bash
# 8 concurrent clients POST /v1/search (hybrid, top 10) to `rag serve` for 15 s, each sending
# its next query as soon as the last answered; prints requests/s, p50 and p95 latency as JSON.
set -euo pipefail
cd "$(dirname "$0")/.."
DB="${1:-indexes/default.sqlite}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/rag"
VENV="$CACHE/client-venv"
if ! "$VENV/bin/python" -c "import httpx" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "openai>=1.40,<3"
fi
log=$(mktemp)
.build/release/rag serve --db "$DB" --port 0 --model "$CACHE/models/gguf/SmolLM2-135M-Instruct.Q4_1.gguf" 2> "$log" &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 200); do
  port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log"); [ -n "$port" ] && break; sleep 0.1
done
"$VENV/bin/python" - "$port" <<'PY'
import asyncio, json, sys, time
import httpx

port = sys.argv[1]
queries = [line.strip() for line in open("scripts/questions.txt") if line.strip()]
CLIENTS, SECONDS = 8, 15.0

async def client(n, latencies, deadline):
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        i = n
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            r = await http.post("/v1/search", json={"query": queries[i % len(queries)], "top_k": 10})
            r.raise_for_status()
            latencies.append(time.perf_counter() - start)
            i += 1

async def main():
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:  # warm up
        for q in queries:
            (await http.post("/v1/search", json={"query": q})).raise_for_status()
    latencies = []
    start = time.perf_counter()
    await asyncio.gather(*(client(n, latencies, start + SECONDS) for n in range(CLIENTS)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    pct = lambda p: round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1)
    print(json.dumps({"clients": CLIENTS, "seconds": round(elapsed, 1), "requests": len(latencies),
                      "requests_per_s": round(len(latencies) / elapsed, 1), "p50_ms": pct(0.50), "p95_ms": pct(0.95)}))
    sys.path.insert(0, "scripts"); from benchtable import row
    row(f"serve: /v1/search requests/s ({CLIENTS} clients)", len(latencies) / elapsed)
    row(f"serve: /v1/search p95 ms ({CLIENTS} clients)", pct(0.95))

asyncio.run(main())
PY
