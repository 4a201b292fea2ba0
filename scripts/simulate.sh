#!/usr/bin/env bash
# Runs N seeds of the deterministic simulation (tests/it/sim, issue 12) and
# prints the totals and any failing seed with the command that replays it.
#
#   scripts/simulate.sh [N] [FIRST]     # default 10000 seeds from seed 1,
#                                       # full (175-minute) histories
#   PTT_RELAY_SIM_SHAPE=short scripts/simulate.sh N [FIRST]
#                                       # short (56-minute) ones, as cargo test runs
#   PTT_RELAY_SIM_FAMILY=replicas PTT_RELAY_TEST_PG_URL=postgres://… \
#     scripts/simulate.sh N [FIRST]     # N seeds of 2-3 PostgreSQL replicas
set -euo pipefail
cd "$(dirname "$0")/.."
export PTT_RELAY_SIM_FIRST="${2:-1}"
export PTT_RELAY_SIM_THREADS="${PTT_RELAY_SIM_THREADS:-$(nproc)}"
export PTT_RELAY_SIM_SHAPE="${PTT_RELAY_SIM_SHAPE:-full}"
case "${PTT_RELAY_SIM_FAMILY:-sqlite}" in
  sqlite)
    export PTT_RELAY_SIM_SEEDS="${1:-10000}"
    exec cargo test --locked --test it simulation::many_seeds_keep_every_promise -- --exact --nocapture ;;
  replicas)
    if [ -z "${PTT_RELAY_TEST_PG_URL:-}" ]; then
      echo "PTT_RELAY_SIM_FAMILY=replicas needs PTT_RELAY_TEST_PG_URL" >&2
      exit 2
    fi
    export PTT_RELAY_SIM_REPLICA_SEEDS="${1:-100}"
    exec cargo test --locked --test it simulation::replica_seeds_keep_every_promise -- --exact --nocapture ;;
  *)
    echo "PTT_RELAY_SIM_FAMILY is sqlite or replicas" >&2
    exit 2 ;;
esac
