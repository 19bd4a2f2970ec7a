# Sourced by the client and browser tests: where things are, and `start_server LOG ARGS...`,
# which runs `$RAG serve --port 0 ARGS...` in the background, its stderr in LOG, and waits for
# its address: sets `server` (the pid) and `port`, or exits with the log when it does not start;
# `with_client_venv` (the openai package, with httpx, in VENV: installed on first use) and
# `with_workdir` (a temporary `work` folder and the server, both gone when the script ends).
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/rag"
VENV="$CACHE/client-venv"
RAG=.build/release/rag
MODEL="${RAG_MODELS_DIR:-$CACHE/models}/gguf/SmolLM2-135M-Instruct.Q4_1.gguf"
start_server() {
  local log=$1; shift
  "$RAG" serve --port 0 "$@" 2> "$log" &
  server=$!
  port=""
  for _ in $(seq 1 300); do
    port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log")
    [ -n "$port" ] && return 0
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  echo "the server did not start:"; cat "$log"; exit 1
}

with_client_venv() {
  if ! "$VENV/bin/python" -c "import openai" 2>/dev/null; then
    echo "installing the openai package into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "openai>=1.40,<3"
  fi
}
with_workdir() {
  work=$(mktemp -d)
  server=""
  trap '[ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
}
