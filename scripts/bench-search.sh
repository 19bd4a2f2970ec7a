#!/usr/bin/env bash
# Search latency on the SciFact index (../shared/data): `rag serve`'s /v1/search, hybrid top 10
# (the query's embedding included), one client in sequence over 300 queries (p50, p95) and 8
# concurrent clients for 15 s (requests/s, p50); then Chroma on the same corpus with the same
# MiniLM weights and threads (scripts/chroma_bench.py), in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
RAG=${RAG:-.build/release/rag}
DATA=${RAG_DATA:-../shared/data}
ANCHORS=${RAG_ANCHORS:-../shared/anchors}
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/rag"
[ -f "$DATA/scifact/corpus.jsonl" ] || { echo "bench-search: $DATA/scifact not found, skipped"; exit 0; }
mkdir -p "$CACHE/bench"
DB="$CACHE/bench/scifact.sqlite"
echo "bench-search: the SciFact index ($DB; built once, ~5 min)" >&2
"$RAG" ingest "$DATA/scifact/corpus.jsonl" --db "$DB" > /dev/null

VENV="$CACHE/client-venv"
if ! "$VENV/bin/python" -c "import httpx" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "openai>=1.40,<3"
fi
log=$(mktemp)
"$RAG" serve --db "$DB" --port 0 --model "$CACHE/models/gguf/SmolLM2-135M-Instruct.Q4_1.gguf" 2> "$log" &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 200); do
  port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log"); [ -n "$port" ] && break; sleep 0.1
done
out=$(mktemp -d)
"$VENV/bin/python" - "$port" "$DATA/scifact/queries.jsonl" > "$out/rag.json" <<'PY'
import asyncio, json, statistics, sys, time
import httpx

port, path = sys.argv[1], sys.argv[2]
queries = [json.loads(line)["text"] for line in open(path) if line.strip()][:300]
body = lambda q: {"query": q, "top_k": 10, "mode": "hybrid"}
pct = lambda xs, p: round(sorted(xs)[min(len(xs) - 1, int(p * len(xs)))], 2)

with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
    for q in queries[:20]:
        http.post("/v1/search", json=body(q)).raise_for_status()
    one = []
    for q in queries:
        start = time.perf_counter()
        http.post("/v1/search", json=body(q)).raise_for_status()
        one.append((time.perf_counter() - start) * 1000)

async def clients(n, seconds=15.0):
    latencies = []
    async def client(k, deadline):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            i = k
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                (await http.post("/v1/search", json=body(queries[i % len(queries)]))).raise_for_status()
                latencies.append((time.perf_counter() - start) * 1000)
                i += n
    start = time.perf_counter()
    await asyncio.gather(*(client(k, start + seconds) for k in range(n)))
    return latencies, time.perf_counter() - start

many, elapsed = asyncio.run(clients(8))
print(json.dumps({"queries": len(queries), "p50_ms": round(statistics.median(one), 2), "p95_ms": pct(one, 0.95),
                  "clients8_requests_per_s": round(len(many) / elapsed, 1), "clients8_p50_ms": pct(many, 0.5)}))
PY
kill $server 2>/dev/null; wait $server 2>/dev/null || true

chroma="$CACHE/bench/chroma-scifact"
if [ -f "$ANCHORS/embed_ort.py" ]; then
  "$ANCHORS/setup.sh" embed > /dev/null
  PY=$(scripts/chroma-venv.sh)
  if [ ! -f "$chroma/.complete" ]; then
    rm -rf "$chroma"
    echo "bench-search: Chroma's SciFact collection ($chroma; built once)" >&2
    "$PY" scripts/chroma_bench.py ingest "$DATA/scifact/corpus.jsonl" "$chroma" --anchors "$ANCHORS" > /dev/null
    touch "$chroma/.complete"
  fi
  "$PY" scripts/chroma_bench.py query "$DATA/scifact/queries.jsonl" "$chroma" --anchors "$ANCHORS" 2>/dev/null > "$out/chroma.json"
else
  echo '{}' > "$out/chroma.json"
  echo "bench-search: $ANCHORS not found, Chroma skipped" >&2
fi

python3 - "$out/rag.json" "$out/chroma.json" <<'PY'
import json, sys
sys.path.insert(0, "scripts"); from benchtable import row
rag, chroma = (json.load(open(p)) for p in sys.argv[1:3])
rows = [("1 client: p50 ms", "p50_ms", False), ("1 client: p95 ms", "p95_ms", False),
        ("8 clients: requests/s", "clients8_requests_per_s", True), ("8 clients: p50 ms", "clients8_p50_ms", False)]
print(f"{'search, SciFact, hybrid top 10':34} {'rag':>10} {'chroma':>10} {'ratio':>7}")
for name, key, higher in rows:
    a, b = rag[key], chroma.get(key)
    ratio = f"{(a / b if higher else b / a):6.2f}x" if b else "      —"
    print(f"{name:34} {a:10.2f} {b if b is not None else '—':>10} {ratio}")
    row(f"search scifact: {name}", a, b, higher)
print("(rag: /v1/search over HTTP, hybrid BM25 + dense; Chroma: collection.query in process, dense only;"
      " both embed the query; ratio > 1: rag is better)")
PY
rm -rf "$out"
