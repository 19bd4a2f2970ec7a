#!/usr/bin/env bash
# Continuous batching at the server: 1, 2, 4, 8 concurrent clients stream /v1/ask answers of 128
# tokens (ignore_eos, no answer cache, no abstaining) from `rag serve --parallel 4` on the
# default model; each client asks ROUNDS (2) questions one after the other. Prints, per
# concurrency: aggregate decode tok/s (the sum of the clients' decode rates), per-client decode
# tok/s, end-to-end tok/s (all answer tokens over the run's wall time), TTFT p50/p95 (request
# sent → first token, retrieval and prefill included). The naive line (no batching) is one
# client's rate for any number of clients. MODE=chat asks the model alone instead
# (/v1/chat/completions, short prompts asking for long text): decode-heavy requests.
# SERVER=llama runs the same chat clients against llama.cpp's llama-server with -np PARALLEL
# (scripts/llama-server.sh builds it natively; its system_info must list what this CPU has).
# VERBOSE=1 prints every request (when it was sent, its TTFT, decode time and tokens).
#   scripts/bench-serve-ask.sh [DB] [MODEL] [PARALLEL]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/start-server.sh  # CACHE, VENV, RAG, start_server, with_client_venv, with_workdir
. scripts/native-check.sh  # require_native
DB="${1:-indexes/default.sqlite}"
MODEL="${2:-${RAG_MODELS_DIR:-$CACHE/models}/gguf/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf}"
PARALLEL="${3:-4}"
with_client_venv
with_workdir
if [ "${SERVER:-rag}" = llama ]; then
  [ "${MODE:-ask}" = chat ] || { echo "SERVER=llama measures the model alone: run it with MODE=chat"; exit 2; }
  LLAMA_SERVER="$(scripts/llama-server.sh)"
  log="${SERVE_LOG:-$work/llama-server.log}"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # Its system_info is logged at trace verbosity only: a short probe run prints it.
  "$LLAMA_SERVER" -m "$MODEL" -np 1 -c 512 -t 2 --host 127.0.0.1 --port "$port" --no-webui -lv 5 2> "$work/probe.log" > /dev/null &
  probe=$!
  for _ in $(seq 1 300); do grep -q "system_info" "$work/probe.log" && break; sleep 0.1; done
  kill "$probe" 2>/dev/null; wait "$probe" 2>/dev/null || true
  info=$(grep -m1 -o "system_info.*" "$work/probe.log" || true)
  echo "llama-server: $info"
  require_native llama-server "$info"
  # Slots of 2,048 tokens each, as rag serve's; 2 threads; its defaults otherwise (continuous batching, prompt cache).
  "$LLAMA_SERVER" -m "$MODEL" -np "$PARALLEL" -c $((2048 * PARALLEL)) -t 2 --host 127.0.0.1 --port "$port" --no-webui 2> "$log" > /dev/null &
  server=$!
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/health" > /dev/null 2>&1 && break
    kill -0 "$server" 2>/dev/null || { echo "llama-server did not start:"; tail -20 "$log"; exit 1; }
    sleep 0.1
  done
else
  start_server "${SERVE_LOG:-$work/serve.log}" --db "$DB" --model "$MODEL" --parallel "$PARALLEL" --cache-size 0 --queue 16 ${SERVE_ARGS:-}
fi
SERVER="${SERVER:-rag}" MODE="${MODE:-ask}" PARALLEL="$PARALLEL" ROUNDS="${ROUNDS:-2}" CLIENTS="${CLIENTS:-1 2 4 8}" "$VENV/bin/python" - "$port" <<'PY'
import asyncio, json, os, re, sys, time
import httpx

port = sys.argv[1]
MODE, ROUNDS, TOKENS = os.environ["MODE"], int(os.environ["ROUNDS"]), 128
if MODE == "chat":
    topics = ["a lighthouse keeper", "a lost cat", "the first train to the coast", "a baker at dawn", "two rival chess players",
              "a storm over the harbour", "a robot learning to paint", "an old map", "a village festival", "a night at the observatory"]
    questions = [f"Write a long, detailed story about {t}." for t in topics]
else:
    questions = [line.strip() for line in open("scripts/questions.txt") if line.strip()]
MODEL_NAME = None
T0 = time.perf_counter()

async def ask(http, question):
    """One streamed answer: (ttft s, decode s, tokens)."""
    start = time.perf_counter()
    first = last = None
    tokens = 0
    if MODE == "chat":
        route, body = "/v1/chat/completions", {"model": MODEL_NAME, "messages": [{"role": "user", "content": question}], "stream": True,
                                               "max_tokens": TOKENS, "stream_options": {"include_usage": True}}
    else:
        route, body = "/v1/ask", {"question": question, "stream": True, "max_tokens": TOKENS, "ignore_eos": True, "abstain_below": 0}
    async with http.stream("POST", route, json=body) as r:
        r.raise_for_status()
        event = None
        async for line in r.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and line != "data: [DONE]":
                data = json.loads(line[6:])
                if event == "error" or "error" in data:
                    raise RuntimeError(line)
                if MODE == "chat":
                    if data.get("usage"):
                        tokens = data["usage"]["completion_tokens"]
                    if data["choices"] and data["choices"][0]["delta"].get("content"):
                        last = time.perf_counter()
                        first = first or last
                elif event == "token":
                    last = time.perf_counter()
                    first = first or last
                elif event == "done":
                    tokens = data["timings"]["completion_tokens"]
    if os.environ.get("VERBOSE"):
        print(f"  sent {start - T0:7.2f}s  ttft {first - start:6.2f}s  decode {last - first:6.2f}s  {tokens} tokens", flush=True)
    return first - start, last - first, tokens

async def client(n, results):
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600) as http:
        for k in range(ROUNDS):
            results.append(await ask(http, questions[(n * ROUNDS + k) % len(questions)]))

def metric(text, name):
    m = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0

async def main():
    global MODEL_NAME
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600) as http:
        MODEL_NAME = [m["id"] for m in (await http.get("/v1/models")).json()["data"] if not m["id"].startswith("rag")][0]
        await ask(http, questions[-1])  # warm up: model pages, the template's prefix
        rows = []
        for clients in [int(c) for c in os.environ["CLIENTS"].split()]:
            results = []
            start = time.perf_counter()
            await asyncio.gather(*(client(n, results) for n in range(clients)))
            wall = time.perf_counter() - start
            ttfts = sorted(r[0] for r in results)
            pct = lambda p: ttfts[min(len(ttfts) - 1, int(p * len(ttfts)))]
            per_client = sum(t / d for _, d, t in results if d > 0) / len(results)
            rows.append({"clients": clients, "requests": len(results),
                         "aggregate_decode_tok_s": round(per_client * min(clients, int(os.environ["PARALLEL"])), 1),
                         "per_client_decode_tok_s": round(per_client, 1),
                         "end_to_end_tok_s": round(sum(r[2] for r in results) / wall, 1),
                         "ttft_p50_s": round(pct(0.5), 2), "ttft_p95_s": round(pct(0.95), 2), "wall_s": round(wall, 1)})
            print(json.dumps(rows[-1]), flush=True)
    one = rows[0]
    print("clients  aggregate decode tok/s  per client  end to end tok/s  TTFT p50  TTFT p95   (vs one client)")
    for r in rows:
        print(f"{r['clients']:>7}  {r['aggregate_decode_tok_s']:>9.1f} ({r['aggregate_decode_tok_s'] / one['aggregate_decode_tok_s']:.2f}x)"
              f"  {r['per_client_decode_tok_s']:>10.1f}  {r['end_to_end_tok_s']:>9.1f} ({r['end_to_end_tok_s'] / one['end_to_end_tok_s']:.2f}x)"
              f"  {r['ttft_p50_s']:>7.2f}s  {r['ttft_p95_s']:>7.2f}s ({r['ttft_p95_s'] / one['ttft_p95_s']:.2f}x)")
    sys.path.insert(0, "scripts"); from benchtable import row
    for r in rows[1:]:
        # Against the naive line: one client's rate whatever the number of clients.
        route = ("llama-server " if os.environ["SERVER"] == "llama" else "") + ("/v1/chat/completions" if MODE == "chat" else "/v1/ask")
        row(f"serve: {route} aggregate decode tok/s ({r['clients']} clients vs 1)", r["aggregate_decode_tok_s"], one["aggregate_decode_tok_s"])
        row(f"serve: {route} end-to-end tok/s ({r['clients']} clients vs 1)", r["end_to_end_tok_s"], one["end_to_end_tok_s"])
        row(f"serve: {route} TTFT p95 s ({r['clients']} clients vs 1)", r["ttft_p95_s"], one["ttft_p95_s"], higher_is_better=False)

asyncio.run(main())
PY
