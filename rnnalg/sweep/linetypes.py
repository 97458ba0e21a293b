"""The types of a results line's fields, checked as the line is read (`results.numbered_lines`), so
that a hand-edited or foreign line is a DataError naming the file, the line and the field, not a
TypeError deep in a report (`"seconds": "x"` reached `sum()` in cells.py).

A field a line lacks is not checked (lines of older sweeps lack the newer ones); `trial` and
`status` are required (results.py).  The rules are tables: field -> what it must be.
"""
from __future__ import annotations

import math


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _finite(v) -> bool:
    return _number(v) and math.isfinite(v)


def _integer(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _text(v) -> bool:
    return isinstance(v, str)


def _optional(rule):
    return lambda v: v is None or rule(v)


def _curve(v) -> bool:  # [[epoch, validation figure], …]
    return isinstance(v, list) and all(isinstance(p, list) and len(p) == 2 and _integer(p[0]) and _number(p[1])
                                       for p in v)


def _load(v) -> bool:  # {"start": 0.8, "max": 2.1, "end": 1.9, "cpus": 2}; null where unknown (usage.py)
    return isinstance(v, dict) and all(x is None or _finite(x) for x in v.values())


def _table(v) -> bool:  # a JSON object (its keys are strings)
    return isinstance(v, dict)


def flag_rule(name: str) -> tuple:
    """(rule, what) of an `rnnalg train` flag's value by its dest name: a numeric flag (values.FLAGS)
    a finite number, an integer where the flag takes one; any other a string, boolean or number."""
    from ..values import FLAGS, RULES

    flag = "--" + name.replace("_", "-")
    if flag not in FLAGS:
        return (lambda x: isinstance(x, (str, bool)) or _finite(x)), "a string, a boolean or a finite number"
    if RULES[FLAGS[flag]].convert is int:
        return _integer, f"an integer ({flag})"
    return _finite, f"a finite number ({flag})"


NUMBER = (_optional(_number), "a number")
INTEGER = (_optional(_integer), "an integer")
TEXT = (_optional(_text), "a string")
STRING = (_text, "a string")

# field -> (rule, what it must be); null passes the rules made _optional
LINE = {
    "status": STRING,  # (and "trial", an object: results.numbered_lines)
    "command": TEXT, "commit": TEXT, "sweep": TEXT, "rnnalg": TEXT, "run_dir": TEXT, "metric": TEXT,
    "error": TEXT, "stopped": TEXT, "backend": TEXT, "numpy": TEXT, "blas": TEXT, "node": TEXT,
    "data_label": TEXT, "data_fingerprint": TEXT, "spec_fingerprint": TEXT,
    "test": NUMBER, "best_valid": NUMBER, "seconds": NUMBER, "cpu_seconds": NUMBER,
    "best_epoch": INTEGER, "epochs": INTEGER, "params": INTEGER, "threads": INTEGER,
    "curve": (_optional(_curve), "a list of [epoch, figure] pairs"),
    "load": (_optional(_load), "an object of finite numbers (or nulls)"),
    "search": (_table, "an object"),
}
TRIAL = {  # (what `rnnalg sweep` writes: trials.Trial; only data_dir and dataset_shown may be null)
    "id": STRING, "config_id": STRING, "model": STRING, "label": STRING, "dataset": STRING,
    "dataset_label": STRING, "spec": STRING, "spec_shown": STRING, "data_dir": TEXT, "dataset_shown": TEXT,
    "sizes": (_table, "an object"), "flags": (_table, "an object"),  # their values: below
}

SEARCH = {  # a search candidate as a results line and candidates.jsonl describe it (commands/search.py)
    "file": STRING, "size_name": STRING, "name": STRING, "seed": STRING, "spec": STRING, "canonical": STRING,
    "moves": (lambda v: isinstance(v, list) and all(map(_text, v)), "a list of strings"),
    "size": (_optional(lambda v: _integer(v) and v >= 1), "a positive integer"), "parameters": (_integer, "an integer"),
}


def line_mistake(line: dict) -> str | None:
    """The first field of a results line (a JSON object) whose value breaks its rule, as a message
    (`'seconds' is "x": expected a number`), or None."""
    trial = line.get("trial") if isinstance(line.get("trial"), dict) else {}
    checks = [(f"{key}", value, *LINE[key]) for key, value in line.items() if key in LINE]
    checks += [(f"trial.{key}", value, *TRIAL[key]) for key, value in trial.items() if key in TRIAL]
    search = line.get("search") if _table(line.get("search")) else {}
    checks += [(f"search.{key}", value, *SEARCH[key]) for key, value in search.items() if key in SEARCH]
    sizes, flags = (trial.get(k) if _table(trial.get(k)) else {} for k in ("sizes", "flags"))
    checks += [(f"trial.sizes.{key}", value, _integer, "an integer") for key, value in sizes.items()]
    checks += [(f"trial.flags.{key}", value, *flag_rule(key)) for key, value in flags.items()]
    return _first_mistake(checks)


def candidate_mistake(obj: dict) -> str | None:
    """As `line_mistake`, for a candidate of `candidates.jsonl` (SEARCH's fields but the search's own)."""
    return _first_mistake([(key, obj[key], *SEARCH[key]) for key in SEARCH if key in obj])


def _first_mistake(checks) -> str | None:
    for where, value, rule, what in checks:
        if not rule(value):
            shown = f'"{value}"' if isinstance(value, str) else repr(value)
            return f"'{where}' is {shown[:60]}: expected {what}"
    return None
