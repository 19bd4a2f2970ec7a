#!/usr/bin/env bash
# `make eval`: quality on the development splits in ../shared/data (third-party, never copied
# here). SciFact train queries (retrieval, three modes), PubMedQA cv questions (yes/no/maybe
# answers), COVID-QA (source retrieval on all 1,380 questions; answers on the first $COVID_LIMIT).
# Results (JSON and per-question JSONL) go to $EVAL_OUT; the last lines compare with the targets.
set -euo pipefail
cd "$(dirname "$0")/.."
RAG=${RAG:-.build/release/rag}
DATA=${RAG_DATA:-../shared/data}
OUT=${EVAL_OUT:-eval-results}
PUBMED_LIMIT=${PUBMED_LIMIT:-500}
COVID_LIMIT=${COVID_LIMIT:-100}
[ -d "$DATA/scifact" ] || { echo "eval: $DATA not found (needs ../shared/data)"; exit 1; }
mkdir -p "$OUT"

for mode in bm25 dense hybrid; do
  echo "== SciFact train, $mode"
  "$RAG" eval retrieval --corpus "$DATA/scifact/corpus.jsonl" --queries "$DATA/scifact/queries.jsonl" \
    --qrels "$DATA/scifact/qrels/train.tsv" --mode "$mode" --json | tee "$OUT/scifact-$mode.json"
done

echo "== PubMedQA cv, template yesno, first $PUBMED_LIMIT questions"
"$RAG" eval qa --dataset "$DATA/pubmedqa" --template yesno --top-k 3 --max-tokens 48 --limit "$PUBMED_LIMIT" \
  --out "$OUT/pubmedqa.jsonl" --json | tee "$OUT/pubmedqa.json"

echo "== COVID-QA, retrieval, all questions"
"$RAG" eval qa --dataset "$DATA/covidqa" --no-generate --json | tee "$OUT/covidqa-retrieval.json"
echo "== COVID-QA, answers, first $COVID_LIMIT questions"
"$RAG" eval qa --dataset "$DATA/covidqa" --limit "$COVID_LIMIT" --max-tokens 96 \
  --out "$OUT/covidqa.jsonl" --json | tee "$OUT/covidqa.json"

python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
get = lambda name, key: json.load(open(f"{out}/{name}.json"))[key]
rows = [
    ("SciFact train, hybrid nDCG@10", get("scifact-hybrid", "ndcg@10"), 0.70),
    ("PubMedQA cv accuracy", get("pubmedqa", "accuracy"), 0.60),
    ("COVID-QA source hit@5", get("covidqa-retrieval", "source_hit@5"), 0.85),
]
print(f"\n{'target':34} {'measured':>9} {'target':>7}")
for name, value, target in rows:
    print(f"{name:34} {value:9.4f} {target:7.2f}  {'met' if value >= target else 'NOT met'}")
PY
