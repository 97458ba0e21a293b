"""The line of a dotted key in a TOML file, for the messages that name a key: every error of a
sweep file (`rnnalg sweep`, commands/sweep.py) and those of a search file's tables found in its
generated sweep file (`rnnalg search`) read `s.toml: line 13: sweep.asha.group_by: error: …`.

    key_line(text, "sweep.asha.group_by")  ->  the line of `group_by = …` under `[sweep.asha]`,
                                              else of the nearest table holding it (`[sweep.asha]`,
                                              `asha = { … }` under `[sweep]`); a table given
                                              only by its sub-tables (`[model.a]`) at the first
                                              of them; None when absent
    line_of(path, key)      the line where the file gives `key`; None where it does not (a default,
                            an absent key: the nearest table is not the key's line) or cannot be read
    with_line(err)          a SweepError naming a key, with that line (itself where there is none)
    key_at(file, key, locate)  `file: line N: key` as `locate` (default with_line) places the key,
                            for a message about a key that is not a SweepError (`--cpus`)

A line scan, not a parser: headers `[a.b]`, keys `a.b = …` (bare or quoted parts) at the start of
a statement; the lines inside a multi-line array or string are skipped, so the first line of a
multi-line value is its key's line.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import SweepError

HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")  # [table] (not [[array of tables]])
KEY = re.compile(r"^\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*=")
MULTILINE_QUOTES = ('"""', "'''")


def _parts(dotted: str) -> list:
    return [p.strip().strip("\"'") for p in re.findall(r"\"[^\"]*\"|'[^']*'|[^.]+", dotted)]


def _scan(line: str, depth: int, quote):
    """(bracket depth, open multi-line string quote) after `line`, from those before it."""
    i = 0
    while i < len(line):
        if quote:
            if quote[0] == '"' and line[i] == "\\":  # an escape in a basic string
                i += 2
            elif line.startswith(quote, i):
                i, quote = i + len(quote), None
            else:
                i += 1
            continue
        if line[i] == "#":
            break
        quote = next((q for q in MULTILINE_QUOTES if line.startswith(q, i)), None) or (
            line[i] if line[i] in "\"'" else None)
        depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(line[i], 0) if quote is None else 0
        i += len(quote) if quote else 1
    return max(depth, 0), (quote if quote in MULTILINE_QUOTES else None)


def _statements(text: str):
    """(line number, line) of each line that starts a statement: not inside a value."""
    depth, quote = 0, None
    for number, line in enumerate(text.splitlines(), 1):
        if depth == 0 and quote is None:
            yield number, line
        depth, quote = _scan(line, depth, quote)


def key_line(text: str, key: str) -> int | None:
    """The 1-based line of `key` (dotted) in TOML `text`, else of the deepest table holding it."""
    table, best, inside = [], (0, None), None
    for number, line in _statements(text):
        header = HEADER.match(line)
        if header:
            table = full = _parts(header.group(1))
        else:
            assigned = KEY.match(line)
            if not assigned:
                continue
            full = table + _parts(assigned.group(1))
        dotted = ".".join(full)  # compared as text: a quoted part may hold a dot (data."a.b")
        if dotted == key:
            return number
        if key.startswith(dotted + ".") and len(dotted) > best[0]:
            best = (len(dotted), number)
        if inside is None and dotted.startswith(key + "."):
            inside = number
    return inside or best[1]


def holds(data, key: str) -> bool:
    """Whether parsed TOML `data` gives the dotted `key` (a part may hold a dot: `data."a.b"`)."""
    if not isinstance(data, dict):
        return False
    if key in data:
        return True
    parts = key.split(".")
    return any(holds(data.get(".".join(parts[:i])), ".".join(parts[i:])) for i in range(1, len(parts)))


def line_of(path, key: str) -> int | None:
    """The line where the TOML file `path` gives `key`; None for a key it does not give (a
    default, an absent key) or a file that cannot be read."""
    from .sweepfile import read_toml

    try:
        data = read_toml(path)
        text = Path(path).read_text(encoding="utf-8-sig")
    except (SweepError, OSError, UnicodeDecodeError):
        return None
    return key_line(text, key) if holds(data, key) else None


def with_line(err: SweepError, file=None) -> SweepError:
    """`err`, which names a key (`err.where`) of its file, said of `file` (default: that file)
    with the key's line there: `s.toml: line 13: sweep.asha.group_by: error: …`; without a
    line where the file does not give the key (`err` itself when that is its own file)."""
    file = Path(file if file is not None else err.file)
    line = line_of(file, err.where) if err.where else None
    if line is None and file == Path(err.file):
        return err
    return SweepError(file, err.message, where=f"line {line}: {err.where}" if line else err.where)


def key_at(file, key: str, locate=None) -> str:
    """`file: line N: key`, or wherever `locate` (a rule like `with_line`, which is the default:
    `rnnalg search` gives its own) places `key` of `file`: the head of a message about a key
    that is not a SweepError, e.g. `rnnalg sweep`'s check of `cpus_per_trial` against --cpus."""
    err = (locate or with_line)(SweepError(file, "", where=key))
    return f"{err.file}: {err.where}"
