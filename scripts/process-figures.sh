#!/usr/bin/env bash
# The process figures of BENCHMARKS.md: release binary size, cold start to
# /healthz answering, and idle RSS with the console sink, measured against a
# static stand-in for PTT (python3's http.server serving a fixture index page).
#
#   scripts/process-figures.sh [RUNS]     # default 5 starts
#
# Each start gets a fresh store. Cold start is the time from spawning
# `ptt-relay run` until `ptt-relay healthcheck` succeeds (polled every 5 ms;
# each probe is a process start of its own, so the figure includes a few
# milliseconds of that). Idle RSS is VmRSS 3 s after /healthz answered, when
# the first poll has been made.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"

cargo build --release --locked --bin ptt-relay
bin="$PWD/target/release/ptt-relay"

work=$(mktemp -d /tmp/ptt-relay-figures.XXXXXX)
cleanup() {
  [ -n "${relay_pid:-}" ] && kill "$relay_pid" 2>/dev/null || true
  [ -n "${www_pid:-}" ] && kill "$www_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

mkdir -p "$work/www/bbs/Stock"
cp tests/fixtures/index_Stock_newest.html "$work/www/bbs/Stock/index.html"
www_port=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$work/www" "$www_port" >/dev/null 2>&1 &
www_pid=$!

now_ms() { date +%s%3N; }

echo "binary: $(stat -c %s "$bin") bytes ($bin)"
starts=()
rss=()
for i in $(seq 1 "$runs"); do
  port=$(free_port)
  export PTT_RELAY__PTT__BASE_URL="http://127.0.0.1:$www_port"
  export PTT_RELAY__STORE__URL="sqlite://$work/run$i/ptt-relay.db"
  export PTT_RELAY__HTTP__LISTEN="127.0.0.1:$port"
  t0=$(now_ms)
  "$bin" run >/dev/null 2>"$work/run$i.log" &
  relay_pid=$!
  until "$bin" healthcheck >/dev/null 2>&1; do
    if ! kill -0 "$relay_pid" 2>/dev/null; then
      echo "ptt-relay exited; its log:" >&2
      cat "$work/run$i.log" >&2
      exit 1
    fi
    sleep 0.005
  done
  t1=$(now_ms)
  sleep 3
  kb=$(awk '/^VmRSS/ {print $2}' "/proc/$relay_pid/status")
  kill -TERM "$relay_pid"
  wait "$relay_pid" || true
  relay_pid=
  starts+=("$((t1 - t0))")
  rss+=("$kb")
  echo "start $i: /healthz after $((t1 - t0)) ms, idle RSS $((kb / 1024)) MiB ($kb kB)"
done

sorted=$(printf '%s\n' "${starts[@]}" | sort -n)
echo "cold start: min $(echo "$sorted" | head -n1) ms, median $(echo "$sorted" | sed -n "$(((runs + 1) / 2))p") ms, max $(echo "$sorted" | tail -n1) ms over $runs starts"
sorted=$(printf '%s\n' "${rss[@]}" | sort -n)
echo "idle RSS (console sink): $(echo "$sorted" | head -n1)–$(echo "$sorted" | tail -n1) kB"
