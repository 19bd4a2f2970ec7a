#!/usr/bin/env bash
# The two index backends side by side, in one run on one machine, PostgreSQL started here on
# loopback (scripts/with-postgres.sh; synchronous_commit off, fsync on — the durability of
# SQLite's WAL with synchronous=NORMAL):
#  - ingest of SciFact (5,183 abstracts) with embeddings into each: documents/s;
#  - `rag eval retrieval` on SciFact's judged train queries, BM25, dense and hybrid: nDCG@10
#    (300 chunks per query) and the in-process query latency (p50, p95: the path of `rag search`,
#    embedding included) at that depth and at `rag search`'s own (top 10, ef 64);
#  - on scifact-minilm's vectors, recall@10 and queries/s of pgvector's HNSW against rag's own
#    graph, same m and ef_construction, one client/thread (scripts/pgvector_bench.py).
set -euo pipefail
cd "$(dirname "$0")/.."
RAG=${RAG:-.build/release/rag}
DATA=${RAG_DATA:-../shared/data}
M=${M:-16}
EFC=${EFC:-200}
EFS=${EFS:-10,20,40,80,160}
[ -f "$DATA/scifact/corpus.jsonl" ] || { echo "bench-pg: $DATA/scifact not found (needs ../shared/data), skipped"; exit 0; }
if [ -z "${RAG_TEST_POSTGRES:-}" ]; then
  RAG_PG_OPTIONS="-c synchronous_commit=off -c shared_buffers=512MB" exec scripts/with-postgres.sh "$0" "$@"
fi
"$RAG_PG_VENV/bin/python" -c "import psycopg" 2>/dev/null || "$RAG_PG_VENV/bin/pip" install -q "psycopg[binary]>=3.1"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
pg=${RAG_TEST_POSTGRES%/postgres}/rag_bench_scifact
sqlite="$out/scifact.sqlite"

for backend in sqlite postgres; do
  db=$sqlite; [ "$backend" = postgres ] && db=$pg
  echo "bench-pg: ingesting SciFact into $backend" >&2
  "$RAG" ingest "$DATA/scifact/corpus.jsonl" --db "$db" --json > "$out/$backend.ingest.json"
  for mode in bm25 dense hybrid; do
    "$RAG" eval retrieval --corpus "$DATA/scifact/corpus.jsonl" --queries "$DATA/scifact/queries.jsonl" \
      --qrels "$DATA/scifact/qrels/train.tsv" --mode "$mode" --db "$db" --json > "$out/$backend.$mode.json"
    "$RAG" eval retrieval --corpus "$DATA/scifact/corpus.jsonl" --queries "$DATA/scifact/queries.jsonl" \
      --qrels "$DATA/scifact/qrels/train.tsv" --mode "$mode" --db "$db" --depth 10 --json > "$out/$backend.$mode.top10.json"
  done
done

echo "bench-pg: HNSW on scifact-minilm, rag's graph and pgvector's" >&2
"$RAG" index bench --base "$DATA/scifact-minilm/base.fvecs" --query "$DATA/scifact-minilm/query.fvecs" \
  --groundtruth "$DATA/scifact-minilm/groundtruth.ivecs" --space cosine --m "$M" --ef-construction "$EFC" --ef "$EFS" --json > "$out/ann.rag.jsonl"
"$RAG_PG_VENV/bin/python" scripts/pgvector_bench.py "$RAG_TEST_POSTGRES" "$DATA/scifact-minilm" \
  --m "$M" --ef-construction "$EFC" --efs "$EFS" > "$out/ann.pgvector.jsonl"

python3 - "$out" <<'PY'
import json, sys
sys.path.insert(0, "scripts"); from benchtable import row, qps_at
out = sys.argv[1]
load = lambda p: json.load(open(f"{out}/{p}"))
lines = lambda p: [json.loads(l) for l in open(f"{out}/{p}") if l.strip()]
s, p = load("sqlite.ingest.json"), load("postgres.ingest.json")
rate = lambda r: r["added"] / r["seconds"]
print(f"{'backends, SciFact':34} {'sqlite':>10} {'postgres':>10} {'pg/sqlite':>9}")
print(f"{'ingest: documents/s':34} {rate(s):10.1f} {rate(p):10.1f} {rate(p) / rate(s):8.2f}x   ({s['added']} documents, {s['chunks']} chunks, embedding included)")
row("backends scifact: ingest documents/s, postgres vs sqlite", rate(p), rate(s))
for mode in ("bm25", "dense", "hybrid"):
    a, b = load(f"sqlite.{mode}.json"), load(f"postgres.{mode}.json")
    print(f"{mode + ': nDCG@10':34} {a['ndcg@10']:10.4f} {b['ndcg@10']:10.4f} {b['ndcg@10'] - a['ndcg@10']:+9.4f}")
    print(f"{mode + ': p50 / p95 ms, 300 deep':34} {a['p50_ms']:4.1f} / {a['p95_ms']:4.1f} {b['p50_ms']:4.1f} / {b['p95_ms']:4.1f}")
    a10, b10 = load(f"sqlite.{mode}.top10.json"), load(f"postgres.{mode}.top10.json")
    print(f"{mode + ': p50 / p95 ms, top 10':34} {a10['p50_ms']:4.1f} / {a10['p95_ms']:4.1f} {b10['p50_ms']:4.1f} / {b10['p95_ms']:4.1f}")
    row(f"backends scifact {mode}: nDCG@10 postgres vs sqlite", b["ndcg@10"], a["ndcg@10"])
    row(f"backends scifact {mode}: query p50 ms (300 deep) postgres vs sqlite", b["p50_ms"], a["p50_ms"], False)
    row(f"backends scifact {mode}: query p50 ms (top 10, as rag search) postgres vs sqlite", b10["p50_ms"], a10["p50_ms"], False)
rag, pgv = lines("ann.rag.jsonl"), lines("ann.pgvector.jsonl")
print(f"\n{'HNSW scifact-minilm, 1 client':30} {'ef':>4} {'recall rag':>10} {'pgvector':>9} {'QPS rag':>8} {'pgvector':>9} {'pgvector@=recall':>16}")
byef = {c["ef"]: c for c in pgv}
for c in rag:
    g = byef.get(c["ef"], {})
    print(f"{'':30} {c['ef']:4d} {c['recall']:10.4f} {g.get('recall', float('nan')):9.4f} {c['qps']:8.0f} {g.get('qps', float('nan')):9.0f} {qps_at(pgv, c['recall']):16.0f}")
c = next((c for c in rag if c["recall"] >= 0.95), rag[-1])
row(f"HNSW scifact-minilm: QPS at recall@10 {c['recall']:.3f}, rag vs pgvector", c["qps"], qps_at(pgv, c["recall"]))
print(f"build: rag {rag[0]['build_s']:.2f} s, pgvector {pgv[0]['build_s']:.2f} s (one thread each)")
print("(pgvector's queries go through a client connection on loopback, rag's are in process: a user's rag search pays neither's overhead alone)")
PY
