#!/usr/bin/env bash
# Ingest throughput (release build): the demo corpus, SciFact (../shared/data) with and without
# embeddings, and a generated 50 MB text file (chunking only, --no-embed); a second, unchanged
# ingest of each; peak RSS and index size.
set -euo pipefail
cd "$(dirname "$0")/.."
RAG=${RAG:-.build/release/rag}
DATA=${RAG_DATA:-../shared/data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

measure() {  # name, paths...
  local name=$1; shift
  local db="$work/$name.sqlite"
  for run in first second; do
    /usr/bin/time -f "%M" -o "$work/rss" "$RAG" ingest "$@" --db "$db" --json > "$work/out.json"
    python3 - "$name" "$run" "$work/out.json" "$(cat "$work/rss")" "$db" <<'PY'
import json, os, sys
sys.path.insert(0, "scripts"); from benchtable import row
name, run, path, rss_kb, db = sys.argv[1:]
r = json.load(open(path))
docs = r["added"] + r["updated"] + r["unchanged"]
s = max(r["seconds"], 1e-9)
size = sum(os.path.getsize(f) for f in (db, db + "-wal") if os.path.exists(f))
print(f"{name:12} {run:6}  {docs:6d} docs  {r['chunks']:7d} chunks  {s:7.2f} s  "
      f"{docs / s:9.0f} docs/s  {r['chunks'] / s:8.0f} chunks/s  peak RSS {int(rss_kb) / 1024:6.1f} MB  index {size / 1e6:6.1f} MB")
if run == "first":
    row(f"ingest {name}: chunks/s", r["chunks"] / s)
PY
  done
}

measure corpus corpus
if [ -f "$DATA/scifact/corpus.jsonl" ]; then
  measure scifact-bm25 "$DATA/scifact/corpus.jsonl" --no-embed
  measure scifact "$DATA/scifact/corpus.jsonl"
else
  echo "scifact: $DATA/scifact/corpus.jsonl not found, skipped"
fi
python3 - "$work/big.txt" <<'PY'
import random, sys
random.seed(1)
words = open("corpus/kv-cache.md").read().replace("#", "").split()
with open(sys.argv[1], "w") as f:
    size = 0
    while size < 50_000_000:
        para = " ".join(random.choice(words) for _ in range(random.randint(40, 120))) + ".\n\n"
        f.write(para)
        size += len(para)
PY
measure big-50MB "$work/big.txt" --no-embed
