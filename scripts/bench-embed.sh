#!/usr/bin/env bash
# Embedding throughput and one-query latency: rag against onnxruntime (same weights, same
# sentences, same threads), measured in the same run. Needs ../shared/anchors.
set -euo pipefail
cd "$(dirname "$0")/.."
RAG=${RAG:-.build/release/rag}
ANCHORS=${RAG_ANCHORS:-../shared/anchors}
SENTENCES=$ANCHORS/sentences_1000.txt
QUERY="How does Harbor store its vector index on disk?"
THREADS=${THREADS:-2}
REPS=${REPS:-3}
[ -f "$SENTENCES" ] || { echo "bench-embed: $SENTENCES not found (needs ../shared/anchors)"; exit 0; }

"$ANCHORS/setup.sh" embed > /dev/null
PY=${RAG_ANCHORS_VENV:-$HOME/.cache/rag/anchors-venv}/bin/python
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Alternate the two so that machine noise hits both alike.
"$RAG" bench embed "$SENTENCES" --threads "$THREADS" --batch 32 --reps "$REPS" --query "$QUERY" > "$out/rag.json"
"$PY" "$ANCHORS/embed_ort.py" "$SENTENCES" --threads "$THREADS" --batch 32 --reps "$REPS" --query "$QUERY" 2>/dev/null > "$out/ort.json"
python3 - "$out/rag.json" "$out/ort.json" <<'PY'
import json, sys
rag, ort = (json.load(open(p)) for p in sys.argv[1:3])
rows = [
    ("sentences/s (batch 32)", rag["sentences_per_s"], ort["sentences_per_s"], True),
    ("tokens/s", rag["tokens_per_s"], ort["tokens_per_s"], True),
    ("query latency p50 (ms)", rag["query_latency_ms_p50"], ort["query_latency_ms_p50"], False),
    ("peak RSS (MiB)", rag["peak_rss_mib"], ort["peak_rss_mib"], False),
]
print(f"{'embedding, ' + str(rag['threads']) + ' threads':28} {'rag':>10} {'onnxruntime':>12} {'ratio':>7}")
for name, a, b, higher in rows:
    ratio = a / b if higher else b / a
    print(f"{name:28} {a:10.1f} {b:12.1f} {ratio:6.2f}x")
print("(ratio > 1: rag is better)")
PY
