"""The driver: trials → one Ray Tune experiment → results lines, written as each trial ends.

    OUT/sweep.json     the trials of this sweep (a resume must find the same ones) and ASHA's
                       groups, {"fields": [...], "groups": {label: [trial ids]}} (groups.py)
    OUT/results.jsonl  one results line per ended trial (default; `results` moves it), written
                       atomically as each trial ends: no file until the first one has
    OUT/runs/<id>/     each trial's run folder (checkpoints, metrics.jsonl, curve.png)
    OUT/tune/          Ray Tune's experiment folder of the latest invocation

Resuming is per trial: the trials without a results line run on Tune again, and each one
continues from its own run folder (`worker.py`), so a sweep may be stopped at any moment, even
between a trial's end and its results line.  ASHA's rungs start with the epochs the earlier
trials reported (`rungs.py`), so the resumed trials compete with those that already ended.  A resumed sweep file may add trials (a new model,
a new seed); it may not change or drop the trials `OUT/sweep.json` lists, nor the fields ASHA
groups them by (a trial pruned within one grouping would stay pruned under another).

An interim line (`rnnalg sweep --standings`, standings.py: an unfinished trial as it stood) is
not a trial's end: its trial runs on (from its checkpoint) as one without a line, the line stays
in the results file until the trial's own replaces it, and `--force` drops it with the sweep's
lines.  It is told by its trial (`collect.of_trial`), not by its run_dir: it may have been
written from a copy of OUT.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from ray.tune import Callback

from ..atomic import write_atomic
from ..errors import SweepRunError, UsageError
from ..train.launch import describe_stop
from .collect import of_trial
from .connect import TERMINATED, start_ray  # noqa: F401  (the driver's steps, in order, are here)
from .groups import group_fields, groups_of
from .results import METRIC_NAMES, holds_no_lines, is_interim, line_base, read_lines, results_line, write_lines
from .rungs import earlier_curves
from .scheduler import GroupedASHA
from .trials import Trial

EXPERIMENT = "tune"


def check_out(out: Path, trials: list, resume: bool, force: bool, asha: dict | None = None) -> None:
    """Check OUT against the trials and ASHA's options, writing nothing (a sweep that cannot
    start leaves OUT as it was)."""
    listing = out / "sweep.json"
    if listing.exists() and not resume and not force:
        raise UsageError(f"--out {out}: already holds a sweep; continue it with --resume, "
                         f"or start it over with --force")
    if listing.exists() and resume:
        try:
            state = json.loads(listing.read_text(encoding="utf-8"))
            before = {t["id"]: t for t in state["trials"]}
        except (OSError, ValueError, KeyError, TypeError):
            raise UsageError(f"{listing}: unreadable; start the sweep over with --force") from None
        _check_groups(state, asha, out)
        now = {t.id: t.definition() for t in trials}
        changed = sorted(i for i in before if now.get(i) != Trial.from_json(before[i]).definition())
        if changed:
            what = "changed" if changed[0] in now else "missing"
            raise UsageError(f"--resume: the sweep file no longer gives the trials of {out} ({what}: "
                             f"{', '.join(changed[:3])}{' …' if len(changed) > 3 else ''}); it may only add "
                             f"trials. Use another --out, or --force to start over")


def _check_groups(state: dict, asha: dict | None, out: Path) -> None:
    """A resume keeps the fields ASHA groups trials by (a sweep without ASHA before may add it)."""
    if asha is None or state.get("asha", {}) is None:
        return
    now = list(group_fields(asha))
    # a sweep.json without the key was written before group_by: its groups had no grid axis
    before = state["asha"].get("fields") if isinstance(state.get("asha"), dict) else None
    if before is None and not asha.get("group_by") or before == now:
        return
    was = f"by ({', '.join(before)})" if before else "without group_by"
    raise UsageError(f"--resume: the sweep file's [sweep.asha] groups trials by ({', '.join(now)}), but "
                     f"the trials of {out} were pruned in groups {was}; a pruned trial would stay "
                     f"pruned. Use another --out, or --force to start over")


def prepare_out(out: Path, trials: list, resume: bool, force: bool, asha: dict | None = None) -> None:
    """Check OUT against the trials; with `force`, remove this sweep's earlier state; write
    OUT/sweep.json (the trials, ASHA's groups)."""
    check_out(out, trials, resume, force, asha)
    if force:
        shutil.rmtree(out / EXPERIMENT, ignore_errors=True)
        for trial_id in (t.id for t in trials):
            shutil.rmtree(out / "runs" / trial_id, ignore_errors=True)
    listing = out / "sweep.json"
    state = {"trials": [t.to_json() for t in trials]}
    if asha is not None:
        state["asha"] = {"fields": list(group_fields(asha)), "groups": groups_of(trials, asha)}
    elif resume and listing.exists():  # without ASHA now: keep the record of the groups its trials
        earlier = json.loads(listing.read_text(encoding="utf-8"))  # were pruned in, for the next resume
        if "asha" in earlier:  # (a sweep.json of before group_by has none, and keeps none)
            state["asha"] = earlier["asha"]
    else:
        state["asha"] = None
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(state, indent=1)
    write_atomic(out, "sweep.json", lambda f: f.write(text.encode()))


def own_line(line: dict, out: Path, known: set) -> bool:
    """Whether a results line is one of this sweep's (its trial, run in OUT), not another's
    that shares the results file."""
    if line["trial"].get("id") not in known:
        return False
    run_dir = line.get("run_dir")
    return run_dir is None or Path(run_dir) == out / "runs" / line["trial"]["id"]


def interim_of(line: dict, trials: list):
    """The trial of `trials` whose standing `line` is (`rnnalg sweep --standings`: is_interim, of_trial),
    whatever folder it was read from (a copy of OUT), else None."""
    if not is_interim(line):
        return None
    return next((t for t in trials if of_trial(line, t)), None)


def run(trials: list, params: dict, out: Path, results_path: Path, sweep_info: dict, resume: bool,
        cpus_per_trial: int, asha: dict | None, verbose: bool = False, data: dict | None = None) -> list:
    """Run the trials that have no results line yet; returns all results lines in trial order.

    `data`: trial id -> {"data_label", "data_fingerprint"} for its results line.  Lines of
    other sweeps in the results file are kept as they are (before this sweep's lines)."""
    from ray import tune

    known = {t.id for t in trials}
    lines, foreign, interim = {}, [], {}
    if holds_no_lines(results_path):  # a sweep of before wrote it at its start: a report refuses it,
        results_path.unlink()  # so it goes; the first ended trial writes the file again
    elif results_path.exists():
        for line in read_lines(results_path):
            trial = interim_of(line, trials)
            if trial is not None:  # a standing, not an end: the trial runs; its final line replaces it
                interim[trial.id] = line
            elif not own_line(line, out, known):
                foreign.append(line)
            elif resume:
                lines[line["trial"]["id"]] = line
    data = data or {}
    base = {t.id: line_base(t, params[t.id], sweep_info, data.get(t.id, {}), out) for t in trials}
    recorder = Recorder(results_path, [t.id for t in trials], base, lines, pruning=asha is not None,
                        verbose=verbose, foreign=foreign, interim=interim)
    recorder.write()
    pending = [t for t in trials if t.id not in lines]
    if not pending:
        return recorder.ordered()
    from .worker import run_trial

    trainable = tune.with_resources(run_trial, {"cpu": cpus_per_trial})
    shutil.rmtree(out / EXPERIMENT, ignore_errors=True)  # Tune's state of an earlier invocation
    max_epochs = max(int(t.flags.get("epochs", 100)) for t in trials)
    # the rungs start with what the trials ran before this invocation reported (rungs.py)
    scheduler = GroupedASHA(asha, max_epochs, *earlier_curves(trials, lines, out)) if asha is not None else None
    tuner = tune.Tuner(
        trainable,
        param_space={"trial": tune.grid_search([t.to_json() for t in pending]), "out": str(out)},
        tune_config=tune.TuneConfig(scheduler=scheduler, trial_name_creator=_trial_name,
                                    trial_dirname_creator=_trial_name, reuse_actors=True),
        run_config=tune.RunConfig(name=EXPERIMENT, storage_path=str(out), verbose=0, callbacks=[recorder],
                                  # a worker that dies (a lost node) is retried; the retry
                                  # continues from the trial's checkpoint
                                  failure_config=tune.FailureConfig(max_failures=1)))
    try:
        tuner.fit()
    except Exception as err:  # Tune itself failed (a trial's own failure is a results line)
        first = next((line for line in str(err).splitlines() if line.strip()), type(err).__name__)
        ended = f"the ended trials' lines are in {results_path}" if results_path.exists() else "no trial ended"
        raise SweepRunError(f"rnnalg sweep: error: Ray Tune stopped: {first.strip()}\n"
                            f"{ended}; continue with --resume") from None
    if results_path.exists():  # with ray:// the Tune driver (and its recorder) ran on the head node
        on_disk = {line["trial"]["id"]: line for line in read_lines(results_path)
                   if own_line(line, out, known) and not is_interim(line)}
        recorder.lines.update(on_disk)
    return recorder.ordered()


def _trial_name(trial) -> str:
    return trial.config["trial"]["id"]


class Recorder(Callback):
    """A Tune callback that turns each ended trial into its results line, rewrites the results
    file (atomically) and prints one line."""

    def __init__(self, path: Path, order: list, base: dict, lines: dict, pruning: bool, verbose: bool = False,
                 foreign: list = (), interim: dict | None = None):
        self.path, self.order, self.base, self.lines, self.pruning = Path(path), order, base, dict(lines), pruning
        self.verbose, self.foreign, self.interim = verbose, list(foreign), dict(interim or {})

    def ordered(self) -> list:
        """The ended trials' lines, in trial order."""
        return [self.lines[i] for i in self.order if i in self.lines]

    def write(self) -> None:
        """Rewrite the results file; nothing while there is no line (the file appears with its
        first line, so a sweep stopped before any trial ended leaves none for a report to refuse).
        A trial that has not ended keeps its interim line (`--standings`) until its own replaces it."""
        lines = self.foreign + [self.lines.get(i) or self.interim[i] for i in self.order
                                if i in self.lines or i in self.interim]
        if lines:
            write_lines(self.path, lines)

    def _ended(self, trial, record: dict) -> None:
        trial_id = trial.config["trial"]["id"]
        self.lines[trial_id] = results_line(self.base[trial_id], record)
        self.write()
        print(f"[{len(self.lines)}/{len(self.order)}] {describe(self.lines[trial_id])}", file=sys.stdout,
              flush=True)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if self.verbose and "valid" in result:
            print(f"    {trial.config['trial']['id']}: epoch {result['epoch']}  valid {result['valid']:.4f}  "
                  f"(best {result['best_valid']:.4f})", file=sys.stdout, flush=True)

    def on_trial_complete(self, iteration, trials, trial, **info):
        last = trial.last_result or {}
        if "record" in last:
            record = json.loads(last["record"])
        else:  # stopped by the scheduler between two epochs
            record = {"status": "pruned" if self.pruning else "stopped", "error": None,
                      "best_valid": last.get("best_valid"), "epochs": last.get("epoch"),
                      "seconds": round(float(last.get("time_total_s", 0.0)), 1), "test": None,
                      "node": last.get("node"), "cpu_seconds": last.get("cpu_seconds"),  # usage.py
                      "load": last.get("load")}
        self._ended(trial, record)

    def on_trial_error(self, iteration, trials, trial, **info):
        message = "the trial's worker failed"
        try:
            text = Path(trial.error_file).read_text(encoding="utf-8").strip().splitlines()
            message = next((line for line in reversed(text) if line.strip()), message).strip()
        except (OSError, TypeError):
            pass
        self._ended(trial, {"status": "failed", "error": message, "test": None})


def describe(line: dict) -> str:
    """One line for a trial's end: its test figure, or why it has none."""
    trial = line["trial"]["id"]
    if line["status"] == "failed":
        return f"{trial}: failed: {line['error'].splitlines()[0] if line['error'] else 'unknown error'}"
    if line["status"] != "ok":
        best = line.get("best_valid")
        return (f"{trial}: {line['status']} after {line.get('epochs')} epochs"
                + (f" (best valid {best:.4f})" if isinstance(best, float) else ""))
    valid = f"best valid {line['best_valid']:.4f} at epoch {line['best_epoch']}" if line.get("best_epoch") \
        else "no finished epoch"
    label = METRIC_NAMES.get(line["metric"], line["metric"])
    stopped = describe_stop(line["stopped"], line["epochs"])
    return f"{trial}: test {label} {line['test']:.4f} ({valid}; {stopped}, {line['seconds']:.0f}s)"
