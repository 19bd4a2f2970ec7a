#!/usr/bin/env bash
# HNSW: rag against hnswlib (same M, efConstruction, ef values, data and one thread), measured
# in the same run, on mnist10k (l2 and cosine) and scifact-minilm (cosine, real text embeddings).
# Then: opening a persisted 100,000-vector index, and its size against the raw vectors + links.
set -euo pipefail
cd "$(dirname "$0")/.."
RAG=${RAG:-.build/release/rag}
ANCHORS=${RAG_ANCHORS:-../shared/anchors}
DATA=${RAG_DATA:-../shared/data}
M=${M:-16}
EFC=${EFC:-200}
EFS=${EFS:-10,20,40,80,160}
[ -d "$DATA/mnist10k" ] || { echo "bench-index: $DATA/mnist10k not found (needs ../shared/data)"; exit 0; }

"$ANCHORS/setup.sh" hnsw > /dev/null
PY=${RAG_ANCHORS_VENV:-$HOME/.cache/rag/anchors-venv}/bin/python
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

run() {  # name data-dir space groundtruth
  local name=$1 dir=$2 space=$3 gt=$4
  "$RAG" index bench --base "$dir/base.fvecs" --query "$dir/query.fvecs" --groundtruth "$dir/$gt" \
    --space "$space" --m "$M" --ef-construction "$EFC" --ef "$EFS" --json > "$out/$name.rag.jsonl"
  "$PY" "$ANCHORS/hnswlib_bench.py" "$dir" --space "$space" --M "$M" --ef-construction "$EFC" \
    --efs "$EFS" --gt "$dir/$gt" 2>/dev/null > "$out/$name.hnswlib.jsonl"
}
run mnist10k-l2 "$DATA/mnist10k" l2 groundtruth.ivecs
run mnist10k-cosine "$DATA/mnist10k" cosine groundtruth_cosine.ivecs
run scifact-minilm "$DATA/scifact-minilm" cosine groundtruth.ivecs

python3 - "$out" <<'PY'
import json, math, os, sys
sys.path.insert(0, "scripts"); from benchtable import row, qps_at as qps_on
out = sys.argv[1]
qps_at = lambda curve, recall: qps_on(curve, recall, "recall_at_10")
def load(path):
    return [json.loads(l) for l in open(path) if l.strip()]
print(f"{'HNSW, 1 thread':22} {'ef':>4} {'recall rag':>10} {'hnswlib':>8} {'QPS rag':>9} {'hnswlib@=recall':>15} {'ratio':>6}")
for name in ("mnist10k-l2", "mnist10k-cosine", "scifact-minilm"):
    rag, ref = load(f"{out}/{name}.rag.jsonl"), load(f"{out}/{name}.hnswlib.jsonl")
    refs = {p["ef"]: p for p in ref}
    for p in rag:
        h = refs.get(p["ef"], {})
        at = qps_at(ref, p["recall"])
        print(f"{name:22} {p['ef']:4d} {p['recall']:10.4f} {h.get('recall_at_10', float('nan')):8.4f} {p['qps']:9.0f} {at:15.0f} {p['qps'] / at:5.2f}x")
    # The table's figure: QPS at the first ef that reaches recall@10 0.95 (else the best recall).
    p = next((p for p in rag if p["recall"] >= 0.95), rag[-1])
    row(f"HNSW {name}: QPS at recall@10 {p['recall']:.3f} (ef {p['ef']})", p["qps"], qps_at(ref, p["recall"]))
    b_rag, b_ref = rag[0]["build_s"], ref[0]["build_s"]
    print(f"{name:22} build {b_rag:.2f} s vs hnswlib {b_ref:.2f} s: {b_rag / b_ref:.2f}x the time")
    row(f"HNSW {name}: build seconds", b_rag, b_ref, False)
print("(QPS ratio > 1: rag is faster at the same recall@10; hnswlib's QPS interpolated on its own recall curve)")
PY

# Opening a persisted index of 100,000 384-d vectors.
"$RAG" bench index-open --vectors "${OPEN_VECTORS:-100000}" --dimensions 384
