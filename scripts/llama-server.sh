#!/usr/bin/env bash
# Builds llama.cpp's llama-server from the source the anchors' llama-cpp-python 0.3.36 vendors
# (the same llama.cpp the reference benchmarks run), natively (-DGGML_NATIVE=ON, as its users
# build it), into $RAG_CACHE/llama-server; idempotent. ~10 min on 2 cores the first time.
# Prints the binary's path on stdout; progress on stderr. (The serve benchmark reads the binary's
# system_info and refuses a reference without what this CPU has.)
#   scripts/llama-server.sh
set -euo pipefail
CACHE="${RAG_CACHE:-$HOME/.cache/rag}"
VERSION=0.3.36
DIR="$CACHE/llama-server"
BIN="$DIR/build/bin/llama-server"
say() { printf '[llama-server %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ ! -x "$BIN" ]; then
  mkdir -p "$DIR"
  SRC="$DIR/llama_cpp_python-$VERSION"
  if [ ! -d "$SRC/vendor/llama.cpp/tools/server" ]; then
    if [ ! -f "$DIR/llama_cpp_python-$VERSION.tar.gz" ]; then
      say "fetching the llama-cpp-python $VERSION source distribution"
      pip="$CACHE/anchors-venv/bin/pip"
      [ -x "$pip" ] || pip="python3 -m pip"
      $pip download "llama_cpp_python==$VERSION" --no-binary :all: --no-deps -d "$DIR" >&2
    fi
    tar xzf "$DIR/llama_cpp_python-$VERSION.tar.gz" -C "$DIR"
  fi
  command -v cmake >/dev/null || { say "cmake is missing: apt-get install -y cmake"; exit 1; }
  say "building llama-server natively (-DGGML_NATIVE=ON), log in $DIR/build.log"
  cmake -S "$SRC/vendor/llama.cpp" -B "$DIR/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF >"$DIR/build.log" 2>&1
  cmake --build "$DIR/build" --target llama-server -j "$(nproc)" >>"$DIR/build.log" 2>&1 \
    || { tail -n 40 "$DIR/build.log" >&2; exit 1; }
fi

"$BIN" --version >/dev/null 2>&1 || { say "$BIN does not run"; exit 1; }
echo "$BIN"
