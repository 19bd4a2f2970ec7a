#!/usr/bin/env python3
"""Greedy decoding in llama.cpp (llama-cpp-python from ../shared/anchors) with three KV setups:
f16 cache without flash attention (how ../shared/reference was made), f16 with flash attention,
and q8_0 keys and values with flash attention (llama.cpp quantizes the V cache only with flash
attention). Same protocol as `rag bench kv`: each prompt's token ids, --n-gen greedy tokens, end
of generation ignored. Prints one JSON list: per prompt the three outputs and where the q8_0 run
departs from each f16 run.

    llama-kv-divergence.py GGUF PROMPTS.json [--n-gen 128] [--threads 2]
"""
import argparse
import json
import sys

GGML_TYPE_F16, GGML_TYPE_Q8_0 = 1, 8


def departure(a, b):
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf")
    ap.add_argument("prompts")
    ap.add_argument("--n-gen", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    import numpy as np
    import llama_cpp
    from llama_cpp import Llama

    prompts = json.load(open(a.prompts))
    n_ctx = max(len(p["ids"]) for p in prompts) + a.n_gen + 16
    setups = {"f16": (GGML_TYPE_F16, False), "f16_flash": (GGML_TYPE_F16, True), "q8_0_flash": (GGML_TYPE_Q8_0, True)}
    outputs = {p["name"]: {} for p in prompts}
    for label, (kv, flash) in setups.items():
        llm = Llama(model_path=a.gguf, n_ctx=n_ctx, n_batch=512, n_ubatch=512, n_threads=a.threads, n_threads_batch=a.threads,
                    seed=0, flash_attn=flash, type_k=kv, type_v=kv, use_mmap=True, verbose=False)
        n_vocab = llm.n_vocab()
        for p in prompts:
            llm.reset()
            llm.eval(p["ids"])
            out = []
            for _ in range(a.n_gen):
                logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(n_vocab,))
                token = int(np.argmax(logits))
                out.append(token)
                llm.eval([token])
            outputs[p["name"]][label] = out
        del llm
    rows = []
    for p in prompts:
        o = outputs[p["name"]]
        rows.append({"name": p["name"], "prompt_tokens": len(p["ids"]), **o,
                     "f16_flash_departs_from_f16": departure(o["f16"], o["f16_flash"]),
                     "q8_0_departs_from_f16": departure(o["f16"], o["q8_0_flash"]),
                     "q8_0_departs_from_f16_flash": departure(o["f16_flash"], o["q8_0_flash"])})
        print(f"{p['name']}: f16 flash departs at {rows[-1]['f16_flash_departs_from_f16']}, q8_0 at {rows[-1]['q8_0_departs_from_f16']} "
              f"(from f16 flash: {rows[-1]['q8_0_departs_from_f16_flash']})", file=sys.stderr)
    json.dump(rows, sys.stdout)
    print()


if __name__ == "__main__":
    main()
