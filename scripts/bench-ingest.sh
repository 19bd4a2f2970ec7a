#!/usr/bin/env bash
# Ingest throughput (release build): the demo corpus, SciFact (../shared/data) with and without
# embeddings, 1,000 generated Markdown files, 50 generated PDFs and a generated 50 MB text file
# (chunking only, --no-embed); a second, unchanged ingest of each; peak RSS and index size.
# Then Chroma adds the same SciFact corpus with the same MiniLM weights and threads, same run
# (scripts/chroma_bench.py; needs ../shared/anchors).
set -euo pipefail
cd "$(dirname "$0")/.."
RAG=${RAG:-.build/release/rag}
DATA=${RAG_DATA:-../shared/data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

ANCHORS=${RAG_ANCHORS:-../shared/anchors}
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
st = r.get("stages", {})
print(f"{name:12} {run:6}  {docs:6d} docs  {r['chunks']:7d} chunks  {s:7.2f} s  "
      f"{docs / s:9.0f} docs/s  {r['chunks'] / s:8.0f} chunks/s  peak RSS {int(rss_kb) / 1024:6.1f} MB  index {size / 1e6:6.1f} MB"
      + (f"  (load {st['load']:.1f} s, chunk {st['chunk']:.1f} s, embed {st['embed']:.1f} s, write {st['write']:.1f} s)" if run == "first" else ""))
if run == "first":
    row(f"ingest {name}: chunks/s", r["chunks"] / s)
    json.dump({"documents_per_s": docs / s, "disk_bytes": size}, open(path + f".{name}", "w"))
PY
  done
}

measure corpus corpus
if [ -f "$DATA/scifact/corpus.jsonl" ]; then
  measure scifact-bm25 "$DATA/scifact/corpus.jsonl" --no-embed
  measure scifact "$DATA/scifact/corpus.jsonl"
  cp "$work/out.json.scifact" "$work/rag-scifact.json"
  if [ -f "$ANCHORS/embed_ort.py" ]; then
    "$ANCHORS/setup.sh" embed > /dev/null
    PY=$(scripts/chroma-venv.sh)
    "$PY" scripts/chroma_bench.py ingest "$DATA/scifact/corpus.jsonl" "$work/chroma" --anchors "$ANCHORS" 2>/dev/null > "$work/chroma.json"
    python3 - "$work/rag-scifact.json" "$work/chroma.json" <<'PY'
import json, sys
sys.path.insert(0, "scripts"); from benchtable import row
rag, chroma = (json.load(open(p)) for p in sys.argv[1:3])
print(f"scifact against Chroma (same run): {rag['documents_per_s']:.1f} against {chroma['documents_per_s']:.1f} docs/s "
      f"({rag['documents_per_s'] / chroma['documents_per_s']:.2f}x); on disk {rag['disk_bytes'] / 1e6:.1f} against "
      f"{chroma['disk_bytes'] / 1e6:.1f} MB ({rag['disk_bytes'] / chroma['disk_bytes']:.2f}x)")
row("ingest scifact: docs/s against Chroma", rag["documents_per_s"], chroma["documents_per_s"], True)
row("ingest scifact: MB on disk against Chroma", rag["disk_bytes"] / 1e6, chroma["disk_bytes"] / 1e6, False)
PY
  fi
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

# 1,000 Markdown files (a heading, three paragraphs each) and 50 PDFs (made like the demo corpus's).
python3 - "$work/markdown" "$work/pdf" <<'PY'
import os, random, subprocess, sys
random.seed(2)
words = open("corpus/kv-cache.md").read().replace("#", "").split()
plain = [w for w in words if w.isascii()]  # make-pdf.py writes ASCII only
para = lambda pool=words: " ".join(random.choice(pool) for _ in range(random.randint(40, 120))) + "."
os.makedirs(sys.argv[1]); os.makedirs(sys.argv[2])
for i in range(1000):
    with open(f"{sys.argv[1]}/note-{i:04d}.md", "w") as f:
        f.write(f"# Note {i}\n\n" + "\n\n".join(para() for _ in range(3)) + "\n")
for i in range(50):
    text = f"{sys.argv[2]}/paper-{i:02d}.txt"
    with open(text, "w") as f:
        f.write("\n\n".join(para(plain) for _ in range(12)) + "\n")
    subprocess.run([sys.executable, "scripts/make-pdf.py", text, text[:-4] + ".pdf"], check=True)
    os.remove(text)
PY
measure markdown-1000 "$work/markdown"
if command -v pdftotext > /dev/null; then measure pdf-50 "$work/pdf"; else echo "pdf-50: pdftotext not installed, skipped"; fi
