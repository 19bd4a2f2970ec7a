# Sourced by the benchmarks that measure against llama.cpp: `require_native LABEL INFO` exits 1
# when INFO (a llama.cpp system_info line) lacks a SIMD feature this CPU has — a ratio against a
# reference that was not built natively is void.
require_native() {
  local label=$1 info=$2 flags missing="" pair cpu name
  flags=$(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2)
  for pair in avx2:AVX2 fma:FMA f16c:F16C avx512f:AVX512 avx512_vnni:AVX512_VNNI avx512_bf16:AVX512_BF16; do
    cpu=${pair%%:*} name=${pair#*:}
    if grep -qw "$cpu" <<< "$flags" && ! grep -q "$name = 1" <<< "$info"; then missing="$missing $name"; fi
  done
  [ -z "$missing" ] && return 0
  echo "$label: the llama.cpp reference lacks$missing, which this CPU has: it was not built natively; no ratio reported" >&2
  exit 1
}
