#!/usr/bin/env bash
# The venv Chroma runs in for the benchmarks (chromadb with onnxruntime and tokenizers), made once;
# prints its python. The anchors' model files come from `../shared/anchors/setup.sh embed`.
set -euo pipefail
VENV=${RAG_CHROMA_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/rag/chroma-venv}
if ! "$VENV/bin/python" -c "import chromadb, onnxruntime, tokenizers" 2>/dev/null; then
  echo "chroma-venv: installing chromadb into $VENV (once)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "chromadb>=1.0,<2" onnxruntime tokenizers numpy >&2
fi
echo "$VENV/bin/python"
