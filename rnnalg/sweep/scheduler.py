"""ASHA per group: Ray Tune's AsyncHyperBand, one instance per group of trials (`groups.py`).

Validation figures of different datasets (or models) must not compete: ASHA is meant to
stop poor *settings* of one model on one dataset, not the shallow RNN because a deep model
does better.  `GroupedASHA` keeps one `ASHAScheduler` per group and hands each trial's
events to its group's scheduler; the trial order is Tune's FIFO.  A group is (dataset, model)
by default; in an architecture search the models are what competes (each candidate is one
model with one trial, so per model ASHA would never stop anything): `per = "dataset"` makes
it the dataset alone.  `group_by` splits the groups further by grid axes, so trials with
weight noise, which start slowly, compete only with each other.

A resumed sweep is a new Tune experiment: `ended` and `continued` (`rungs.py`) are what the
earlier invocation reported, replayed into the groups' rungs before any trial runs (ended
trials) or when a continuing trial is added (under its new Tune id, at the rungs it passed), so
the resumed sweep prunes as the uninterrupted one would.  A replay records values; its
decisions are not acted on.
"""
from __future__ import annotations

from types import SimpleNamespace

from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

from .groups import group_fields, group_label, group_of


class GroupedASHA(FIFOScheduler):
    """`options`: grace_period, reduction_factor, max_epochs, per, group_by (the sweep file's [sweep.asha])."""

    def __init__(self, options: dict, max_epochs: int, ended=(), continued: dict | None = None):
        """`ended`: [(trial JSON, [(epoch, valid)])]; `continued`: {trial id: [(epoch, valid)]}."""
        super().__init__()
        self.options = dict(options)
        self.fields = group_fields(self.options)
        # ASHA stops a trial that reaches max_t; one more than the epochs lets the last epoch
        # end normally, so the trial still reports its test figure
        self.max_epochs = int(options.get("max_epochs", max_epochs)) + 1
        self.cells = {}  # group (one value per field) -> its ASHAScheduler
        self.continued = dict(continued or {})
        for trial_json, curve in ended:  # a stand-in Tune trial per ended trial
            earlier = SimpleNamespace(trial_id=f"ended:{trial_json['id']}", config={"trial": trial_json})
            self.on_trial_add(None, earlier)
            self._replay(earlier, curve)
            self.on_trial_remove(None, earlier)

    def _cell(self, trial) -> ASHAScheduler:
        key = group_of(trial.config["trial"], self.fields)
        if key not in self.cells:
            grace = min(int(self.options.get("grace_period", 1)), self.max_epochs)
            self.cells[key] = ASHAScheduler(time_attr="epoch", metric="valid", mode="min",
                                            max_t=self.max_epochs, grace_period=grace,
                                            reduction_factor=self.options.get("reduction_factor", 3))
        return self.cells[key]

    def set_search_properties(self, metric, mode, **spec) -> bool:
        return True  # the metric is always "valid", minimised

    def _replay(self, trial, curve) -> None:
        for epoch, valid in curve:
            self._cell(trial).on_trial_result(None, trial, {"epoch": epoch, "valid": valid})

    def on_trial_add(self, tune_controller, trial):
        self._cell(trial).on_trial_add(tune_controller, trial)
        self._replay(trial, self.continued.pop(trial.config["trial"]["id"], ()))

    def on_trial_result(self, tune_controller, trial, result):
        return self._cell(trial).on_trial_result(tune_controller, trial, result)

    def on_trial_complete(self, tune_controller, trial, result):
        self._cell(trial).on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller, trial):
        self._cell(trial).on_trial_remove(tune_controller, trial)

    def debug_string(self) -> str:
        shown = "; ".join(group_label(self.fields, key) for key in self.cells)
        return f"ASHA per ({', '.join(self.fields)}): {len(self.cells)} groups: {shown}"
