#!/usr/bin/env bash
# Fan-out at the platforms' limits, through fakes that enforce them: prints
# one FANOUT line per scenario (achieved rate against the limit, 429s,
# time to the last delivery). Release build; takes a few minutes. The
# three-replica scenario needs PostgreSQL: set PTT_RELAY_TEST_PG_URL (e.g.
# postgres://postgres@127.0.0.1:5432/test); without it, it says it skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
# libtest prints "test NAME ... " before a test's own output, so a FANOUT
# line starts mid-line: keep it from its first word.
cargo test --locked --release --test it fanout:: -- --ignored --nocapture --test-threads 1 2>&1 \
  | grep -oE 'FANOUT.*|test result.*|panicked.*'
