#!/usr/bin/env bash
# The web page in a real browser: headless Chromium from Debian's packages, driven by Selenium
# (PyPI, in the client venv), against a real `rag serve` with the small model and an API key,
# on a free loopback port. Installs what it needs, idempotently. Screenshots of the main states
# go to $RAG_SCREENSHOTS (default .build/screenshots).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/start-server.sh  # CACHE, VENV, RAG, MODEL, start_server
SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)

missing=""
for p in chromium chromium-driver; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "browser test: installing$missing"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing > /dev/null
fi
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
if ! "$VENV/bin/python" -c "import selenium" 2>/dev/null; then
  echo "browser test: installing selenium into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "selenium>=4.15,<5"
fi

work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

start_server "$work/serve.log" --db "$work/index.sqlite" --model "$MODEL" --context 1024 --max-tokens 160 --api-key test-key

shots="${RAG_SCREENSHOTS:-$PWD/.build/screenshots}"
mkdir -p "$shots"
RAG_BASE="http://127.0.0.1:$port" RAG_KEY=test-key RAG_SCREENSHOTS="$shots" RAG_WORK="$work" \
  "$VENV/bin/python" tests/browser_page.py || { echo "--- server log"; tail -20 "$work/serve.log"; exit 1; }
