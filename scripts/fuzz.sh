#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets/) for a bounded time.
#
#   scripts/fuzz.sh [SECONDS]      # default 10 seconds per target
#
# Per-target time: FUZZ_SECONDS_<target>=600 (e.g. FUZZ_SECONDS_index=600).
# Only some targets: FUZZ_TARGETS="index command". Keep libFuzzer's logs:
# FUZZ_LOG_DIR=dir.
#
# Installs cargo-fuzz only when it is missing. The stable toolchain runs
# libFuzzer through RUSTC_BOOTSTRAP=1; safe Rust needs no sanitizer
# (`-s none`), and debug assertions (`-a`) make integer overflow a crash.
# Corpora live in fuzz/corpus/<target>/ (git-ignored): the test fixtures and
# the committed seeds under fuzz/seeds/<target>/ are copied in first. A
# crash leaves its input in fuzz/artifacts/<target>/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."

default_seconds="${1:-10}"
read -r -a targets <<<"${FUZZ_TARGETS:-index article news links command render_telegram render_discord}"
fixtures=tests/fixtures

export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
fuzz_flags=(-s none -a)
# In CI each target runs for seconds: build them unoptimized (-D), which
# compiles several minutes faster; longer runs build optimized
# (FUZZ_OPTIMIZED=1 forces it in CI too).
if [[ "${CI:-}" == "true" && "${FUZZ_OPTIMIZED:-0}" != 1 ]]; then
  fuzz_flags+=(-D)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

max_len() {
  case "$1" in
    index | article | links) echo 65536 ;;
    news) echo 16384 ;;
    command) echo 4096 ;;
    *) echo 4096 ;;
  esac
}

echo "== corpora"
for t in "${targets[@]}"; do
  dir="fuzz/corpus/$t"
  mkdir -p "$dir"
  case "$t" in
    index) cp "$fixtures"/index_*.html "$dir"/ ;;
    article | news) cp "$fixtures"/article_*.html "$dir"/ ;;
  esac
  if [ -d "fuzz/seeds/$t" ]; then
    cp fuzz/seeds/"$t"/* "$dir"/
  fi
  echo "$t: $(find "$dir" -type f | wc -l) inputs"
done

echo "== build"
# The lock file is committed: fail rather than change it. After a change of
# the main crate's dependencies, refresh it from the main lock file:
#   cp Cargo.lock fuzz/Cargo.lock && cargo metadata --format-version 1 \
#     --manifest-path fuzz/Cargo.toml >/dev/null
if ! cargo fetch --locked --manifest-path fuzz/Cargo.toml; then
  echo "fuzz/Cargo.lock is out of date; see the comment above this line in $0" >&2
  exit 1
fi
build_start=$(date +%s)
cargo fuzz build "${fuzz_flags[@]}"
echo "build: $(($(date +%s) - build_start)) s"

# libFuzzer's output per target: kept in FUZZ_LOG_DIR when set.
if [ -n "${FUZZ_LOG_DIR:-}" ]; then
  logs="$FUZZ_LOG_DIR"
  mkdir -p "$logs"
else
  logs=$(mktemp -d)
  trap 'rm -rf "$logs"' EXIT
fi
failed=()
summary=()
for t in "${targets[@]}"; do
  var="FUZZ_SECONDS_$t"
  secs="${!var:-$default_seconds}"
  echo "== fuzz $t for ${secs}s (max_len $(max_len "$t"))"
  start=$(date +%s)
  rc=0
  cargo fuzz run "${fuzz_flags[@]}" "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=30 \
    -print_final_stats=1 >"$logs/$t.log" 2>&1 || rc=$?
  took=$(($(date +%s) - start))
  # "Done N runs in S second(s)" on a clean finish; the final stats otherwise.
  runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$logs/$t.log" | tail -n1)
  [ -n "$runs" ] || runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$logs/$t.log" | tail -n1)
  corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
  line="$t: ${runs:-?} executions in ${took}s, corpus $corpus"
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    line="$line, FAILED (exit $rc)"
    echo "---- last lines of the $t run"
    tail -n 60 "$logs/$t.log"
    ls -1 "fuzz/artifacts/$t" 2>/dev/null | sed 's/^/artifact: /' || true
  fi
  echo "$line"
  summary+=("$line")
done

echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzzing found crashes in: ${failed[*]} (inputs in fuzz/artifacts/)"
  exit 1
fi
echo "fuzzing found nothing in ${#targets[@]} targets"
