"""Reading the results files a report is made from, refusing what would mislead.

* a file that cannot be read, is not UTF-8, or has a line that is not a results line (JSON
  with 'trial' and 'status'): a DataError naming the file and line;
* a file without a single results line (empty, or someone else's): refused, naming it, so
  a report is never a table of "not run" cells;
* the same trial (id and command) twice: counted once when its figures agree; an error naming
  both places when they differ.
"""
from __future__ import annotations

import json
from ..errors import DataError
from .results import numbered_lines

# what must agree between two lines of the same trial
FIGURES = ("status", "test", "best_valid", "best_epoch", "epochs")


def read_results(path) -> list:
    """[(line number, results line)] of one file; one without a results line is refused."""
    found = numbered_lines(path)
    if not found:
        raise DataError(str(path), "holds no results lines (an empty file, or not one `rnnalg sweep` wrote)")
    return found


def collect(paths) -> list:
    """The results lines of all `paths`, each trial once (see the module docstring)."""
    return [line for _, _, line in collect_placed(paths)]


def collect_placed(paths) -> list:
    """[(file, line number, results line)] as `collect`, each line with the place it was read from."""
    seen: dict = {}  # (trial id, command) -> (path, number, line)
    for path in paths:
        for number, line in read_results(path):
            key = (line["trial"].get("id"), line.get("command"))
            if key in seen:
                other_path, other_number, other = seen[key]
                if _figures(other) != _figures(line):
                    raise DataError(str(path), f"trial {key[0]} is also at {other_path}: line {other_number} with "
                                               f"different figures (test {other.get('test')} there, "
                                               f"{line.get('test')} here)", where=f"line {number}")
            seen[key] = (path, number, line)
    return list(seen.values())


def _figures(line: dict) -> str:
    return json.dumps([line.get(k) for k in FIGURES])
