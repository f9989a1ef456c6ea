#!/usr/bin/env bash
# Runs a benchmark from bench/<name>/run.ts against a throwaway Temporal dev server and
# PostgreSQL cluster (like the tests), then stops them.
#   ./scripts/bench.sh workflow [options]     ./scripts/bench.sh checks [options]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$MODELGATE_ROOT"
name="${1:-}"
[ -n "$name" ] && [ -f "bench/$name/run.ts" ] || die "usage: scripts/bench.sh <name> [options]; names: $(ls bench 2>/dev/null | tr '\n' ' ')"
shift

ensure_stack_tools
npm run --silent build

use_throwaway_services bench-run
export MODELGATE_BENCH_RUN_DIR="$RUN_DIR"

npx tsx "bench/$name/run.ts" "$@"
