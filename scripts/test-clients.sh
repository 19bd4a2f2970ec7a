#!/usr/bin/env bash
# Real clients against a real `rag serve` on 127.0.0.1: the official openai Python package
# (installed here into a venv, idempotently) for chat completions — streaming and not — and
# embeddings, and curl reading the /v1/ask Server-Sent Events. Uses the small model.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/start-server.sh  # CACHE, VENV, RAG, MODEL, start_server

with_client_venv
with_workdir

"$RAG" ingest corpus --db "$work/index.sqlite" > /dev/null
start_server "$work/serve.log" --db "$work/index.sqlite" --model "$MODEL" --context 1024 --max-tokens 24 --api-key test-key
base="http://127.0.0.1:$port"

echo "client tests: openai $("$VENV/bin/python" -c 'import openai; print(openai.__version__)') against $base"
RAG_BASE="$base/v1" "$VENV/bin/python" tests/openai_client.py

# curl reading the SSE stream of /v1/ask: token events, then sources, then done.
curl -sN --fail-with-body -H "Authorization: Bearer test-key" -H "Content-Type: application/json" \
  -d '{"question":"How does speculative decoding speed up generation?","max_tokens":12,"stream":true}' \
  "$base/v1/ask" > "$work/sse.txt"
events=$(grep '^event: ' "$work/sse.txt" | cut -d' ' -f2 | uniq | tr '\n' ' ')
[ "$events" = "token sources done " ] || { echo "curl SSE: unexpected events: $events"; cat "$work/sse.txt"; exit 1; }
grep -q '"citations":\[{' "$work/sse.txt" || { echo "curl SSE: no citations"; exit 1; }
echo "curl SSE: ok ($(grep -c '^event: token' "$work/sse.txt") token events, then sources, done)"

# No key: 401 JSON error; /healthz needs none.
status=$(curl -s -o "$work/401.json" -w '%{http_code}' -d '{"query":"x"}' "$base/v1/search")
[ "$status" = 401 ] && grep -q '"code":"missing_api_key"' "$work/401.json" || { echo "expected 401, got $status"; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")" = 200 ] || { echo "healthz failed"; exit 1; }
echo "client tests: passed"
