#!/usr/bin/env bash
# Finds a Chromium for the dashboard's browser tests (driven by playwright-core) and prints its
# path; installs Debian's `chromium` package with apt when there is none. Calling it again is
# cheap: it installs nothing when a Chromium is there. MODELGATE_CHROMIUM names one to use as is.
# Also installs poppler-utils (pdftotext), which the evidence-pack test reads the printed PDF with.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

find_chromium() {
  if [ -n "${MODELGATE_CHROMIUM:-}" ]; then
    [ -x "$MODELGATE_CHROMIUM" ] || die "MODELGATE_CHROMIUM=$MODELGATE_CHROMIUM is not an executable file"
    printf '%s\n' "$MODELGATE_CHROMIUM"
    return 0
  fi
  local name
  for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then
      command -v "$name"
      return 0
    fi
  done
  return 1
}

# pdftotext reads back the evidence report Chromium prints (test/api/evidence.test.ts).
if ! command -v pdftotext >/dev/null 2>&1; then
  apt_install poppler-utils >&2
fi
if ! find_chromium; then
  apt_install chromium >&2
  find_chromium || die "chromium was installed but is not on PATH"
fi
