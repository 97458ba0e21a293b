"""What ASHA saw of the trials that ran before a resume: each one's validation curve as Tune had it.

A resumed sweep starts a new Tune experiment, so its schedulers start with empty rungs.  To prune
as the uninterrupted sweep would, they first replay what the earlier invocation reported
(`scheduler.GroupedASHA`):

    ended      trials with a results line (ok, pruned, failed; not an interim line of
               `--standings`, whose trial is still to run): their reported epochs, so a
               trial still to run is compared at each rung with them too
    continued  trials without one whose run folder holds epochs (a checkpoint to continue
               from): their own rung values, so they are not judged again at a rung they passed

A curve is [(epoch, valid)] from the run folder's metrics.jsonl (full precision), else from the
results line's `curve` (rounded to 5 digits); of an ended trial only the epochs its line says it
reported (`epochs`: a pruned trial may finish one more epoch before Tune stops it, which ASHA
never saw).  No Ray here.
"""
from __future__ import annotations

import json
from pathlib import Path

METRICS = "metrics.jsonl"  # the run folder's curve (train/monitor.py)


def run_curve(run_dir: Path) -> list:
    """[(epoch, valid)] of a run folder's metrics.jsonl; [] when it has none (or unreadable)."""
    try:
        text = (Path(run_dir) / METRICS).read_text(encoding="utf-8")
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
        return [(int(r["epoch"]), float(r["valid"])) for r in records]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def reported_curve(line: dict, run_dir: Path) -> list:
    """[(epoch, valid)] the ended trial of results line `line` reported to Tune."""
    curve = run_curve(run_dir) or [(int(e), float(v)) for e, v in line.get("curve") or []]
    last = line.get("epochs")
    if isinstance(last, int) and not isinstance(last, bool):
        curve = [(e, v) for e, v in curve if e <= last]
    return curve


def earlier_curves(trials: list, lines: dict, out: Path) -> tuple:
    """(ended, continued) for the schedulers of a sweep in OUT: ended = [(trial JSON, curve)] of
    the trials with a results line in `lines` (trial id -> line), continued = {trial id: curve}
    of the others whose run folders hold epochs; trials without a curve are left out."""
    ended, continued = [], {}
    for t in trials:
        run_dir = Path(out) / "runs" / t.id
        if t.id in lines:
            curve = reported_curve(lines[t.id], run_dir)
            if curve:
                ended.append((t.to_json(), curve))
        else:
            curve = run_curve(run_dir)
            if curve:
                continued[t.id] = curve
    return ended, continued
