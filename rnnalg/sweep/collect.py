"""Reading the results files a report is made from, refusing what would mislead.

* a file that cannot be read, is not UTF-8, or has a line that is not a results line (JSON
  with 'trial' and 'status'): a DataError naming the file and line;
* a file without a single results line (empty, or someone else's): refused, naming it, so
  a report is never a table of "not run" cells;
* the same trial twice (`same_trial`): counted once when its figures agree; an error naming
  both places when they differ.  An unfinished trial's interim line (`rnnalg sweep --standings`,
  `results.is_interim`) is superseded by a later line of the trial: its final line, or an interim
  line with at least as many epochs (`_progress`), wherever each was read; one row, one seed.

A trial is what it trained, not where its files were: the model's label, the dataset's label, the
spec's file name, the sizes and the flags (seed and time limit included: `trial_key`), and its
data and checked program as the lines' `data_fingerprint` and `spec_fingerprint` give them (two
lines differ there only when both have the field: lines of before lack them).  The trial id and
`command` are not part of it: the same trial run from another folder writes its spec and data
paths otherwise (it counted twice), and two sweep files may name one trial otherwise.
"""
from __future__ import annotations

import json
from ..errors import DataError
from .results import is_interim, numbered_lines

# what must agree between two lines of the same trial
FIGURES = ("status", "test", "best_valid", "best_epoch", "epochs")
# what the trial trained, where its line says (sweep/results.py, commands/sweep.py)
FINGERPRINTS = ("data_fingerprint", "spec_fingerprint")


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
    """[(file, line number, results line)] as `collect`, each line with the place it was read from
    (a trial's place is its first line's; a later line of it stands there)."""
    placed: list = []
    at: dict = {}  # trial_key -> indices in `placed` (lines that differ in a fingerprint)
    for path in paths:
        for number, line in read_results(path):
            indices = at.setdefault(trial_key(line), [])
            index = next((i for i in indices if same_trial(placed[i][2], line)), None)
            if index is None:
                indices.append(len(placed))
                placed.append((path, number, line))
                continue
            other_path, other_number, other = placed[index]
            if is_interim(other) or is_interim(line):  # a standing: the trial's later line supersedes it
                if _progress(line) >= _progress(other):
                    placed[index] = (path, number, line)
                continue
            if _figures(other) != _figures(line):
                raise DataError(str(path), f"trial {line['trial'].get('id')} is also at {other_path}: line "
                                           f"{other_number} with different figures (test {other.get('test')} "
                                           f"there, {line.get('test')} here)", where=f"line {number}")
            placed[index] = (path, number, line)
    return placed


def trial_key(line: dict) -> str:
    """A results line's trial less its fingerprints, as a JSON text (the module docstring)."""
    t = line["trial"]
    spec = str(t.get("spec_shown") or t.get("spec") or "").replace("\\", "/").rsplit("/", 1)[-1]
    flags = t.get("flags") if t.get("flags") is not None else {"id": t.get("id")}  # (lines without flags)
    return json.dumps([t.get("label"), t.get("dataset_label") or t.get("dataset"), spec, t.get("sizes"), flags],
                      sort_keys=True)


def of_trial(line: dict, trial) -> bool:
    """Whether `line` is a line of `trial` (a trials.Trial) by id and by what it trained
    (`trial_key`: label, data, spec file name, sizes, flags), whatever folder it ran in."""
    return line["trial"].get("id") == trial.id and trial_key(line) == trial_key({"trial": trial.to_json()})


def same_trial(a: dict, b: dict) -> bool:
    """Whether two lines of one `trial_key` are one trial: no fingerprint that both have differs."""
    return all(a.get(k) is None or b.get(k) is None or a[k] == b[k] for k in FINGERPRINTS)


def _progress(line: dict) -> tuple:
    """How far a line of a trial got: a final line beats any interim one (`rnnalg sweep
    --standings`), of two interim lines the one with more epochs (a tie: the later read)."""
    epochs = line.get("epochs")
    return (not is_interim(line), epochs if isinstance(epochs, int) else -1)


def _figures(line: dict) -> str:
    return json.dumps([line.get(k) for k in FIGURES])
