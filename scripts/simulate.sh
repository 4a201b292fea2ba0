#!/usr/bin/env bash
# Runs N seeds of the deterministic simulation (tests/it/sim, issue 12) and
# prints the totals and any failing seed with the command that replays it.
#
#   scripts/simulate.sh [N] [FIRST]     # default 10000 seeds from seed 1
set -euo pipefail
cd "$(dirname "$0")/.."
export PTT_RELAY_SIM_SEEDS="${1:-10000}" PTT_RELAY_SIM_FIRST="${2:-1}"
export PTT_RELAY_SIM_THREADS="${PTT_RELAY_SIM_THREADS:-$(nproc)}"
exec cargo test --locked --test it simulation::many_seeds_keep_every_promise -- --exact --nocapture
