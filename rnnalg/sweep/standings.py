"""`rnnalg sweep FILE --out OUT --results R --standings`: an unfinished sweep's trials as they stand,
as results lines, without Ray and without training.

A results line lands when a trial ends (early stopping, its epoch cap, its time limit), so a sweep
of trials that run for hours over several sessions (experiments/ptb_char_hours.toml) has no line
for them until then.  For every trial of the sweep file whose run folder OUT/runs/<id> holds a
`best` checkpoint and which has no final line in R, this evaluates the run as the trial's own end
would if it ended now (`train.session.standing`: the run restored from `last` as `--resume` does,
then `final_figures`, the code a run's end calls: the best parameters over the whole test split,
on the run's BLAS threads and backend) and writes the line a finished trial gets
(`results.line_base`, `worker.outcome`, `results.results_line`), marked unfinished:

    "stopped": "interrupted"   `results.is_interim`; epochs, best epoch, curve so far
    "seconds", "cpu_seconds"   the training seconds and CPU seconds its attempts recorded
                               (last.json, usage.json); this evaluation's own are not counted

What supersedes an interim line (never two lines of one trial):
  * `--standings` again: the trial's earlier interim line in R is replaced, not added to;
  * the trial's end: `rnnalg sweep --resume` does not count an interim line as a finished trial
    (the trial runs, continuing from its checkpoint) and its final line replaces it (runner.py);
    ASHA's rungs see the trial as one to continue, with its run folder's curve (rungs.py);
  * `rnnalg report` over several files: a final line of the trial beats an interim one, and of
    two interim lines the one with more epochs stands (collect.py); its row says "interrupted
    after N epochs, resumable" and where the curve still pointed (report.py);
  * `rnnalg search` runs its candidates through the same runner, so the same holds there; in a
    search's report section an interim line stands for its candidate (stopped "interrupted").

Nothing is written into OUT (a run folder with result.json is an ended trial whose line the next
`--resume` writes).  The lines are written together, atomically, after every trial was evaluated:
an error (a damaged checkpoint, a results file that cannot be written) leaves R as it was.
"""
from __future__ import annotations

import sys
from pathlib import Path

from ..atomic import writable_reason
from ..errors import UsageError
from . import usage
from .collect import of_trial
from .results import INTERRUPTED, is_interim, line_base, read_lines, results_line, write_lines

BEST = "best.json"  # a finished epoch's best parameters (train/checkpoint.py)


def check_paths(out: Path, results: Path, trials: list) -> None:
    """UsageError naming the path when OUT holds no run folder of the sweep's trials, or the results
    file cannot be written (checked before any evaluation)."""
    runs = out / "runs"
    if not any((runs / t.id).is_dir() for t in trials):
        raise UsageError(f"--out {out}: holds no run folder of this sweep's trials ({runs}/<trial id>, e.g. "
                         f"{runs / trials[0].id}); --standings reads the run folders of a sweep that has run")
    if results.exists() and not results.is_file():
        raise UsageError(f"--results {results}: not a file")
    reason = writable_reason(results.parent)
    if reason is not None:
        raise UsageError(f"--results {results}: cannot write its folder {results.parent}: {reason}")


def write_standings(trials: list, programs: dict, out: Path, results: Path, params: dict, info: dict,
                    fields: dict) -> list:
    """Evaluate the unfinished trials and write their interim lines into `results` (see the module
    docstring); -> the lines written.  `params`, `info`, `fields`: as `runner.run` gets them."""
    existing = read_lines(results) if results.exists() else []
    written, skipped = {}, []
    for t, why in plan(trials, out, results, existing):
        run_dir = out / "runs" / t.id
        if why is not None:
            skipped.append(f"{t.id}: {why}")
            continue
        print(f"{t.id}: evaluating {run_dir} on the test split …", file=sys.stderr, flush=True)
        written[t.id] = interim_line(t, programs[t.id], run_dir, line_base(t, params[t.id], info, fields[t.id], out))
        print(f"  {describe(written[t.id])}", flush=True)
    for note in skipped:
        print(f"  {note}", file=sys.stderr)
    if not written:
        raise UsageError(f"--out {out}: no trial to write a standing for:\n  " + "\n  ".join(skipped))
    write_lines(results, _merged(existing, written, trials))
    return list(written.values())


def plan(trials: list, out: Path, results: Path, existing: list | None = None) -> list:
    """[(trial, why it gets no interim line, or None: it gets one)] in trial order; `existing`: the
    results file's lines (read when not given)."""
    if existing is None:
        existing = read_lines(results) if results.exists() else []
    return [(t, _no_standing(t, out / "runs" / t.id, existing)) for t in trials]


def _no_standing(trial, run_dir: Path, existing: list) -> str | None:
    """Why `trial` gets no interim line (None: it gets one)."""
    if not run_dir.is_dir():
        return "no run folder (not started)"
    if any(of_trial(line, trial) and not is_interim(line) for line in existing):
        return "ended: its final line is in the results file"
    if (run_dir / "result.json").exists():
        return f"ended ({run_dir / 'result.json'}); `rnnalg sweep --resume` writes its line"
    if not (run_dir / BEST).exists():
        return f"{run_dir}: no best checkpoint ({BEST}: no finished epoch yet)"
    return None


def interim_line(trial, program, run_dir: Path, base: dict) -> dict:
    """The trial's results line as it stands (its run restored and evaluated, nothing written)."""
    from ..train.session import standing
    from .worker import outcome, spent_so_far

    result = {**standing(program, run_dir), "stopped": INTERRUPTED}
    record = {"status": "ok", "error": None, "node": None,
              **outcome(result, spent_so_far(run_dir)[0], run_dir, usage.recorded(run_dir))}
    return results_line(base, record)


def _merged(existing: list, written: dict, trials: list) -> list:
    """The results file's lines with each new interim line in place of its trial's earlier one
    (else after them)."""
    by_id = {t.id: t for t in trials}
    placed, out = set(), []
    for line in existing:
        trial = by_id.get(line["trial"].get("id"))
        if trial is not None and trial.id in written and is_interim(line) and of_trial(line, trial):
            if trial.id not in placed:
                out.append(written[trial.id])
                placed.add(trial.id)
            continue
        out.append(line)
    return out + [line for tid, line in written.items() if tid not in placed]


def describe(line: dict) -> str:
    """'dots-ptb-char-s1234: test BPC 1.5130 (best valid 1.5239 at epoch 30 of 30 so far; 6524 s)'."""
    from .results import METRIC_NAMES

    label = METRIC_NAMES.get(line["metric"], line["metric"])
    return (f"{line['trial']['id']}: test {label} {line['test']:.4f} (best valid {line['best_valid']:.4f} at "
            f"epoch {line['best_epoch']} of {line['epochs']} so far; interrupted, resumable; "
            f"{line['seconds']:.0f} s)")
