#!/usr/bin/env bash
# KV cache types against llama.cpp's (issue 23): on each generator, the reference prompts of
# ../shared/reference and the anchors' 512-token prompt (and, on the default model, a ~4k-token
# prompt of corpus/), 128 greedy tokens with an f16 cache and with a Q8_0 one, in rag
# (`rag bench kv`: standard and tiled attention over f16, tiled over Q8_0) and in llama.cpp
# (f16 without and with flash attention, Q8_0 with flash attention). Prints where each Q8_0 run
# departs from its f16 run. Needs ../shared (its anchors' setup.sh builds llama-cpp-python once).
set -euo pipefail
cd "$(dirname "$0")/.."
RAG=${RAG:-.build/release/rag}
SHARED=${RAG_SHARED:-../shared}
REFERENCE=$SHARED/reference/llm_reference.json
MODELS_DIR=${RAG_MODELS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rag/models}
[ -f "$REFERENCE" ] || { echo "bench-kv: $REFERENCE not found (needs ../shared)"; exit 0; }
"$SHARED/anchors/setup.sh" llm > /dev/null
PY=${RAG_ANCHORS_VENV:-$HOME/.cache/rag/anchors-venv}/bin/python

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cat corpus/*.md > "$out/corpus.txt"
head -c 17800 "$out/corpus.txt" > "$out/long.txt"
# reference key : file in the model cache
for pair in smollm2-135m-instruct-q4_1:SmolLM2-135M-Instruct.Q4_1 qwen2.5-coder-0.5b-instruct-q4_k_m:qwen2.5-coder-0.5b-instruct-q4_k_m \
            qwen2.5-coder-1.5b-instruct-q4_k_m:qwen2.5-coder-1.5b-instruct-q4_k_m; do
  key=${pair%%:*} file=$MODELS_DIR/gguf/${pair#*:}.gguf
  [ -f "$file" ] || { echo "bench-kv: $file missing (make models)" >&2; exit 1; }
  "$RAG" tokenize --model "$file" --json "$(cat "$SHARED/anchors/prompt_512.txt")" > "$out/p512.json"
  long=""
  if [ "$key" = qwen2.5-coder-1.5b-instruct-q4_k_m ]; then
    "$RAG" tokenize --model "$file" --json "$(cat "$out/long.txt")" > "$out/long.json"
    long=$out/long.json
  fi
  python3 - "$REFERENCE" "$key" "$out/p512.json" "$long" > "$out/$key-prompts.json" <<'PY'
import json, sys
reference, key, p512, long = sys.argv[1:5]
prompts = [{"name": p["name"], "ids": p["prompt_ids"]} for p in json.load(open(reference))["models"][key]["prompts"]]
prompts.append({"name": "anchors_prompt_512", "ids": json.load(open(p512))["ids"]})
if long:
    prompts.append({"name": "corpus_4k", "ids": json.load(open(long))["ids"]})
json.dump(prompts, sys.stdout)
PY
  echo "bench-kv: $key (rag)" >&2
  "$RAG" bench kv --model "$file" --prompts "$out/$key-prompts.json" > "$out/$key-rag.json"
  echo "bench-kv: $key (llama.cpp)" >&2
  "$PY" scripts/llama-kv-divergence.py "$file" "$out/$key-prompts.json" > "$out/$key-llama.json"
done
python3 - "$out" <<'PY'
import json, sys, glob, os
out = sys.argv[1]
def fmt(x): return "none" if x is None else str(x)
print(f"{'model':36} {'prompt':22} {'tokens':>6}  {'rag q8_0 vs f16':>16} {'(vs standard)':>13}  {'llama.cpp q8_0 vs f16 (flash)':>29} {'(vs no flash)':>13}")
for path in sorted(glob.glob(f"{out}/*-rag.json")):
    key = os.path.basename(path)[:-9]
    ours = json.load(open(path)); theirs = {r["name"]: r for r in json.load(open(f"{out}/{key}-llama.json"))}
    for r in ours:
        t = theirs[r["name"]]
        print(f"{key:36} {r['name']:22} {r['prompt_tokens']:>6}  {fmt(r.get('q8_0_departs_from_tiled_f16')):>16} {fmt(r.get('q8_0_departs_from_standard')):>13}  "
              f"{fmt(t.get('q8_0_departs_from_f16_flash')):>29} {fmt(t.get('q8_0_departs_from_f16')):>13}")
print("(first of 128 greedy tokens where the Q8_0 cache's output departs from the f16 cache's; none: the same 128 tokens)")
PY
