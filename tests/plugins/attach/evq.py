#!/usr/bin/env python3
"""Reads mimamori JSON-lines events on stdin (every line must parse) and
prints, per event, the dotted fields named on the command line separated
by tabs ("-" when absent; lists joined with ","). Used by the attach
plugin's end-to-end tests to check fields without string matching."""
import json
import sys


def get(ev, path):
    cur = ev
    for k in path.split("."):
        if not isinstance(cur, dict) or k not in cur:
            return "-"
        cur = cur[k]
    if isinstance(cur, list):
        return ",".join(str(x) for x in cur)
    return str(cur)


for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    ev = json.loads(line)
    print("\t".join(get(ev, p) for p in sys.argv[1:]))
