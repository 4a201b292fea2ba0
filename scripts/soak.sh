#!/usr/bin/env bash
# Soak run: hours of simulated traffic compressed into MINUTES (default 10)
# against local fakes of PTT, Telegram and Discord, with the release binary
# as a child process: 1,000 subscriptions through chat commands, posts on 5
# boards, pushes, deletions and random faults. Prints a sample line every
# 10 s and a final SOAK block; exits non-zero on lost, duplicated or
# unexpected deliveries, or RSS growth over 10% after warm-up.
# The relay's log and the samples (CSV) are kept in target/soak/.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-10}"
# Two builds: built together, the binary would get the example's
# dev-dependency features (tokio's test-util, axum's ws) and not be the
# binary that ships.
cargo build --locked --release --bin ptt-relay
cargo build --locked --release --example soak
exec target/release/examples/soak --binary target/release/ptt-relay --minutes "$minutes" --out target/soak
