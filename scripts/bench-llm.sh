#!/usr/bin/env bash
# Generator speed: rag against llama.cpp (llama-cpp-python, same GGUF, same prompt, same threads),
# measured in the same run, on the three generators: the ~512-token prompt of ../shared/anchors,
# then 128 greedy tokens. Also: one decode step of 4 tokens against one of 1, the threads'
# barrier cost, the weight bytes a token reads ÷ its decode time (GB/s) for both engines, against
# the machine's streaming-read bandwidth.
# Refuses (exit 1) when the reference was built without SIMD features this CPU has: a ratio
# against a degraded llama.cpp is void.
# Needs ../shared/anchors (its setup.sh builds llama-cpp-python once: 7-15 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/native-check.sh  # require_native
RAG=${RAG:-.build/release/rag}
ANCHORS=${RAG_ANCHORS:-../shared/anchors}
PROMPT=$ANCHORS/prompt_512.txt
THREADS=${THREADS:-2}
REPS=${REPS:-3}
MODELS_DIR=${RAG_MODELS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rag/models}
[ -f "$PROMPT" ] || { echo "bench-llm: $PROMPT not found (needs ../shared/anchors)"; exit 0; }

"$ANCHORS/setup.sh" llm > /dev/null
PY=${RAG_ANCHORS_VENV:-$HOME/.cache/rag/anchors-venv}/bin/python

# The reference's build must use what this CPU has.
info=$("$PY" -c 'import llama_cpp; print(llama_cpp.llama_print_system_info().decode().strip())')
echo "llama.cpp system_info: $info"
# (A refused one: rm -rf the anchors venv's llama_cpp_python, run setup.sh llm with -DGGML_NATIVE=ON.)
require_native bench-llm "$info"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
models="qwen2.5-coder-0.5b-instruct-q4_k_m SmolLM2-135M-Instruct.Q4_1 qwen2.5-coder-1.5b-instruct-q4_k_m"
for model in $models; do
  file=$MODELS_DIR/gguf/$model.gguf
  [ -f "$file" ] || { echo "bench-llm: $file missing (make models)" >&2; exit 1; }
  # rag first, then llama.cpp, then rag again: the mean of rag's two runs faces the reference
  # measured between them (the machine's load drifts over minutes).
  "$RAG" bench llm --model "$file" --prompt-file "$PROMPT" --n-gen 128 --threads "$THREADS" --reps "$REPS" > "$out/$model-rag1.json"
  "$PY" "$ANCHORS/llama_bench.py" "$file" --prompt-file "$PROMPT" --n-gen 128 --threads "$THREADS" --reps "$REPS" 2>/dev/null > "$out/$model-llama.json"
  "$RAG" bench llm --model "$file" --prompt-file "$PROMPT" --n-gen 128 --threads "$THREADS" --reps "$REPS" > "$out/$model-rag2.json"
done
python3 - "$out" $models <<'PY'
import json, sys
sys.path.insert(0, "scripts"); from benchtable import row
out, models = sys.argv[1], sys.argv[2:]
labels = {"qwen2.5-coder-0.5b-instruct-q4_k_m": "Qwen2.5-Coder-0.5B Q4_K_M", "SmolLM2-135M-Instruct.Q4_1": "SmolLM2-135M Q4_1",
          "qwen2.5-coder-1.5b-instruct-q4_k_m": "Qwen2.5-Coder-1.5B Q4_K_M"}
print(f"{'generator, 2 threads':48} {'rag':>10} {'llama.cpp':>10} {'ratio':>7}")
for model in models:
    label = labels.get(model, model)
    r1, r2 = (json.load(open(f"{out}/{model}-rag{i}.json")) for i in (1, 2))
    ref = json.load(open(f"{out}/{model}-llama.json"))
    mean = lambda key: (r1[key] + r2[key]) / 2
    gib_per_token = r1["weight_mib_per_token"] * 1048576 / 1e9
    rows = [
        (f"{label}: prefill tok/s ({r1['n_prompt']} tokens)", mean("prefill_tok_s"), ref["prefill_tok_s"], True),
        (f"{label}: decode tok/s (128 tokens)", mean("decode_tok_s"), ref["decode_tok_s"], True),
        (f"{label}: decode GB/s of weights", mean("decode_tok_s") * gib_per_token, ref["decode_tok_s"] * gib_per_token, True),
        (f"{label}: peak RSS MiB", max(r1["peak_rss_mib"], r2["peak_rss_mib"]), ref["peak_rss_mib"], False),
    ]
    for name, a, b, higher in rows:
        ratio = a / b if higher else b / a
        print(f"{name:48} {a:10.1f} {b:10.1f} {ratio:6.2f}x")
        row(name, a, b, higher)
    step = mean("step4_over_step1")
    print(f"{label + ': 4-token step / 1-token step':48} {step:10.2f} {'':>10} {'(≤ 1.6)':>7}")
    row(f"{label}: 4-token step / 1-token step", step)
    print(f"  rag runs: prefill {r1['prefill_tok_s']} / {r2['prefill_tok_s']}, decode {r1['decode_tok_s']} / {r2['decode_tok_s']} tok/s; "
          f"steps 1 / 4 tokens {r1['step1_ms']} / {r1['step4_ms']} ms; {r1['barriers_per_token']} barriers per token at "
          f"{r1['barrier_us']} µs = {r1['sync_ms_per_token']} ms; {r1['weight_mib_per_token']:.0f} MiB of weights per token")
    print(f"  first greedy ids rag {r1['first_gen_ids']} llama.cpp {ref['first_gen_ids']}")
bandwidth = max(json.load(open(f"{out}/{m}-rag{i}.json"))["memory_read_gb_s"] for m in models for i in (1, 2))
threads = json.load(open(f"{out}/{models[0]}-rag1.json"))["threads"]
print(f"{f'memory read bandwidth GB/s ({threads} threads, 256 MiB)':48} {bandwidth:10.1f}")
row(f"memory read bandwidth GB/s (streaming, {threads} threads)", bandwidth)
print("(ratio > 1: rag is better; peak RSS ratio = llama.cpp / rag; GB/s = weight bytes per token × tok/s)")
PY
