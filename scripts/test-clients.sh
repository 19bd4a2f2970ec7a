#!/usr/bin/env bash
# Real clients against a real `rag serve` on 127.0.0.1: the official openai Python package
# (installed here into a venv, idempotently) for chat completions — streaming and not — and
# embeddings, and curl reading the /v1/ask Server-Sent Events. Uses the small model.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/rag"
VENV="$CACHE/client-venv"
RAG=.build/release/rag
MODEL="${RAG_MODELS_DIR:-$CACHE/models}/gguf/SmolLM2-135M-Instruct.Q4_1.gguf"

if ! "$VENV/bin/python" -c "import openai" 2>/dev/null; then
  echo "client tests: installing the openai package into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "openai>=1.40,<3"
fi

work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$RAG" ingest corpus --db "$work/index.sqlite" > /dev/null
"$RAG" serve --db "$work/index.sqlite" --model "$MODEL" --port 0 --context 1024 --max-tokens 24 --api-key test-key 2> "$work/serve.log" &
server=$!
for _ in $(seq 1 200); do
  port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/serve.log")
  [ -n "$port" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log"; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "client tests: the server did not start"; cat "$work/serve.log"; exit 1; }
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
