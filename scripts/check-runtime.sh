#!/usr/bin/env bash
# Checks the container image's runtime stage without a container engine
# (none runs on our build machines): debootstraps a Debian bookworm minbase
# root file system with ca-certificates — what `debian:bookworm-slim` plus the
# Dockerfile's apt-get line gives — copies the release binary and
# config/default.toml in as the Dockerfile does, and, as the non-root user
# 10001 under chroot, runs `ptt-relay --version`, `check-config` with the
# image's environment, and a short `run` against a local fake PTT.
#
# Runs only with CHECK_RUNTIME=1 (it needs root, network access to Debian's
# mirror and a few minutes). Prints the estimated image size at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${CHECK_RUNTIME:-0}" != 1 ]; then
  echo "check-runtime: skipped (set CHECK_RUNTIME=1 to run it)"
  exit 0
fi

work=$(mktemp -d /tmp/ptt-relay-runtime.XXXXXX)
root="$work/rootfs"
cleanup() {
  [ -n "${fake_pid:-}" ] && kill "$fake_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

if ! command -v debootstrap >/dev/null; then
  apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null
fi

echo "== debootstrap bookworm minbase + ca-certificates"
debootstrap --variant=minbase --include=ca-certificates bookworm "$root" \
  http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log"; exit 1; }
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb

echo "== release build"
cargo build --release --locked --bin ptt-relay
install -m 0755 target/release/ptt-relay "$root/usr/local/bin/ptt-relay"
mkdir -p "$root/app/config" "$root/data"
cp config/default.toml "$root/app/config/default.toml"
chroot "$root" useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin ptt-relay
chown 10001:10001 "$root/data"

# The image's environment, as the non-root user. Each step execs the next,
# so a background run's $! is ptt-relay itself.
image=(chroot --userspec=10001:10001 "$root" /usr/bin/env -i
  PATH=/usr/local/bin:/usr/bin:/bin HOME=/data
  PTT_RELAY__STORE__URL=sqlite:///data/ptt-relay.db
  PTT_RELAY__HTTP__LISTEN=0.0.0.0:9187)
in_image() { "${image[@]}" "$@"; }

echo "== ptt-relay --version"
in_image /bin/sh -c 'cd /app && ptt-relay --version'

echo "== check-config with the image's environment and a token"
out=$(in_image PTT_RELAY__TELEGRAM__TOKEN=123456:CHECK-RUNTIME-SECRET /bin/sh -c 'cd /app && ptt-relay check-config')
echo "$out" | grep -q 'url = "sqlite:///data/ptt-relay.db"'
echo "$out" | grep -q 'listen = "0.0.0.0:9187"'
echo "$out" | grep -q 'token = "\*\*\*"'
if echo "$out" | grep -q CHECK-RUNTIME-SECRET; then echo "token leaked"; exit 1; fi
echo "ok: effective config printed, token masked"

echo "== a short run against a fake PTT"
id=M.1769577957.A.1F2
mkdir -p "$work/ptt/bbs/Stock"
cp tests/fixtures/article_stock_news.html "$work/ptt/bbs/Stock/$id.html"
cat >"$work/ptt/bbs/Stock/index.html" <<HTML
<html><head><title>看板 Stock 文章列表 - 批踢踢實業坊</title></head><body>
<div class="r-list-container action-bar-margin bbs-screen">
<div class="r-ent"><div class="nrec"></div><div class="title"><a href="/bbs/Stock/$id.html">[新聞] 範例半導體獲准出口新一代AI晶片 供應鏈受惠</a></div>
<div class="meta"><div class="author">kaiwen0728</div><div class="date"> 1/28</div><div class="mark"></div></div></div>
</div></body></html>
HTML
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$work/ptt" && exec python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
fake_pid=$!
sleep 1
set +e
"${image[@]}" PTT_RELAY__PTT__BASE_URL="http://127.0.0.1:$port" PTT_RELAY__PTT__BACKFILL=1 \
  PTT_RELAY__HTTP__LISTEN=127.0.0.1:0 \
  /bin/sh -c 'cd /app && exec ptt-relay run' >"$work/run.out" 2>"$work/run.err" &
run_pid=$!
for _ in $(seq 1 50); do
  grep -q "$id" "$work/run.out" 2>/dev/null && break
  sleep 0.2
done
kill -TERM "$run_pid"
wait "$run_pid"
rc=$?
set -e
cat "$work/run.out"
grep -q "https://www.ptt.cc/bbs/Stock/$id.html" "$work/run.out" || { cat "$work/run.err"; exit 1; }
[ "$rc" = 0 ] || { echo "run exited $rc after SIGTERM"; cat "$work/run.err"; exit 1; }
[ -f "$root/data/ptt-relay.db" ] || { echo "store not created in /data"; exit 1; }
echo "ok: relayed a post as user 10001, store in /data, exit 0 on SIGTERM"

rootfs_kb=$(du -sk --exclude=./proc --exclude=./sys "$root" | cut -f1)
bin_kb=$(du -k target/release/ptt-relay | cut -f1)
echo "== estimated image size: root file system $((rootfs_kb / 1024)) MiB (binary $((bin_kb / 1024)) MiB included)"
