#!/usr/bin/env bash
# Builds the container image from the Dockerfile's `runtime` stage (the stage
# users run) with a static binary built here, runs it with podman against a
# fake PTT on the host, and checks what an operator relies on:
#   - it runs as user 10001 with a read-only root file system, the store on
#     a volume;
#   - `podman healthcheck run` (the image's HEALTHCHECK, `ptt-relay
#     healthcheck`) succeeds and /readyz answers 200 after the first poll;
#   - a [新聞] post that appears after the start is printed by the console
#     sink (`podman logs`);
#   - `podman stop` ends it with exit 0 within the grace period; started
#     again on the same volume it relays nothing twice;
#   - a second container on the same volume exits 2 ("another ptt-relay");
#   - killed (SIGKILL), a new container on the volume is not refused by the
#     dead one's lease (in a container the pid is always 1);
# and prints the image's size, the idle RSS inside and the seconds to ready.
#
# Needs root and Debian (installs podman and runc with apt-get); pulls no
# image. The binary is built here for the host's glibc (Debian bookworm, as
# the Dockerfile's build stage), its libraries copied by
# scripts/container-files.sh as the build stage does. Debian's podman runs here
# with runc, cgroupfs and the vfs storage driver, and with
# `default_ulimits = []` in /etc/containers/containers.conf (the machines'
# hard limits are below podman's defaults); the script sets that up.
#
# The binary: `cargo build --release` (what the image ships) by default;
# CONTAINER_BINARY=PATH takes one built before instead (stripped on the way
# in): .ci/run passes target/debug/ptt-relay, which its tests have just
# built, since a release build would add some ten minutes to CI. Its image
# is bigger and slower than the shipped one; the figures name the binary.
set -euo pipefail
cd "$(dirname "$0")/.."

image=localhost/ptt-relay:container-test
grace=15

echo "== container test"
if [ "$(id -u)" != 0 ]; then
  echo "container-test: needs root (podman as root, apt-get)"
  exit 1
fi

missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
command -v strip >/dev/null || missing+=(binutils)
command -v python3 >/dev/null || missing+=(python3)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
conf=/etc/containers/containers.conf
if ! grep -qs '^default_ulimits *= *\[\]' "$conf"; then
  mkdir -p /etc/containers
  if grep -qs '^\[containers\]' "$conf"; then
    sed -i 's/^\[containers\]/[containers]\ndefault_ulimits = []/' "$conf"
  else
    printf '[containers]\ndefault_ulimits = []\n' >>"$conf"
  fi
fi

calc() { awk "BEGIN { x = $1; if (x == int(x)) print x; else printf \"%.1f\\n\", x }"; }
pm() { podman --runtime runc --cgroup-manager=cgroupfs --storage-driver vfs "$@"; }

work=$(mktemp -d /tmp/ptt-relay-container.XXXXXX)
tag=$(basename "$work" | tr 'A-Z.' 'a-z-')
volume="$tag-data"
first="$tag-1"
second="$tag-2"
third="$tag-3"
cleanup() {
  set +e
  pm rm -f -t 0 "$first" "$second" "$third" >/dev/null 2>&1
  pm volume rm -f "$volume" >/dev/null 2>&1
  pm rmi -f "$image" >/dev/null 2>&1
  pm image prune -f >/dev/null 2>&1 # the files-prebuilt stage left untagged
  [ -n "${fake_pid:-}" ] && kill "$fake_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for c in "$first" "$second" "$third"; do
    echo "--- podman logs $c"
    pm logs "$c" 2>&1 | tail -40
  done
  exit 1
}

if [ -n "${CONTAINER_BINARY:-}" ]; then
  built="$CONTAINER_BINARY"
else
  echo "== release binary: cargo build --release"
  cargo build --locked --release --bin ptt-relay
  built="${CARGO_TARGET_DIR:-target}/release/ptt-relay"
fi
bin="$work/ptt-relay"
strip -o "$bin" "$built"

echo "== image: the Dockerfile's runtime stage, FILES=prebuilt"
context="$work/context"
scripts/container-files.sh "$bin" "$context"
# --format docker keeps HEALTHCHECK (the OCI format has none).
pm build --quiet --format docker --pull=never --build-arg FILES=prebuilt \
  --target runtime -f Dockerfile -t "$image" "$context" >/dev/null
image_bytes=$(pm image inspect --format '{{.Size}}' "$image")
bin_bytes=$(stat -c %s "$bin")
health=$(pm image inspect --format '{{json .HealthCheck.Test}}' "$image")
[ "$health" = '["CMD","ptt-relay","healthcheck"]' ] || fail "HEALTHCHECK is $health"

echo "== fake PTT on the host"
ptt="$work/ptt"
mkdir -p "$ptt/bbs/Stock"
posts=()
add_post() { # ID TITLE
  sed "s/M\.1769577957\.A\.1F2/$1/g" tests/fixtures/article_stock_news.html >"$ptt/bbs/Stock/$1.html"
  posts+=("$1|$2")
  {
    echo '<html><head><title>看板 Stock 文章列表 - 批踢踢實業坊</title></head><body>'
    echo '<div class="r-list-container action-bar-margin bbs-screen">'
    for p in "${posts[@]}"; do
      echo "<div class=\"r-ent\"><div class=\"nrec\"></div><div class=\"title\"><a href=\"/bbs/Stock/${p%%|*}.html\">${p#*|}</a></div>"
      echo '<div class="meta"><div class="author">reporter</div><div class="date"> 1/28</div><div class="mark"></div></div></div>'
    done
    echo '</div></body></html>'
  } >"$ptt/bbs/Stock/index.html.new"
  mv "$ptt/bbs/Stock/index.html.new" "$ptt/bbs/Stock/index.html"
}
new_id() { echo "M.$(($(date +%s) + $1)).A.$(printf '%03X' $((RANDOM % 4096)))"; }
add_post "$(new_id -3600)" "[新聞] 開始前就有的舊聞"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$ptt" && exec python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>"$work/ptt.log") &
fake_pid=$!
index_requests() { grep -c 'GET /bbs/Stock/index.html' "$work/ptt.log" || true; }

http_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pm volume create "$volume" >/dev/null
# Host networking reaches the fake PTT on 127.0.0.1. The HEALTHCHECK's timer
# needs systemd, which these machines do not run (podman's complaints go to
# podman.err): `podman healthcheck run` runs the same command on demand.
run_args=(--network host --read-only --read-only-tmpfs=false
  --health-interval disable --stop-timeout "$grace"
  -v "$volume:/data"
  -e PTT_RELAY__PTT__BASE_URL="http://127.0.0.1:$port"
  -e PTT_RELAY__PTT__POLL_INTERVAL_SECS=2
  -e PTT_RELAY__HTTP__LISTEN="127.0.0.1:$http_port")
readyz() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/readyz" || true; }
wait_for() { # WHAT SECONDS COMMAND...
  local what=$1 secs=$2
  shift 2
  for _ in $(seq 1 $((secs * 5))); do
    "$@" && return 0
    sleep 0.2
  done
  fail "$what: not within $secs s"
}
is_ready() { [ "$(readyz)" = 200 ]; }
printed() { # ID: how often the containers printed it
  for c in "$first" "$third"; do pm logs "$c" 2>/dev/null || true; done |
    grep -c "https://www.ptt.cc/bbs/Stock/$1.html" || true
}
printed_once() { [ "$(printed "$1")" = 1 ]; }
running() { [ "$(pm inspect --format '{{.State.Running}}' "${1:-$first}")" = true ]; }

echo "== run: read-only root, store on a volume"
start=$(date +%s.%N)
pm run -d --name "$first" "${run_args[@]}" "$image" >/dev/null 2>>"$work/podman.err"
wait_for "/readyz 200" 30 is_ready
ready=$(date +%s.%N)
[ "$(index_requests)" -ge 1 ] || fail "/readyz answered 200 before the first poll"
pid=$(pm inspect --format '{{.State.Pid}}' "$first")
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
[ "$uid" = 10001 ] || fail "runs as uid $uid, not 10001"
[ "$(pm inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$first")" = true ] || fail "root not read-only"
pm exec "$first" ptt-relay --version >/dev/null
echo "ok: user $uid, read-only root, store on volume $volume, ready in $(calc "$ready - $start") s"

pm healthcheck run "$first" >/dev/null || fail "podman healthcheck run failed"
echo "ok: podman healthcheck run (ptt-relay healthcheck)"

news=$(new_id 5)
add_post "$news" "[新聞] 容器裡看到的新聞"
wait_for "the new post printed" 30 printed_once "$news"
echo "ok: a new [新聞] post printed by the console sink"

sleep 5
rss_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")

echo "== a second container on the same volume"
set +e
pm run --name "$second" "${run_args[@]}" -e PTT_RELAY__HTTP__LISTEN=127.0.0.1:0 "$image" >"$work/second.out" 2>&1
second_rc=$?
set -e
[ "$second_rc" = 2 ] || fail "second container exited $second_rc, not 2: $(cat "$work/second.out")"
grep -q 'another ptt-relay' "$work/second.out" || fail "no 'another ptt-relay' message: $(cat "$work/second.out")"
echo "ok: exited 2: $(grep 'another ptt-relay' "$work/second.out")"
running || fail "the first container stopped"

echo "== podman stop (grace $grace s)"
stop_start=$(date +%s.%N)
pm stop -t "$grace" "$first" >/dev/null 2>>"$work/podman.err"
stop_secs=$(calc "$(date +%s.%N) - $stop_start")
rc=$(pm inspect --format '{{.State.ExitCode}}' "$first")
[ "$rc" = 0 ] || fail "exit $rc after podman stop"
[ "$(calc "$stop_secs < $grace")" = 1 ] || fail "stop took $stop_secs s"
echo "ok: exit 0 in $stop_secs s"

echo "== started again on the same volume"
polls=$(index_requests)
pm start "$first" >/dev/null 2>>"$work/podman.err"
wait_for "/readyz 200 after the restart" 30 is_ready
wait_for "two polls after the restart" 30 sh -c "[ \$(grep -c 'GET /bbs/Stock/index.html' '$work/ptt.log') -ge $((polls + 2)) ]"
printed_once "$news" || fail "relayed $(printed "$news") times after the restart"
later=$(new_id 10)
add_post "$later" "[新聞] 重啟後的新聞"
wait_for "a post after the restart" 30 printed_once "$later"
printed_once "$news" || fail "relayed $(printed "$news") times"
echo "ok: nothing relayed twice; a new post after the restart printed once"

echo "== killed (SIGKILL); a new container on the volume (another host name)"
pm kill -s KILL "$first" >/dev/null
pm wait "$first" >/dev/null 2>&1 || true
# Its lease row (pid 1, unexpired) stays behind; the lock file decides.
pm run -d --name "$third" --hostname ptt-relay-recreated "${run_args[@]}" "$image" >/dev/null 2>>"$work/podman.err"
wait_for "/readyz 200 in the new container" 30 is_ready
running "$third" || fail "the new container was refused: $(pm logs --tail 3 "$third" 2>&1)"
polls=$(index_requests)
wait_for "two polls in the new container" 30 sh -c "[ \$(grep -c 'GET /bbs/Stock/index.html' '$work/ptt.log') -ge $((polls + 2)) ]"
{ printed_once "$news" && printed_once "$later"; } || fail "relayed twice after the kill"
echo "ok: started and ready; nothing relayed twice"
pm stop -t "$grace" "$third" >/dev/null 2>>"$work/podman.err"

echo "== figures (binary: $built)"
echo "image size (podman image inspect, uncompressed): $image_bytes bytes ($(calc "$image_bytes / 1048576") MiB)"
echo "binary (stripped): $bin_bytes bytes ($(calc "$bin_bytes / 1048576") MiB)"
echo "idle RSS inside, console sink, 5 s after the first post: $rss_kb kB ($(calc "$rss_kb / 1024") MiB)"
echo "seconds to ready (podman run to /readyz 200, first poll included): $(calc "$ready - $start")"
echo "container-test: all checks passed"
