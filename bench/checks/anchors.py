#!/usr/bin/env python3
"""The checks benchmark's anchors, picklescan and fickling, timed in one long-lived process (so
neither Python's start nor the imports are counted, as Modelgate's scanner is timed in process).

Reads one request a line from stdin, `<tool>\t<path>` with tool `picklescan` or `fickling`, and
answers one JSON line: {"ms": wall milliseconds of the scan, "verdict": "dangerous" | "safe" |
"error", "detail": a short reason}. The detail names the tool's own finding (globals, severity or
exception class), never file contents.
"""
import json
import sys
import time
import zipfile

import fickling
from picklescan.scanner import scan_file_path


def picklescan(path):
    result = scan_file_path(path)
    dangerous = sorted({f"{g.module}.{g.name}" for g in result.globals if g.safety.value == "dangerous"})
    if result.infected_files > 0:
        return "dangerous", "dangerous globals: " + ", ".join(dangerous[:5])
    if result.scan_err:
        return "error", "picklescan reported a scan error"
    return "safe", f"{result.scanned_files} file(s) scanned, no dangerous global"


def fickling_scan(path):
    try:
        if zipfile.is_zipfile(path):
            results = fickling.scan_zip_archive(path)
            if not results:
                return "safe", "no pickle member"
            worst = max(results.values(), key=lambda r: r.severity)
        else:
            worst = fickling.scan_file(path)
    except Exception as err:  # the tool's own refusal (not a pickle, undecodable opcode)
        return "error", f"fickling raised {type(err).__name__}"
    return ("safe" if worst.is_safe else "dangerous"), f"severity {worst.severity.name}"


TOOLS = {"picklescan": picklescan, "fickling": fickling_scan}

for line in sys.stdin:
    tool, _, path = line.rstrip("\n").partition("\t")
    started = time.perf_counter()
    try:
        verdict, detail = TOOLS[tool](path)
    except Exception as err:
        verdict, detail = "error", f"{tool} raised {type(err).__name__}"
    ms = (time.perf_counter() - started) * 1000
    sys.stdout.write(json.dumps({"ms": ms, "verdict": verdict, "detail": detail}) + "\n")
    sys.stdout.flush()
