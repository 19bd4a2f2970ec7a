#!/usr/bin/env bash
# make fuzz: every fuzz target (Sources/rag-fuzz) under libFuzzer with AddressSanitizer for
# SECONDS each (default 60), starting from the seed corpus in fuzz/corpus/TARGET. Inputs that
# crash go to fuzz/findings/TARGET/ (commit them: make test replays them). Prints executions and
# coverage per target and the total. Leak reports are off: the one found was inside Foundation
# (Data mapping an empty file), and the targets look for crashes, overflows and hangs.
#   scripts/fuzz.sh [SECONDS] [TARGET…]
#   scripts/fuzz.sh replay    (make test: the seeds and past findings through the plain build)
set -euo pipefail
cd "$(dirname "$0")/.."
ALL=(gguf safetensors markdown html text jsonl multipart fts bpe wordpiece)
if [ "${1:-}" = replay ]; then
  for target in "${ALL[@]}"; do
    shopt -s nullglob
    inputs=(fuzz/corpus/"$target"/* fuzz/findings/"$target"/*)
    shopt -u nullglob
    .build/release/rag-fuzz "$target" "${inputs[@]}"
  done
  exit 0
fi
SECONDS_EACH=${1:-60}
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then TARGETS=("${ALL[@]}"); fi
BUILD=.build-fuzz
mkdir -p "$BUILD"
echo "fuzz: building rag-fuzz with libFuzzer and AddressSanitizer (in $BUILD)"
swift build -c release --product rag-fuzz --build-path "$BUILD" \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -use-ld=lld > "$BUILD/build.log" 2>&1 || { tail -30 "$BUILD/build.log"; exit 1; }
BIN="$BUILD/release/rag-fuzz"
total=0
failed=0
printf '%-12s %12s %10s %8s %s\n' target executions exec/s cov result
for target in "${TARGETS[@]}"; do
  work="$BUILD/corpus/$target"
  findings="fuzz/findings/$target"
  mkdir -p "$work" "$findings"
  log="$BUILD/$target.log"
  set +e
  ASAN_OPTIONS=detect_leaks=0 RAG_FUZZ_TARGET=$target "$BIN" "$work" "fuzz/corpus/$target" \
    -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=4096 -detect_leaks=0 -print_final_stats=1 \
    -artifact_prefix="$findings/" > "$log" 2>&1
  status=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  runs=${runs:-0}
  total=$((total + runs))
  if [ $status -eq 0 ]; then result=ok; else result="FINDING (exit $status; see $log and $findings/)"; failed=1; fi
  printf '%-12s %12s %10s %8s %s\n' "$target" "$runs" "${rate:-?}" "${cov:-?}" "$result"
done
echo "fuzz: $total executions in total"
exit $failed
