#!/usr/bin/env bash
# End-to-end `rag ask` over corpus/: 10 questions, each template's time to first token with and
# without the prefix KV cache, decode tok/s, retrieval latency. Needs the index at $1.
set -euo pipefail
cd "$(dirname "$0")/.."
RAG=${RAG:-.build/release/rag}
DB=${1:-indexes/default.sqlite}
for template in default fewshot; do
  "$RAG" bench ask --questions scripts/questions.txt --db "$DB" --template "$template" | tee /dev/stderr | python3 -c '
import json, sys
sys.path.insert(0, "scripts"); from benchtable import row
r = json.loads(sys.stdin.read())
t = r["template"]
row(f"ask ({t}): TTFT p50 ms, prefix cache (ref: without)", r["ttft_ms_p50_with_prefix_cache"], r["ttft_ms_p50_without_prefix_cache"], False)
row(f"ask ({t}): retrieval p50 ms", r["retrieve_ms_p50"])
row(f"ask ({t}): decode tok/s p50", r["decode_tok_s_p50"])
' 2>&1
done
