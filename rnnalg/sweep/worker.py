"""One trial inside a Ray Tune worker: the ordinary `rnnalg train` run (`train.launch.run_training`
of the trial's command line), reporting each epoch to Tune.

The run folder `OUT/runs/<trial id>` is the trial's memory: when it already holds a finished
result the trial only reports it; when it holds a `last` checkpoint the trial continues it
(`rnnalg train --resume`) with what is left of its time limit.  The last report of a trial
carries its results line as JSON under "record"; a trial that cannot go on (NaN, bad data, a
spec that does not fit the data) ends normally with status "failed" and the message, so Tune
does not retry it and the other trials go on.
"""
from __future__ import annotations

import io
import json
import time
from contextlib import redirect_stdout
from pathlib import Path

from ..errors import RnnalgError
from . import usage
from .trials import Trial

RESULT = "result.json"  # written by `rnnalg train` at its end


def run_trial(config: dict) -> None:
    """The Tune function trainable: `config` holds the trial (JSON) and the sweep's folder."""
    from ray import tune

    trial = Trial.from_json(config["trial"])
    run_dir = Path(config["out"]) / "runs" / trial.id
    node = _node_id()  # which Ray node ran it: in every report and in the results line
    record = execute(trial, run_dir, lambda metrics: tune.report({**metrics, "node": node}))
    tune.report({"record": json.dumps({**record, "node": node})})  # no "valid": ASHA does not judge it


def _node_id() -> str | None:
    import ray

    try:
        return ray.get_runtime_context().get_node_id()
    except Exception:  # not inside Ray (a test calling run_trial directly)
        return None


def execute(trial: Trial, run_dir: Path, report) -> dict:
    """Train (or continue, or just read) the trial in `run_dir`; returns its results line.

    `report(metrics)` is called after every epoch with epoch, valid, best_valid, train_loss, lr
    and the trial's `cpu_seconds` and `load` so far (`usage.py`: also in the results line).
    """
    started = time.monotonic()
    record = {"status": "ok", "error": None}
    before = 0.0
    spent = usage.recorded(run_dir)  # a finished trial only read back: its attempts' figures
    try:
        if not (run_dir / RESULT).exists():
            meter = usage.Usage(run_dir)
            try:
                before = _train(trial, run_dir, lambda metrics: report({**metrics, **meter.save()}))
            finally:  # also when the attempt fails or a signal stops it
                spent = meter.save()
        result = json.loads((run_dir / RESULT).read_text(encoding="utf-8"))
    except RnnalgError as err:
        return {"status": "failed", "error": str(err).strip(), "seconds": round(time.monotonic() - started, 1),
                **_history(run_dir), **spent}
    return {**record, **outcome(result, before + result["seconds"], run_dir, spent)}


def outcome(result: dict, seconds: float, run_dir: Path, spent: dict) -> dict:
    """A results line's figures from a run's result (result.json, or `session.standing`'s):
    `seconds` of training over its attempts, the curve of its run folder, `spent` (usage.py)."""
    return dict(metric=result["metric"], test=result["test"], best_valid=result["best_valid"],
                best_epoch=result["best_epoch"], epochs=result["epochs"], stopped=result["stopped"],
                backend=result.get("backend"), threads=result.get("threads"),  # train/numerics.py
                numpy=result.get("numpy"), blas=result.get("blas"),
                seconds=round(seconds, 1), **_history(run_dir),
                cpu_seconds=spent.get("cpu_seconds"), load=spent.get("load"))  # usage.py


def _train(trial: Trial, run_dir: Path, report) -> float:
    """Run `rnnalg train`'s training for the trial; returns the training seconds of earlier attempts."""
    from ..train.flags import run_arguments
    from ..train.launch import run_training
    from ..train.session import SIGNAL_STOPS
    from .sweepfile import train_parser

    argv = trial.train_args(trial.spec) + ["--out", str(run_dir), "--quiet"]
    if trial.data_dir:
        argv += ["--data-dir", trial.data_dir]
    before, best = 0.0, float("inf")
    if (run_dir / "last.json").exists():
        before, best = spent_so_far(run_dir)
        argv += ["--resume", str(run_dir)]
        limit = trial.flags.get("time_limit")
        if limit is not None:
            argv += ["--time-limit", str(max(1.0, float(limit) - before))]
    args = train_parser().parse_args(argv)

    def on_epoch(record):
        nonlocal best
        best = min(best, record["valid"])
        report({"epoch": record["epoch"], "valid": record["valid"], "best_valid": best,
                "train_loss": record["train_loss"], "lr": record["lr"]})

    with redirect_stdout(io.StringIO()):  # the sweep prints its own line per trial
        reason = run_training(**run_arguments(args), on_epoch=on_epoch)["stopped"]
    if reason in SIGNAL_STOPS:  # saved after a signal: Tune retries the trial, which continues the run
        raise RuntimeError(f"rnnalg train stopped before its end ({reason}); {run_dir} holds the run")
    return before


def spent_so_far(run_dir: Path) -> tuple:
    """(training seconds, best valid) recorded by the checkpoint of an interrupted attempt."""
    try:
        run = json.loads((run_dir / "last.json").read_text(encoding="utf-8"))["run"]
        seconds = sum(r["seconds"] for r in run["history"]) + run.get("part_seconds", 0.0)
        return float(seconds), float(run.get("best_valid", float("inf")))
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0, float("inf")


def _history(run_dir: Path) -> dict:
    """The validation curve [[epoch, valid], ...] from the run's metrics.jsonl (rungs.run_curve)."""
    from .rungs import run_curve

    return {"curve": [[epoch, round(valid, 5)] for epoch, valid in run_curve(run_dir)]}
