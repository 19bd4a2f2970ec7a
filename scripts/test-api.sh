#!/usr/bin/env bash
# The API against its description: a real `rag serve` on 127.0.0.1 (no API key, the default;
# the small model), its /openapi.json checked as OpenAPI 3.1, then schemathesis (installed here
# into the client venv, idempotently) sends every operation generated requests, valid and not,
# and the stateful sequences its links describe (upload → delete, search → chunk). Every check:
# no 5xx, statuses, content types, headers and bodies as the description says, invalid input
# refused, valid input accepted (schemathesis.toml names the two semantic exceptions).
# API_EXAMPLES (default 200) examples per operation. One schemathesis worker: with two, CPython 3.11's
# ast module (one recursion counter for all threads) failed once inside Hypothesis's own generation
# ("AST constructor recursion depth mismatch"), a runtime error of the tool, not of rag; one worker is as fast.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/start-server.sh  # CACHE, VENV, RAG, MODEL, start_server

if ! "$VENV/bin/python" -c "import schemathesis, openapi_spec_validator" 2>/dev/null; then
  echo "api tests: installing schemathesis and openapi-spec-validator into $VENV"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis>=4.3,<5" "openapi-spec-validator>=0.7,<1"
fi

work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill -9 "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$RAG" ingest corpus --db "$work/index.sqlite" > /dev/null
# Short answers from a short context: generated questions reach the model, quickly.
start_server "$work/serve.log" --db "$work/index.sqlite" --model "$MODEL" --context 512 --max-tokens 8 --max-tokens-limit 8 --queue 64
base="http://127.0.0.1:$port"

curl -sf "$base/openapi.json" > "$work/openapi.json"
"$VENV/bin/python" -c "
import json, sys
from openapi_spec_validator import validate
validate(json.load(open(sys.argv[1])))
" "$work/openapi.json"
echo "api tests: $base/openapi.json is valid OpenAPI 3.1 ($(grep -o '"operationId"' "$work/openapi.json" | wc -l) operations)"

examples="${API_EXAMPLES:-200}"
status=0
(cd "$work" && "$VENV/bin/schemathesis" --config-file "$OLDPWD/schemathesis.toml" --no-color run "$base/openapi.json" \
  --checks all --max-examples "$examples" --seed "${API_SEED:-20261206}" --workers 1 --request-timeout 120 --max-response-time 120 \
  --suppress-health-check too_slow,filter_too_much,data_too_large --output-truncate true --output-sanitize false \
  > "$work/schemathesis.log" 2>&1) || status=$?
sed -n '/WARNINGS/,$p' "$work/schemathesis.log" | grep -v "^$"
if [ $status -ne 0 ]; then
  grep -E "^_{5,}|^- |Invalid component|^\[[0-9]{3}\]|curl -X" "$work/schemathesis.log" | cut -c1-400 | head -80
  cp "$work/schemathesis.log" "${TMPDIR:-/tmp}/rag-schemathesis.log"; tail -5 "$work/serve.log"
  echo "api tests: schemathesis found failures (above; the whole log: ${TMPDIR:-/tmp}/rag-schemathesis.log)"; exit 1
fi
kill -0 "$server" 2>/dev/null || { echo "api tests: the server died"; tail -20 "$work/serve.log"; exit 1; }
echo "api tests: passed ($examples examples per operation)"
