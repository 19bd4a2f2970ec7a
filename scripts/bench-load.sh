#!/usr/bin/env bash
# make bench-load: 50 concurrent clients for LOAD_SECONDS (60) against one `rag serve` (the small
# model) over a copy of the demo corpus's index — searches, answers (JSON, streamed, hung up,
# never read), chat completions, uploads and deletes, document lists, /healthz. Prints per route
# requests/s, p50/p99, 503s, errors; the server's RSS; whether the targets are met (exit 1 if not).
set -euo pipefail
cd "$(dirname "$0")/.."
DB="${1:-indexes/default.sqlite}"
. scripts/start-server.sh  # CACHE, VENV, RAG, MODEL, start_server
with_client_venv
with_workdir
cp "$DB" "$work/index.sqlite"
start_server "$work/serve.log" --db "$work/index.sqlite" --model "$MODEL" --max-tokens 24
echo "bench-load: 50 clients for ${LOAD_SECONDS:-60} s against rag serve on port $port ($(nproc) cores)"
status=0
# The health prober at normal priority, the load generator niced: on two cores the generator's
# busy event loop would otherwise delay the prober's own threads and count as the server's time.
"$VENV/bin/python" scripts/healthz_probe.py "$port" "${LOAD_SECONDS:-60}" 4 > "$work/probe.tmp" && mv "$work/probe.tmp" "$work/probe.json" &
nice -n 10 "$VENV/bin/python" scripts/bench_load.py "$port" "$server" "$work/probe.json" || status=$?
if ! kill -0 "$server" 2>/dev/null; then echo "bench-load: the server died"; tail -20 "$work/serve.log"; exit 1; fi
exit $status
