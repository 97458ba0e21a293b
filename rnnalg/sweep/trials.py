"""Trials: the expansion of a sweep file, each one `rnnalg train` command line.

    trials = models × datasets × specs × grid points × samples × seeds      (in this order)

A grid point picks one value from every list (sizes and flags, keys sorted); a sample draws
every random range once, from `SeedSequence([search_seed, grid index, sample])`, so sample k
of a grid point holds the same values for every model and dataset (a fair comparison).
Two samples that draw the same values (after rounding to 3 significant digits) are one trial.

A sweep has at most `MAX_TRIALS` trials: the count is worked out from the file before any
trial is made, so `samples = 100000000` is refused at once (also under `--dry-run`).
"""
from __future__ import annotations

import itertools
import math
import re
import shlex
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import SweepError
from .sweepfile import Random, SweepFile

MAX_TRIALS = 10_000  # each trial is a training run: more is a mistake, and would only fill memory

# flag -> its short form in trial ids
SHORT = {"lr": "lr", "weight_noise": "wn", "batch_size": "b", "steps": "T", "momentum": "mom",
         "clip": "clip", "init_scale": "is", "epochs": "ep", "time_limit": "tl"}


@dataclass(frozen=True)
class Trial:
    id: str  # unique in its sweep; names the run folder
    config_id: str  # the id without the seed: trials that differ only in the seed share it
    model: str  # the model's key
    label: str  # the model's name in tables
    dataset: str  # the --data value (a name, or an absolute path)
    dataset_label: str
    spec: str  # absolute path
    spec_shown: str  # relative to the folder the sweep ran in (sweepfile.command_path)
    sizes: dict
    flags: dict  # train flags (dest names) -> value, including seed
    data_dir: str | None = None
    dataset_shown: str | None = None  # a data file as spec_shown is; None: `dataset` (a name)

    def to_json(self) -> dict:
        return asdict(self)

    def definition(self) -> dict:
        """What makes the trial (not where its files are): a resumed sweep must keep it."""
        return {"id": self.id, "model": self.model, "dataset": self.dataset_label, "sizes": self.sizes,
                "flags": self.flags, "spec": self.spec_shown.replace("\\", "/").rsplit("/", 1)[-1]}

    @classmethod
    def from_json(cls, obj: dict) -> "Trial":
        return cls(**obj)

    def train_args(self, spec: str, data: str | None = None) -> list:
        """The `rnnalg train` arguments of this trial (without run folder and output flags);
        `data`: the --data value (default `dataset`)."""
        args = [spec, "--data", data or self.dataset]
        for name, value in sorted(self.sizes.items()):
            args += ["--set", f"{name}={value}"]
        for flag, value in self.flags.items():
            option = "--" + flag.replace("_", "-")
            if value is True:
                args.append(option)
            elif value is not False:
                args += [option, str(value)]
        return args

    def command(self) -> str:
        """The equivalent shell command, run in the folder the sweep ran in: its spec and data
        file as the sweep file gives them, relative to that folder (sweepfile.command_path)."""
        return shlex.join(["rnnalg", "train", *self.train_args(self.spec_shown, self.dataset_shown)])


def count_trials(sweep: SweepFile) -> int:
    """How many trials `expand` gives at most (samples that draw the same values are one),
    computed from the file without making them."""
    total = 0
    for model in sweep.models:
        for _, dataset_label in sweep.datasets:
            flags = {**sweep.train, **sweep.data.get(dataset_label, {}), **model.train}
            points = math.prod(len(v) for v in [*model.sizes.values(), *flags.values()] if isinstance(v, list))
            samples = sweep.samples if any(isinstance(v, Random) for v in flags.values()) else 1
            total += len(model.specs) * points * samples * len(sweep.seeds)
    return total


def check_count(sweep: SweepFile) -> int:
    """The trial count, or a SweepError naming the file when it passes MAX_TRIALS."""
    total = count_trials(sweep)
    if total > MAX_TRIALS:
        where = "sweep.samples" if sweep.samples > MAX_TRIALS else "sweep"
        raise SweepError(sweep.path, f"the file gives {total:,} trials (models × datasets × specs × grid "
                                     f"points × samples × seeds; samples = {sweep.samples:,}, seeds = "
                                     f"{len(sweep.seeds)}); a sweep runs at most {MAX_TRIALS:,}: "
                                     f"split it into several files", where=where)
    return total


def expand(sweep: SweepFile, data_dir: str | None = None) -> list:
    """The trials of a sweep file, in a fixed order, with unique ids (at most MAX_TRIALS)."""
    check_count(sweep)
    trials = []
    for model in sweep.models:
        for dataset, dataset_label in sweep.datasets:
            flags = {**sweep.train, **sweep.data.get(dataset_label, {}), **model.train}
            trials += _model_trials(sweep, model, dataset, dataset_label, flags, data_dir)
    ids = [t.id for t in trials]
    assert len(set(ids)) == len(ids), "trial ids must be unique"
    return trials


def _model_trials(sweep, model, dataset, dataset_label, flags, data_dir):
    axes = {**{f"set.{k}": v for k, v in model.sizes.items() if isinstance(v, list)},
            **{k: v for k, v in flags.items() if isinstance(v, list)}}
    keys = sorted(axes)
    randoms = sorted(k for k, v in flags.items() if isinstance(v, Random))
    made = set()
    for spec_index, (spec, shown) in enumerate(model.specs):
        for grid_index, point in enumerate(itertools.product(*(axes[k] for k in keys))):
            chosen = dict(zip(keys, point))
            for sample in range(sweep.samples if randoms else 1):
                rng = np.random.default_rng(np.random.SeedSequence([sweep.search_seed, grid_index, sample]))
                drawn = {k: flags[k].draw(rng) for k in randoms}
                sizes = {k: chosen.get(f"set.{k}", v) for k, v in model.sizes.items()}
                fixed = {k: chosen.get(k, drawn.get(k, v)) for k, v in flags.items()}
                parts = [model.name, dataset_label]
                if len(model.specs) > 1:
                    parts.append(re.sub(r"\.rnn$", "", shown.rsplit("/", 1)[-1]))
                parts += [_short(k, chosen[k]) for k in keys] + [_short(k, drawn[k]) for k in randoms]
                config_id = _slug("-".join(parts))
                if config_id in made:  # two samples drew the same (rounded) values: run it once
                    continue
                made.add(config_id)
                for seed in sweep.seeds:
                    yield Trial(id=f"{config_id}-s{seed}", config_id=config_id, model=model.name,
                                label=model.label, dataset=dataset, dataset_label=dataset_label,
                                spec=spec, spec_shown=shown, sizes=sizes,
                                flags={**fixed, "seed": seed},
                                data_dir=str(data_dir) if data_dir else None,
                                dataset_shown=sweep.command_paths.get(dataset))


def _short(key: str, value) -> str:
    if key.startswith("set."):
        return f"{key[4:]}{value}"
    return f"{SHORT.get(key, key)}{value}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def check_specs(trials: list, sweep_path=None) -> dict:
    """Each trial's checked program (`rnnalg.check` of its spec at its sizes; each (spec, sizes)
    checked once; a spec error stops the sweep here).

    A `set` size the spec does not define is a SweepError naming the sweep file and the key
    (`music.toml: model.rnn.set.Q: …`)."""
    from .. import check, load

    programs, cache = {}, {}
    for t in trials:
        key = (t.spec, tuple(sorted(t.sizes.items())))
        if key not in cache:
            spec = load(t.spec)
            defined = list(dict.fromkeys(let.name for let in spec.lets))
            for name in t.sizes:
                if name not in defined and sweep_path is not None:
                    raise SweepError(sweep_path, f"unknown size '{name}': {t.spec_shown} defines "
                                                 f"{', '.join(defined) or 'no sizes'}",
                                     where=f"model.{t.model}.set.{name}")
            cache[key] = check(spec, dict(t.sizes))
        programs[t.id] = cache[key]
    return programs


def load_params(trials: list, sweep_path=None) -> dict:
    """Each trial's parameter count, from its checked spec (see check_specs)."""
    return {tid: program.param_count for tid, program in check_specs(trials, sweep_path).items()}


def spec_fingerprints(programs: dict) -> dict:
    """trial id -> the sha256 of its checked program (`train.checkpoint.program_fingerprint`: the
    structure at the trial's sizes, not the spec's file name, folder or formatting), for its
    results line's `spec_fingerprint` (collect.py tells two lines of one trial apart by it)."""
    from ..train.checkpoint import program_fingerprint

    digests = {}  # id(program) -> its fingerprint: the trials of one (spec, sizes) share the program
    for program in programs.values():
        if id(program) not in digests:
            digests[id(program)] = program_fingerprint(program)
    return {tid: digests[id(program)] for tid, program in programs.items()}
