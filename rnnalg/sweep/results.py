"""Results lines (one JSON object per trial) and the best-per-cell table built from them.

Each line says which data it used: `data_label` (a named dataset's name, or the path as the
sweep file gives it) and `data_fingerprint` (`rnnalg.data.fingerprint`: a sha256 of the data
as loaded, whatever file held it); a report compares a line with the paper only when its
fingerprint is that of the named dataset (`KNOWN_FINGERPRINTS`).

A cell is a (dataset, model) pair; its configuration is chosen on validation only, by the one
rule of `cells.py` that the report uses too (`best_cells`).
"""
from __future__ import annotations

import json
import statistics
import subprocess
from pathlib import Path

from .. import __version__
from ..atomic import write_atomic
from ..errors import DataError
from .linetypes import line_mistake

# what the trial's run gives, in every line (None when the trial has none, e.g. when it failed)
OUTCOME = ("status", "error", "metric", "test", "best_valid", "best_epoch", "epochs", "stopped", "seconds",
           "curve", "backend", "threads", "numpy", "blas", "node",
           "cpu_seconds", "load")  # usage.py; lines written before them lack the two keys
METRIC_NAMES = {"nll": "NLL per frame", "bpc": "BPC", "ppl": "perplexity"}
INTERRUPTED = "interrupted"  # the `stopped` of an interim line: its trial goes on (standings.py)


def is_interim(line: dict) -> bool:
    """Whether a results line is an unfinished trial's standing (`rnnalg sweep --standings`), which a
    later line of the trial supersedes, not a trial's end: status ok, stopped "interrupted" (a
    trial's own end never says so: a signal stop has no test figure and no line, worker.py)."""
    return line.get("status") == "ok" and line.get("stopped") == INTERRUPTED


def stop_text(line: dict) -> str:
    """A stop column's words for a line (the tables' and a search's section): its reason; an
    unfinished trial's (`--standings`) "interrupted after N epochs, resumable"."""
    if is_interim(line):
        return f"interrupted after {line.get('epochs')} epochs, resumable"
    return str(line.get("stopped"))


def line_base(trial, params: int, info: dict, data: dict, out: Path) -> dict:
    """What a results line of `trial` says before its run's figures: the trial, its parameter count and
    command, the sweep's `info` (sweep file, commit, version), its `data` fields and run folder."""
    return {"trial": trial.to_json(), "params": params, "command": trial.command(), **info, **data,
            "run_dir": str(Path(out) / "runs" / trial.id)}


def results_line(base: dict, record: dict) -> dict:
    """A results line: every OUTCOME key (None where `record` has none), `base`, then `record`."""
    return {**dict.fromkeys(OUTCOME), **base, **record}


def data_fields(trials, shown: dict, data_dir: str | None) -> dict:
    """trial id -> {"data_label", "data_fingerprint"}, each distinct data loaded once, as the
    trial's `rnnalg train` will load it (its --unit and --min-count).  Data that does not load
    gets fingerprint None here; its trials fail with the loader's message."""
    from ..data.dataset import load_dataset
    from ..data.fingerprint import fingerprint
    from ..errors import RnnalgError

    digests, fields = {}, {}
    for t in trials:
        key = (t.dataset, t.flags.get("unit"), int(t.flags.get("min_count", 1)))
        if key not in digests:
            try:
                digests[key] = fingerprint(load_dataset(t.dataset, data_dir=data_dir, unit=key[1],
                                                        min_count=key[2]))
            except RnnalgError:
                digests[key] = None
        fields[t.id] = {"data_label": shown.get(t.dataset, t.dataset), "data_fingerprint": digests[key]}
    return fields


def numbered_lines(path) -> list:
    """[(line number, results line)] of a JSONL file; an unreadable file, text that is not UTF-8 or
    a line that is not a results line (JSON with 'trial' and 'status', each field of its type:
    linetypes.py) is a DataError naming it."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise DataError(str(path), f"cannot read: {err.strerror or err}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        number = data.count(b"\n", 0, err.start) + 1
        raise DataError(str(path), f"not UTF-8 text (byte {err.start}: {data[err.start:err.start + 1]!r}); "
                                   "a results file is JSON lines written by `rnnalg sweep`",
                        where=f"line {number}") from None
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as err:
            raise DataError(str(path), f"not JSON: {err}", where=f"line {number}") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("trial"), dict) or "status" not in obj:
            raise DataError(str(path), "not a results line (needs 'trial' and 'status')",
                            where=f"line {number}")
        mistake = line_mistake(obj)  # a field of the wrong type (linetypes.py)
        if mistake:
            raise DataError(str(path), f"not a results line: {mistake}", where=f"line {number}")
        found.append((number, obj))
    return found


def holds_no_lines(path) -> bool:
    """Whether `path` is a results file without a line: a regular file of UTF-8 text that is blank
    (empty, or only whitespace and line ends; `numbered_lines` skips blank lines), as a sweep of
    before wrote at its start.  A missing file, a folder, an unreadable file or one that is not
    UTF-8 is not such a file (False): a sweep neither removes it nor writes over it."""
    path = Path(path)
    try:
        return path.is_file() and not path.read_bytes().decode("utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return False


def read_lines(path) -> list:
    """The results lines of a JSONL file (see numbered_lines)."""
    return [line for _, line in numbered_lines(path)]


def write_lines(path, lines) -> None:
    path = Path(path)
    text = "".join(json.dumps(line, sort_keys=True) + "\n" for line in lines)
    write_atomic(path.parent, path.name, lambda f: f.write(text.encode()))


def best_cells(lines) -> list:
    """One `cells.Cell` per (dataset, model) with a usable trial, in first-seen order: the rule the
    report uses (`cells.build_cells`), so the sweep's table and RESULTS.md choose alike."""
    from ..data.dataset import NAMED
    from .cells import build_cells
    from .dataid import known_fingerprints

    return build_cells(lines, known_fingerprints(), set(NAMED))


DIGITS = {"nll": 3, "bpc": 3, "ppl": 1}  # as the paper prints them


def format_number(value: float, spread: float | None = None, metric: str = "nll") -> str:
    digits = DIGITS.get(metric, 4)
    text = f"{value:.{digits}f}"
    return text if spread is None else f"{text} ± {spread:.{digits}f}"


def format_table(lines) -> str:
    """The plain-text table `rnnalg sweep` prints at the end."""
    cells = best_cells(lines)
    head = ("dataset", "model", "metric", "test", "valid", "seeds", "params", "seconds", "configuration")
    rows = [head]
    for c in cells:
        dataset = c.lines[0].get("data_label") or c.dataset  # a file: its path as given, not its stem
        rows.append((dataset, c.model, METRIC_NAMES.get(c.metric, c.metric),
                     format_number(c.test_mean, c.test_spread, c.metric),
                     format_number(c.valid_mean, None, c.metric),
                     str(len(c.test)), f"{c.params:,}", f"{statistics.fmean(c.seconds):.0f}",
                     f"{c.config_id} (best of {c.configs})"))
    failed = [line for line in lines if line.get("status") == "failed"]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    text = "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows)
    if not cells:
        text = "no trial finished"
    if failed:
        text += f"\n{len(failed)} failed: " + ", ".join(line["trial"]["id"] for line in failed)
    return text


def commit_of_rnnalg() -> str:
    """`git describe --always --dirty` of the rnnalg checkout, or the version when not in git."""
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=12"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return f"rnnalg {__version__}"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else f"rnnalg {__version__}"
