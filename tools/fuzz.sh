#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang (ASan + UBSan) and runs each
# for a bounded time on a copy of its seed corpus.
#
#   tools/fuzz.sh [--merge] [SECONDS_PER_TARGET]     (default 30 seconds)
#
#   --merge   afterwards, add the inputs that reach new edges to the
#             committed corpus (fuzz/corpus/<target>/, hash-named files; edge
#             coverage only, to keep it small); without it the repo is never
#             written to.
#
# Environment: CXX (default: clang++, else clang++-14), WS_FUZZ_TARGETS
# (default: "safetensors gguf"), WS_FUZZ_BUILD_DIR (default: build/fuzz, where
# the binaries stay for reproducing: build/fuzz/fuzz_<target> CRASH_FILE),
# WS_FUZZ_STRICT_MESSAGES=1 (also check error messages of targets whose
# message bugs are known and reported; see fuzz/README.md).
#
# Exit status: 0 if no target crashed, 1 if any did (the sanitizer report and
# the crashing input's path are printed), 2 if the fuzzers could not be built.
# Bounded: the build has a 15-minute limit, each run SECONDS + 2 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

merge=0
seconds=30
for arg in "$@"; do
  case "$arg" in
    --merge) merge=1 ;;
    -h | --help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
      exit 0
      ;;
    *[!0-9]* | "")
      echo "fuzz.sh: bad argument '$arg' (usage: tools/fuzz.sh [--merge] [SECONDS_PER_TARGET])" >&2
      exit 2
      ;;
    *) seconds=$arg ;;
  esac
done
# libFuzzer takes -max_total_time=0 as "forever".
[ "$seconds" -ge 1 ] || { echo "fuzz.sh: SECONDS_PER_TARGET must be at least 1" >&2; exit 2; }
targets=(${WS_FUZZ_TARGETS:-safetensors gguf})
build=${WS_FUZZ_BUILD_DIR:-$ROOT/build/fuzz}

die_setup() {
  echo "fuzz.sh: $*" >&2
  echo "fuzz.sh: libFuzzer needs clang and its runtime; on Debian/Ubuntu:" >&2
  echo "           sudo apt-get install clang libclang-rt-14-dev" >&2
  echo "         (libclang-rt-<N>-dev matching 'clang --version'; or set CXX)" >&2
  exit 2
}

CXX=${CXX:-}
if [ -z "$CXX" ]; then
  for c in clang++ clang++-14; do
    command -v "$c" >/dev/null 2>&1 && CXX=$c && break
  done
fi
[ -n "$CXX" ] && command -v "$CXX" >/dev/null 2>&1 || die_setup "no clang++ found"
"$CXX" --version 2>/dev/null | grep -qi clang || die_setup "$CXX is not clang (libFuzzer is clang-only)"
[ -f /usr/include/nlohmann/json.hpp ] || {
  echo "fuzz.sh: /usr/include/nlohmann/json.hpp missing: sudo apt-get install nlohmann-json3-dev" >&2
  exit 2
}

mkdir -p "$build"
# The fuzzer runtime (libclang-rt-*-dev) is a separate package: check it with
# a trivial target first, to fail with a clear message instead of a link error.
cat >"$build/probe.cc" <<'PROBE'
#include <cstddef>
#include <cstdint>
extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }
PROBE
if ! "$CXX" -fsanitize=fuzzer,address,undefined "$build/probe.cc" -o "$build/probe" \
    >"$build/probe.log" 2>&1; then
  cat "$build/probe.log" >&2
  die_setup "$CXX cannot link a -fsanitize=fuzzer,address,undefined binary"
fi

# Objects get libFuzzer's coverage instrumentation (-fsanitize=fuzzer-no-link);
# the link adds its main (-fsanitize=fuzzer). A target's sources: the shared
# LIB_SRCS plus its own (add the parser's dependencies there if it grows any).
SAN=(-fsanitize=address,undefined -fno-sanitize-recover=all)
CXXFLAGS=(-std=c++17 -g -O1 -fno-omit-frame-pointer -D_GLIBCXX_ASSERTIONS -I"$ROOT"
  "${SAN[@]}" -fsanitize=fuzzer-no-link)
LIB_SRCS=(cpp/weightstream/status.cc cpp/weightstream/dtype.cc cpp/weightstream/safetensors.cc)
declare -A TARGET_SRCS=(
  [safetensors]="fuzz/fuzz_safetensors.cc"
  [gguf]="fuzz/fuzz_gguf.cc cpp/weightstream/gguf.cc"
)

runnable=()
srcs=("${LIB_SRCS[@]}")
for t in "${targets[@]}"; do
  [ -n "${TARGET_SRCS[$t]:-}" ] || { echo "fuzz.sh: unknown target '$t'" >&2; exit 2; }
  missing=0
  for s in ${TARGET_SRCS[$t]}; do
    [ -f "$s" ] || { echo "fuzz.sh: SKIP $t: $s does not exist yet" >&2; missing=1; }
  done
  [ $missing -eq 1 ] && continue
  runnable+=("$t")
  srcs+=(${TARGET_SRCS[$t]})
done
[ ${#runnable[@]} -gt 0 ] || { echo "fuzz.sh: no target to build" >&2; exit 2; }

echo "== fuzz: building ${runnable[*]} with $("$CXX" --version | head -1)"
start=$(date +%s)
rm -rf "$build/obj" && mkdir -p "$build/obj"
obj() { echo "$build/obj/$(echo "$1" | tr / _).o"; }
export CXX build
export -f obj
# One compiler per core; the whole build is bounded.
if ! printf '%s\n' "${srcs[@]}" | sort -u | timeout 900 xargs -P "$(nproc)" -I{} \
    bash -c '"$CXX" "$@" -c {} -o "$(obj {})" || exit 255' _ "${CXXFLAGS[@]}"; then
  echo "fuzz.sh: build failed" >&2
  exit 2
fi
for t in "${runnable[@]}"; do
  objs=()
  for s in "${LIB_SRCS[@]}" ${TARGET_SRCS[$t]}; do objs+=("$(obj "$s")"); done
  if ! timeout 300 "$CXX" "${SAN[@]}" -fsanitize=fuzzer "${objs[@]}" -o "$build/fuzz_$t"; then
    echo "fuzz.sh: linking fuzz_$t failed" >&2
    exit 2
  fi
done
echo "== fuzz: built in $(($(date +%s) - start)) s into $build"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
summary=()
for t in "${runnable[@]}"; do
  work=$(mktemp -d "${TMPDIR:-/tmp}/ws-fuzz-$t.XXXXXX")
  mkdir -p "$work/corpus"
  cp -R "fuzz/corpus/$t/." "$work/corpus/"
  echo "== fuzz: $t for ${seconds}s (corpus: $(ls "$work/corpus" | wc -l) files, work dir: $work)"
  timeout -k 10 $((seconds + 120)) "$build/fuzz_$t" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -use_value_profile=1 -print_final_stats=1 \
    -dict="fuzz/$t.dict" -artifact_prefix="$work/" \
    "$work/corpus" >"$work/log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$work/log" | tail -1)
  corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$work/log" | tail -1)
  artifacts=$(ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null)
  line="$t: ${execs:-?} executions, ${cov:-cov: ?}, ${corp:-corp: ?}"
  if [ $rc -ne 0 ] || [ -n "$artifacts" ]; then
    failed=1
    echo "---- $t: the report, from $work/log"
    # From the first report line (contract violation, sanitizer, libFuzzer).
    grep -v '^#[0-9]' "$work/log" |
      awk '/fuzz contract violated|==ERROR|runtime error:|ERROR: libFuzzer|^SUMMARY/ {p=1} p' | head -80
    echo "----"
    line="$line: FAILED (exit $rc)"
    for a in $artifacts; do line="$line"$'\n'"    input: $a  (reproduce: $build/fuzz_$t $a)"; done
    [ -z "$artifacts" ] && line="$line"$'\n'"    log: $work/log"
  else
    line="$line: ok"
    if [ $merge -eq 1 ]; then
      before=$(ls "fuzz/corpus/$t" | wc -l)
      "$build/fuzz_$t" -merge=1 -use_counters=0 "fuzz/corpus/$t" "$work/corpus" >"$work/merge.log" 2>&1 ||
        { echo "fuzz.sh: merge failed, see $work/merge.log" >&2; failed=1; continue; }
      line="$line, merged $(($(ls "fuzz/corpus/$t" | wc -l) - before)) new inputs into fuzz/corpus/$t"
    fi
    rm -rf "$work"
  fi
  summary+=("$line")
done

echo "== fuzz summary (${seconds}s per target)"
printf '  %s\n' "${summary[@]}"
exit $failed
