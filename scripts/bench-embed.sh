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
# Query latency moves with the machine's load from minute to minute: alternate short
# query-only runs of the two and compare medians.
head -32 "$SENTENCES" > "$out/few.txt"
for round in 1 2 3 4 5; do
  "$RAG" bench embed "$out/few.txt" --threads "$THREADS" --batch 32 --reps 1 --query "$QUERY" > "$out/rag-q$round.json"
  "$PY" "$ANCHORS/embed_ort.py" "$out/few.txt" --threads "$THREADS" --batch 32 --reps 1 --query "$QUERY" 2>/dev/null > "$out/ort-q$round.json"
done
python3 - "$out/rag.json" "$out/ort.json" "$out" <<'PY'
import json, statistics, sys
sys.path.insert(0, "scripts"); from benchtable import row
rag, ort = (json.load(open(p)) for p in sys.argv[1:3])
for name, d in (("rag", rag), ("ort", ort)):
    d["query_latency_ms_p50"] = statistics.median(
        json.load(open(f"{sys.argv[3]}/{name}-q{r}.json"))["query_latency_ms_p50"] for r in range(1, 6))
rows = [
    ("sentences/s (batch 32)", rag["sentences_per_s"], ort["sentences_per_s"], True),
    ("tokens/s", rag["tokens_per_s"], ort["tokens_per_s"], True),
    ("query latency p50 (ms, 5 rounds)", rag["query_latency_ms_p50"], ort["query_latency_ms_p50"], False),
    ("peak RSS (MiB)", rag["peak_rss_mib"], ort["peak_rss_mib"], False),
]
print(f"{'embedding, ' + str(rag['threads']) + ' threads':34} {'rag':>10} {'onnxruntime':>12} {'ratio':>7}")
for name, a, b, higher in rows:
    ratio = a / b if higher else b / a
    print(f"{name:34} {a:10.1f} {b:12.1f} {ratio:6.2f}x")
    row(f"embedding: {name}", a, b, higher)
print("(ratio > 1: rag is better)")
PY
