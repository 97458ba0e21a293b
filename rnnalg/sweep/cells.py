"""The report's cells: one per (data, model), its configuration chosen on validation only.

A configuration is what a trial trains, less its seed, time limit and epoch cap: spec, sizes and
flags, the spec told by its checked program's fingerprint where the lines carry one
(`configurations`; so a later sweep file that repeats a configuration with new seeds adds to it, whatever its trial ids).
A time limit and an epoch cap are a compute budget, not a choice: of the trials of one configuration
and seed, the one with the longest budget stands for it (no or the longer time limit, then more
epochs: a rerun with more time supersedes a run the clock cut short; both count in the budget).
In a cell with several configurations,

* the choice is made on the seeds every configuration ran (the search's seeds S): the lowest
  mean best-validation figure over S wins;
* the cell's figure is the mean ± sample standard deviation of the chosen configuration's test
  figures over its *other* seeds (fresh seeds, untouched by the choice), when it has any, else
  over S.  n counts those seeds.

Without seeds shared by all configurations, each configuration's mean over all its seeds
decides.  A trial counts when its status is ok and its test and validation figures are finite.
The budget is the wall seconds of every trial of the cell (pruned and failed ones too), and
their CPU seconds where the lines record them (`cpu_budget`).
"""
from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass

from .dataid import NOT_FINGERPRINTED, DataId, data_id


def usable(line: dict) -> bool:
    return line.get("status") == "ok" and all(
        isinstance(line.get(k), (int, float)) and math.isfinite(line[k]) for k in ("test", "best_valid"))


def seed_of(line: dict):
    return (line["trial"].get("flags") or {}).get("seed", line["trial"].get("id"))


BUDGET_FLAGS = ("seed", "time_limit", "epochs")  # not part of a configuration: what a trial may spend
# a search's report tells its own trials from candidates re-run after it with more epochs, so there
# the epoch cap stays a flag (search_report.py)
SEARCH_BUDGET_FLAGS = ("seed", "time_limit")


def time_limit(line: dict) -> float:
    limit = (line["trial"].get("flags") or {}).get("time_limit")
    return math.inf if limit is None else limit


def budget(line: dict) -> tuple:
    """(time limit, epoch cap) of the trial, inf where it has none: the longer of two lines of one
    configuration and seed is the one with no or a longer time limit, then more epochs allowed."""
    epochs = (line["trial"].get("flags") or {}).get("epochs")
    return time_limit(line), math.inf if epochs is None else epochs


def configuration_flags(line: dict, budget: tuple = BUDGET_FLAGS) -> dict:
    """The trial's flags less its budget: seed, time limit and epoch cap (`budget`)."""
    return {k: v for k, v in (line["trial"].get("flags") or {}).items() if k not in budget}


def configuration_name(line: dict) -> str:
    """The trial less its seed, time limit and epoch cap, as its line names it: spec file name, sizes and
    flags (its config_id when the line has no flags).  Two programs may share it (`configurations`)."""
    t = line["trial"]
    if t.get("flags") is None:
        return t.get("config_id") or t.get("id")
    flags = configuration_flags(line)
    spec = str(t.get("spec_shown") or t.get("spec") or "").replace("\\", "/").rsplit("/", 1)[-1]
    return json.dumps([spec, t.get("sizes"), flags], sort_keys=True)


def configurations(lines: list) -> list:
    """Each line's configuration, in order: its `configuration_name` and its checked program's
    `spec_fingerprint`, as a trial's identity is (collect.py), so two programs with one spec file
    name, sizes and flags are two configurations and never pool their seeds.  A line without a
    fingerprint (written before the field) joins its name's program when the name has one among
    `lines`; with several, which it ran is unknown, and it stands alone."""
    programs: dict = {}  # configuration name -> the fingerprints its lines give, in first-seen order
    for line in lines:
        known = programs.setdefault(configuration_name(line), [])
        if line.get("spec_fingerprint") is not None and line["spec_fingerprint"] not in known:
            known.append(line["spec_fingerprint"])
    out = []
    for line in lines:
        name = configuration_name(line)
        program = line.get("spec_fingerprint")
        if program is None and len(programs[name]) == 1:
            program = programs[name][0]
        out.append(json.dumps([name, program]))
    return out


@dataclass
class Cell:
    data: DataId
    model: str  # the label
    config_id: str  # the chosen configuration's id (of its first line)
    metric: str
    params: int
    lines: list  # the lines the figure averages, by seed
    every: list  # every line of the cell: the budget
    configs: int  # configurations tried (pruned and failed ones too)
    chosen_on: list  # the seeds the choice was made on ([] when each config's own seeds decided)

    @property
    def dataset(self) -> str:
        return self.data.key

    @property
    def test(self) -> list:
        return [line["test"] for line in self.lines]

    @property
    def test_mean(self) -> float:
        return statistics.fmean(self.test)

    @property
    def test_spread(self) -> float | None:
        return statistics.stdev(self.test) if len(self.test) > 1 else None

    @property
    def valid_mean(self) -> float:
        return statistics.fmean(line["best_valid"] for line in self.lines)

    @property
    def seconds(self) -> list:
        return [line.get("seconds") or 0.0 for line in self.lines]

    @property
    def budget(self) -> float:
        return sum(line.get("seconds") or 0.0 for line in self.every)

    @property
    def cpu_budget(self) -> tuple:
        """(CPU seconds of the cell's trials whose lines record them, how many do; `usage.py`)."""
        known = [x["cpu_seconds"] for x in self.every if isinstance(x.get("cpu_seconds"), (int, float))]
        return sum(known), len(known)


def build_cells(lines: list, known: dict, names) -> list:
    """One Cell per (data, model) with a usable trial, in first-seen order."""
    every: dict = {}
    ids: dict = {}
    for line in lines:
        data = data_id(line, known, names)
        key = (data.key, line["trial"].get("label"))
        every.setdefault(key, []).append(line)
        ids.setdefault(key, []).append(data)
    cells = []
    for key, cell_lines in every.items():
        data, model = _one_data_id(ids[key]), key[1]
        configs: dict = {}
        keys = configurations(cell_lines)
        for line, config in zip(cell_lines, keys):
            if usable(line):
                configs.setdefault(config, []).append(line)
        if configs:
            cells.append(_choose(data, model, {k: longest_per_seed(v) for k, v in configs.items()}, cell_lines,
                                 len(set(keys))))
    return cells


def _one_data_id(ids: list) -> DataId:
    """The data of one cell's lines (one key): a named dataset's verified lines and its lines
    written before fingerprints existed share the cell (both stand beside the paper's figure), and
    the note says how many of its lines are not fingerprinted."""
    notes = [i.note for i in ids]
    if len(set(notes)) == 1:
        return ids[0]
    missing = notes.count(NOT_FINGERPRINTED)
    return DataId(ids[0].key, ids[0].name, f"{missing} of {len(ids)} lines {NOT_FINGERPRINTED}")


def longest_per_seed(group: list) -> list:
    """Per seed, the lines with the longest budget (`budget`)."""
    longest = {}
    for x in group:
        longest[seed_of(x)] = max(longest.get(seed_of(x), (-math.inf,)), budget(x))
    return [x for x in group if budget(x) == longest[seed_of(x)]]


def _choose(data, model, configs: dict, cell_lines: list, tried: int) -> Cell:
    shared = set.intersection(*({seed_of(x) for x in group} for group in configs.values()))

    def on(group, seeds):
        return [x for x in group if seed_of(x) in seeds] if seeds else group

    key = min(configs, key=lambda k: statistics.fmean(x["best_valid"] for x in on(configs[k], shared)))
    chosen = configs[key]
    fresh = [x for x in chosen if seed_of(x) not in shared] if len(configs) > 1 else []
    figure_lines = sorted(fresh or chosen, key=lambda x: str(seed_of(x)))
    first = chosen[0]
    return Cell(data, model, first["trial"].get("config_id") or first["trial"].get("id"), first.get("metric"),
                first.get("params") or 0, figure_lines, cell_lines, tried,
                sorted(shared, key=str) if len(configs) > 1 else [])
