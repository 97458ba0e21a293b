"""The line of a dotted key in a TOML file, for messages that name a key (`sweep.asha.group_by`)
of a file other than the one they were found in (`rnnalg search` checks its generated sweep file).

    key_line(text, "sweep.asha.group_by")  ->  the line of `group_by = …` under `[sweep.asha]`,
                                              else of the nearest table holding it (`[sweep.asha]`,
                                              `asha = { … }` under `[sweep]`); None when absent

A line scan, not a parser: headers `[a.b]`, keys `a.b = …` (bare or quoted parts).  The first line
of a multi-line value is its key's line.
"""
from __future__ import annotations

import re

HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")  # [table] (not [[array of tables]])
KEY = re.compile(r"^\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*=")


def _parts(dotted: str) -> list:
    return [p.strip().strip("\"'") for p in re.findall(r"\"[^\"]*\"|'[^']*'|[^.]+", dotted)]


def key_line(text: str, key: str) -> int | None:
    """The 1-based line of `key` (dotted) in TOML `text`, else of the deepest table holding it."""
    want, table, best = key.split("."), [], (0, None)
    for number, line in enumerate(text.splitlines(), 1):
        header = HEADER.match(line)
        if header:
            table = full = _parts(header.group(1))
        else:
            assigned = KEY.match(line)
            if not assigned:
                continue
            full = table + _parts(assigned.group(1))
        if full == want[:len(full)] and len(full) > best[0]:
            if len(full) == len(want):
                return number
            best = (len(full), number)
    return best[1]
