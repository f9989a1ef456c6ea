#!/usr/bin/env bash
# Runs a benchmark from bench/<name>/run.ts against throwaway services (a Temporal dev server, or
# the Temporal server on PostgreSQL with MODELGATE_TEST_TEMPORAL=postgres, and a PostgreSQL
# cluster, like the tests), then stops them. Each benchmark writes
# bench/results/<name>-<commit>.json. A run whose output logs an error fails, even if the
# benchmark itself finished.
#   ./scripts/bench.sh workflow [options]     ./scripts/bench.sh checks [options]
#   ./scripts/bench.sh all      every benchmark in turn, each on fresh services, then one file:
#                               bench/results/all-<commit>.json
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$MODELGATE_ROOT"

# The benchmarks `all` runs, in order (`faults` is the fault run, scripts/faults.sh, whose kills
# make errors in the logs expected; it fails on a broken promise instead).
BENCH_ALL="${BENCH_ALL:-workflow checks api load dashboard mlflow scale faults}"

name="${1:-}"
[ -n "$name" ] || die "usage: scripts/bench.sh <name>|all [options]; names: $(ls -d bench/*/ | xargs -n1 basename | grep -v results | tr '\n' ' ')"
shift

if [ "$name" = all ]; then
  [ "$#" -eq 0 ] || die "scripts/bench.sh all takes no options (each benchmark runs with its defaults)"
  git diff --quiet HEAD -- || log "the working tree has uncommitted changes: the results are named after HEAD but do not describe it"
  short="$(git rev-parse --short=7 HEAD)"
  for benchmark in $BENCH_ALL; do
    log "benchmark $benchmark"
    if [ "$benchmark" = faults ]; then
      "$(dirname "$0")/faults.sh" > /dev/null || die "the fault run failed; bench/results/all-$short.json not written"
    else
      "$0" "$benchmark" || die "benchmark $benchmark failed; bench/results/all-$short.json not written"
    fi
  done
  node -e '
    const fs = require("node:fs");
    const [short, ...names] = process.argv.slice(1);
    const runs = {};
    for (const name of names) {
      const file = `bench/results/${name}-${short}.json`;
      if (!fs.existsSync(file)) { console.error(`benchmark ${name} wrote no ${file}`); process.exit(1); }
      runs[name] = JSON.parse(fs.readFileSync(file, "utf8"));
    }
    const first = runs[names[0]];
    fs.writeFileSync(`bench/results/all-${short}.json`, JSON.stringify({ commit: first.commit, machine: first.machine, startedAt: first.startedAt, finishedAt: new Date().toISOString(), benchmarks: runs }, null, 2) + "\n");
    console.log(`results: bench/results/all-${short}.json`);
  ' "$short" $BENCH_ALL
  exit 0
fi

[ -f "bench/$name/run.ts" ] || die "no benchmark named '$name'; names: $(ls -d bench/*/ | xargs -n1 basename | grep -v results | tr '\n' ' ')"
ensure_stack_tools
npm run --silent build

use_throwaway_services bench-run
export MODELGATE_BENCH_RUN_DIR="$RUN_DIR"

output="$RUN_DIR/bench-output.log"
status=0
npx tsx "bench/$name/run.ts" "$@" > >(tee "$output") 2> >(tee -a "$output" >&2) || status=$?
sleep 0.2 # the tee processes finish writing
[ "$status" -eq 0 ] || die "benchmark $name exited with status $status"
if ! fail_on_logged_errors "$output"; then
  mkdir -p "$MODELGATE_ROOT/.data"
  cp "$output" "$MODELGATE_ROOT/.data/last-failed-bench-output.log"
  die "benchmark $name logged errors (all output: .data/last-failed-bench-output.log); its figures do not count"
fi
