#!/usr/bin/env bash
# A fault run of any size (test/faults/run.ts): promotions driven through the API while the
# worker, the API, a Temporal dev server (state in a SQLite file) and PostgreSQL are SIGKILLed and
# restarted at random moments; afterwards every promise is checked. It starts and stops its own
# services on free ports. Prints progress on stderr and the report (JSON) on stdout; exits 1 when
# a promise was broken. The test command runs a reduced size (test/faults/faults.test.ts).
#   ./scripts/faults.sh [--promotions 200] [--concurrency 20] [--seed S] [--log-dir DIR] …
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$MODELGATE_ROOT"

ensure_stack_tools
npm run --silent build

npx tsx test/faults/run.ts "$@"
