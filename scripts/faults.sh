#!/usr/bin/env bash
# A fault run of any size (test/faults/run.ts): promotions driven through the API while the
# worker, the API, a Temporal server (the dev server with its state in a SQLite file, or with
# MODELGATE_TEST_TEMPORAL=postgres the Temporal server on PostgreSQL) and PostgreSQL are SIGKILLed,
# one or two at once, and restarted at random moments, also right after a deployment was
# provisioned; the deployer fails, times out and answers slowly on a share of the deliveries and
# logs every one. Afterwards every promise is checked. It starts and stops its own services on
# free ports. Prints progress on stderr and the report (JSON) on stdout, writes
# bench/results/faults-<commit>.json; exits 1 when a promise was broken. The test command runs a
# reduced size (test/faults/faults.test.ts).
#   ./scripts/faults.sh [--promotions 200] [--concurrency 20] [--seed S] [--log-dir DIR] …
#   (every option: test/faults/run.ts)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$MODELGATE_ROOT"

ensure_stack_tools
npm run --silent build

npx tsx test/faults/run.ts "$@"
