#!/usr/bin/env bash
# Generator speed: rag against llama.cpp (llama-cpp-python, same GGUF, same prompt, same threads),
# measured in the same run: the ~512-token prompt of ../shared/anchors, then 128 greedy tokens.
# Needs ../shared/anchors (its setup.sh builds llama-cpp-python once: 7-15 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
RAG=${RAG:-.build/release/rag}
ANCHORS=${RAG_ANCHORS:-../shared/anchors}
PROMPT=$ANCHORS/prompt_512.txt
THREADS=${THREADS:-2}
REPS=${REPS:-3}
MODELS_DIR=${RAG_MODELS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rag/models}
[ -f "$PROMPT" ] || { echo "bench-llm: $PROMPT not found (needs ../shared/anchors)"; exit 0; }

"$ANCHORS/setup.sh" llm > /dev/null
PY=${RAG_ANCHORS_VENV:-$HOME/.cache/rag/anchors-venv}/bin/python
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for model in qwen2.5-coder-0.5b-instruct-q4_k_m smollm2; do
  case $model in
    smollm2) file=$MODELS_DIR/gguf/SmolLM2-135M-Instruct.Q4_1.gguf; anchor=smollm2 ;;
    *) file=$MODELS_DIR/gguf/$model.gguf; anchor=qwen ;;
  esac
  # rag first, then llama.cpp, then rag again: the median of rag's two runs faces the
  # reference measured between them (the machine's load drifts over minutes).
  "$RAG" bench llm --model "$file" --prompt-file "$PROMPT" --n-gen 128 --threads "$THREADS" --reps "$REPS" > "$out/$anchor-rag1.json"
  "$PY" "$ANCHORS/llama_bench.py" "$anchor" --prompt-file "$PROMPT" --n-gen 128 --threads "$THREADS" --reps "$REPS" 2>/dev/null > "$out/$anchor-llama.json"
  "$RAG" bench llm --model "$file" --prompt-file "$PROMPT" --n-gen 128 --threads "$THREADS" --reps "$REPS" > "$out/$anchor-rag2.json"
done
python3 - "$out" <<'PY'
import json, sys
sys.path.insert(0, "scripts"); from benchtable import row
out = sys.argv[1]
print(f"{'generator, 2 threads':44} {'rag':>10} {'llama.cpp':>10} {'ratio':>7}")
for anchor, label in (("qwen", "Qwen2.5-Coder-0.5B Q4_K_M"), ("smollm2", "SmolLM2-135M Q4_1")):
    r1, r2 = (json.load(open(f"{out}/{anchor}-rag{i}.json")) for i in (1, 2))
    ref = json.load(open(f"{out}/{anchor}-llama.json"))
    best = lambda key: (r1[key] + r2[key]) / 2
    rows = [
        (f"{label}: prefill tok/s ({r1['n_prompt']} tokens)", best("prefill_tok_s"), ref["prefill_tok_s"], True),
        (f"{label}: decode tok/s (128 tokens)", best("decode_tok_s"), ref["decode_tok_s"], True),
        (f"{label}: peak RSS MiB", max(r1["peak_rss_mib"], r2["peak_rss_mib"]), ref["peak_rss_mib"], False),
    ]
    for name, a, b, higher in rows:
        ratio = a / b if higher else b / a
        print(f"{name:44} {a:10.1f} {b:10.1f} {ratio:6.2f}x")
        row(name, a, b, higher)
    print(f"  rag runs: prefill {r1['prefill_tok_s']} / {r2['prefill_tok_s']}, decode {r1['decode_tok_s']} / {r2['decode_tok_s']} tok/s; "
          f"first greedy ids rag {r1['first_gen_ids']} llama.cpp {ref['first_gen_ids']}")
print("(ratio > 1: rag is better; peak RSS ratio = llama.cpp / rag)")
PY
