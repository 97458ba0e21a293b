"""ASHA's groups: which trials compete with each other at a rung.

    group = (dataset, model, *the trial's values of group_by)      per = "model" (the default)
    group = (dataset, *the trial's values of group_by)             per = "dataset" (a search)

Each group has its own rungs (epochs g, g·r, g·r², … for grace period g and reduction factor r)
and keeps its own best 1/r at each of them (`scheduler.py`).  `group_by` names grid axes of the
sweep file: an `rnnalg train` flag given as a list (`weight_noise = [0.0, 0.02]`), `set.NAME`
for a list of sizes, `spec` for a list of specs.  Grouping by an axis whose trials start slowly
(weight noise: the noisy trials trail the noise-free ones for the first epochs, and often end
better) keeps the first rung from stopping all of them at once.

No Ray here: the groups are worked out from the trials' JSON (`Trial.to_json()`), so
`--dry-run` can list them and `sweep.json` can record them.
"""
from __future__ import annotations

import math

from ..errors import SweepError

BASE_FIELDS = {"model": ("dataset", "model"), "dataset": ("dataset",)}  # per -> the fields always grouped by
DEFAULT_EPOCHS = 100  # `rnnalg train --epochs` when a trial does not set it

# field -> its value in a trial's JSON; any other field is an `rnnalg train` flag
VALUE_RULES = {
    "dataset": lambda t: t["dataset_label"],
    "model": lambda t: t["model"],
    "spec": lambda t: t["spec_shown"].replace("\\", "/").rsplit("/", 1)[-1],
}


def group_fields(options: dict) -> tuple:
    """The fields a trial's group is made of, e.g. ("dataset", "model", "weight_noise")."""
    return BASE_FIELDS[options.get("per", "model")] + tuple(options.get("group_by", ()))


def value_of(trial: dict, field: str):
    """A trial's value of one group field (None where the trial's model does not set the flag)."""
    if field in VALUE_RULES:
        return VALUE_RULES[field](trial)
    if field.startswith("set."):
        return trial["sizes"].get(field[4:])
    return trial["flags"].get(field)


def group_of(trial: dict, fields: tuple) -> tuple:
    """The group of a trial (its JSON): one value per field."""
    return tuple(value_of(trial, f) for f in fields)


def group_label(fields: tuple, key: tuple) -> str:
    """A group as text: `musedata · rnn · weight_noise=0.02` (dataset and model bare; a flag the
    trials leave at `rnnalg train`'s default: `batch_size=default`)."""
    return " · ".join(str(v) if f in BASE_FIELDS["model"] else f"{f}={'default' if v is None else v}"
                      for f, v in zip(fields, key))


def groups_of(trials: list, options: dict) -> dict:
    """Group label -> the ids of its trials, in trial order (`trials`: Trial objects)."""
    fields = group_fields(options)
    groups = {}
    for t in trials:
        groups.setdefault(group_label(fields, group_of(t.to_json(), fields)), []).append(t.id)
    return groups


def last_epoch(options: dict, trials: list) -> int:
    """The last epoch any trial may reach: `max_epochs`, else the largest `epochs` flag."""
    default = max((int(t.flags.get("epochs", DEFAULT_EPOCHS)) for t in trials), default=DEFAULT_EPOCHS)
    return int(options.get("max_epochs", default))


def rung_epochs(options: dict, max_epochs: int) -> list:
    """The epochs at which a group's trials are compared: g·r^k below ASHA's max_t = max_epochs + 1
    (as Ray's ASHAScheduler places them, one bracket)."""
    max_t = max_epochs + 1
    grace = min(int(options.get("grace_period", 1)), max_t)
    factor = int(options.get("reduction_factor", 3))
    count = int(math.log(max_t / grace) / math.log(factor) + 1)
    return [grace * factor ** k for k in range(count) if grace * factor ** k < max_t]


def describe_groups(trials: list, options: dict) -> list:
    """The lines `rnnalg sweep --dry-run` prints about ASHA: the grouping, the rungs, each group."""
    fields = group_fields(options)
    groups = groups_of(trials, options)
    rungs = ", ".join(map(str, rung_epochs(options, last_epoch(options, trials)))) or "none"
    factor = int(options.get("reduction_factor", 3))
    lines = [f"ASHA: {len(groups)} group{'s' if len(groups) != 1 else ''} by ({', '.join(fields)}); "
             f"each keeps its best 1/{factor} at epochs {rungs}"]
    lines += [f"  {label}: {len(ids)} trial{'s' if len(ids) != 1 else ''}" for label, ids in groups.items()]
    return lines


def grid_axes(sweep) -> dict:
    """The file's grid axes a trial can be grouped by -> where the first list of it is."""
    axes = {}
    for where, table in [("train", sweep.train), *((f"data.{k}", v) for k, v in sweep.data.items()),
                         *((f"model.{m.name}.train", m.train) for m in sweep.models)]:
        for flag, value in table.items():
            if isinstance(value, list):
                axes.setdefault(flag, f"{where}.{flag}")
    for m in sweep.models:
        for name, value in m.sizes.items():
            if isinstance(value, list):
                axes.setdefault(f"set.{name}", f"model.{m.name}.set.{name}")
        if len(m.specs) > 1:
            axes.setdefault("spec", f"model.{m.name}.spec")
    return axes


def check_group_by(sweep) -> None:
    """`[sweep.asha] group_by` is a list of distinct grid axes of the file; a SweepError names the key."""
    value = (sweep.asha or {}).get("group_by")
    if value is None:
        return
    key = "sweep.asha.group_by"
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SweepError(sweep.path, f"expected a list of grid axes, e.g. [\"weight_noise\"], got {value!r}",
                         where=key)
    axes = grid_axes(sweep)
    for name in value:
        if value.count(name) > 1:
            raise SweepError(sweep.path, f"'{name}' is listed twice", where=key)
        if name in BASE_FIELDS["model"]:
            raise SweepError(sweep.path, f"'{name}' is not a grid axis: trials are always grouped by "
                                         f"dataset, and by model unless per = \"dataset\"", where=key)
        if name not in axes:
            listed = ", ".join(sorted(axes)) or "none: no flag, size or spec is given as a list"
            raise SweepError(sweep.path, f"'{name}' is not a grid axis of this file: ASHA groups trials by "
                                         f"a flag given as a list, set.NAME or spec (this file's axes: "
                                         f"{listed})", where=key)
