"""ASHA per cell: Ray Tune's AsyncHyperBand, one instance per (dataset, model).

Validation figures of different datasets (or models) must not compete: ASHA is meant to
stop poor *settings* of one model on one dataset, not the shallow RNN because a deep model
does better.  `GroupedASHA` keeps one `ASHAScheduler` per cell and hands each trial's
events to its cell's scheduler; the trial order is Tune's FIFO.  In an architecture search
the models are what competes (each candidate is one model with one trial, so per model
ASHA would never stop anything): `per = "dataset"` makes the cell the dataset alone.
"""
from __future__ import annotations

from ray.tune.schedulers import ASHAScheduler, FIFOScheduler


def cell_of(trial, per: str = "model") -> tuple:
    """The cell whose trials compete: (dataset, model), or (dataset,) when `per` is "dataset"."""
    t = trial.config["trial"]
    return (t["dataset_label"], t["model"]) if per == "model" else (t["dataset_label"],)


class GroupedASHA(FIFOScheduler):
    """`options`: grace_period, reduction_factor, max_epochs, per (the sweep file's [sweep.asha])."""

    def __init__(self, options: dict, max_epochs: int):
        super().__init__()
        self.options = dict(options)
        # ASHA stops a trial that reaches max_t; one more than the epochs lets the last epoch
        # end normally, so the trial still reports its test figure
        self.max_epochs = int(options.get("max_epochs", max_epochs)) + 1
        self.cells = {}

    def _cell(self, trial) -> ASHAScheduler:
        key = cell_of(trial, self.options.get("per", "model"))
        if key not in self.cells:
            grace = min(int(self.options.get("grace_period", 1)), self.max_epochs)
            self.cells[key] = ASHAScheduler(time_attr="epoch", metric="valid", mode="min",
                                            max_t=self.max_epochs, grace_period=grace,
                                            reduction_factor=self.options.get("reduction_factor", 3))
        return self.cells[key]

    def set_search_properties(self, metric, mode, **spec) -> bool:
        return True  # the metric is always "valid", minimised

    def on_trial_add(self, tune_controller, trial):
        self._cell(trial).on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller, trial, result):
        return self._cell(trial).on_trial_result(tune_controller, trial, result)

    def on_trial_complete(self, tune_controller, trial, result):
        self._cell(trial).on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller, trial):
        self._cell(trial).on_trial_remove(tune_controller, trial)

    def debug_string(self) -> str:
        per = "(dataset, model)" if self.options.get("per", "model") == "model" else "dataset"
        return f"ASHA per {per}: {len(self.cells)} cells"
