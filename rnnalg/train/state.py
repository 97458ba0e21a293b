"""What a run remembers: everything that decides its future, started afresh, restored, saved.

    RunState            the scalar part: epoch, step, lr, schedule, history (checkpoint JSON)
    seeded_rngs(seed)   the three RNG streams (init, data order, noise), all from `--seed`
    RunMemory           start_fresh / restore / apply_changes / save of a run's arrays and state
    CHECKPOINT_RECORDS  the JSON records a checkpoint must hold to resume (checkpoint.load)

A checkpoint holds the parameters, the optimiser state, the best parameters, the state carried
between the batches of an unfinished epoch, the data RNG at the epoch's start and the noise
RNG, with RunState and the configuration: a resumed run continues bit for bit, even mid-epoch.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import CheckpointError
from . import checkpoint as ckpt
from .config import TrainConfig
from .feed import carried_rows, count_batches, output_bias
from .numerics import environment


@dataclass
class RunState:
    """The scalar part of a run (saved in the checkpoint JSON)."""

    lr: float
    epoch: int = 0  # finished epochs
    step: int = 0  # updates taken
    batch: int = 0  # batches done in the unfinished epoch
    bad_epochs: int = 0
    halvings: int = 0
    best_valid: float = math.inf
    best_epoch: int = 0
    stopped: str | None = None  # 'early stop' once the schedule ends the run
    history: list = field(default_factory=list)
    part_loss: float = 0.0  # sum of loss·count over the unfinished epoch
    part_count: int = 0
    part_seconds: float = 0.0
    changes: list = field(default_factory=list)  # settings changed on resume: {epoch, step, field, from, to}


COUNTS = ("epoch", "step", "batch", "bad_epochs", "halvings", "best_epoch", "part_count")  # of RunState


def _count(v) -> bool:
    return ckpt.is_int(v) and v >= 0


def _finite(v) -> bool:
    return ckpt.is_number(v) and math.isfinite(v)


def _is_history(v) -> bool:
    keys = {"epoch": ckpt.is_int, "batches": ckpt.is_int, "train_loss": ckpt.is_number,
            "valid": ckpt.is_number, "lr": ckpt.is_number}
    return isinstance(v, list) and all(isinstance(r, dict) and all(k in r and ok(r[k]) for k, ok in keys.items())
                                       for r in v)


# the JSON records a checkpoint must hold to resume a run (checkpoint.load(records=...))
CHECKPOINT_RECORDS = {
    "config": ckpt.record_schema(TrainConfig, optional=("min_count", "threads")),  # not in older checkpoints
    "run": ckpt.record_schema(RunState, optional=("changes",),  # not in checkpoints of rnnalg 0.1.0
                              history=(_is_history, "a list of per-epoch objects with epoch, batches, "
                                                    "train_loss, valid and lr"),
                              lr=(lambda v: _finite(v) and v > 0, "a finite number > 0"),
                              best_valid=(lambda v: ckpt.is_number(v) and not math.isnan(v), "a number"),
                              part_loss=(_finite, "a finite number"), part_seconds=(_finite, "a finite number"),
                              **{name: (_count, "an integer >= 0") for name in COUNTS}),
}


def seeded_rngs(seed: int) -> dict:
    """Three independent streams from one seed: 'init', 'data' (order), 'noise'."""
    children = np.random.SeedSequence(seed).spawn(3)
    return {name: np.random.default_rng(s) for name, s in zip(("init", "data", "noise"), children)}


def check_arrays(source, prefix: str, got: dict, like: dict, same_dtype: bool = True) -> None:
    """CheckpointError unless `got` has exactly the keys of `like`, with the same shapes and
    dtypes (`same_dtype`; else any floating dtype), and no NaN or Inf."""
    for key in sorted(set(like) | set(got)):
        if key not in got or key not in like or got[key].shape != like[key].shape:
            expected = f"shape {like[key].shape}" if key in like else "no such array"
            found = f"shape {got[key].shape}" if key in got else "missing"
            raise CheckpointError(source, f"array '{prefix}/{key}': {found}, expected {expected}")
        dtype = got[key].dtype
        if dtype != like[key].dtype if same_dtype else dtype.kind != "f":
            raise CheckpointError(source, f"array '{prefix}/{key}' holds {dtype} values, expected "
                                          f"{like[key].dtype if same_dtype else 'floating-point ones'}")
        if dtype.kind == "f" and not np.all(np.isfinite(got[key])):
            raise CheckpointError(source, f"array '{prefix}/{key}' holds NaN or Inf")


class RunMemory:
    """The arrays and state of one run (a base of `Trainer`, which sets model, dataset, config,
    run_dir, init_opt and metric_name): params, opt_state, best_params, carry, data_rng_start,
    noise_rng and state."""

    def start_fresh(self) -> None:
        c = self.config
        rngs = seeded_rngs(c.seed)
        self.params = self.model.init_params(rngs["init"], scheme=c.init, scale=c.init_scale)
        start = output_bias(self.model.program, self.dataset) if c.output_bias else None
        if start is not None:
            name, value = start
            self.params[name] = value.astype(self.params[name].dtype)
        self.opt_state = self.init_opt(self.params)
        self.best_params = None
        self.data_rng_start = ckpt.rng_to_array(rngs["data"])  # data RNG at the epoch's start
        self.noise_rng = rngs["noise"]
        self.carry = None
        self.state = RunState(lr=c.lr)

    def restore(self, arrays: dict, meta: dict, source="checkpoint", meta_source="checkpoint") -> None:
        """Continue the run saved in (`arrays`, `meta`), as `checkpoint.load` returned them with
        `records=CHECKPOINT_RECORDS`; a missing, misshapen, mistyped or non-finite array is a
        CheckpointError naming `source` (the .npz file), one missing where `run.batch` says the
        next batch continues it naming that field too, a `run.batch` past the epoch's batch count
        one naming `meta_source` (the JSON file).  It writes nothing: a caller restores
        before it prepares the run directory."""
        self.params = ckpt.split_prefix(arrays, "param")
        self.opt_state = ckpt.split_prefix(arrays, "opt")
        best = ckpt.split_prefix(arrays, "best")
        self.best_params = best or None
        check_arrays(source, "opt", self.opt_state, self.init_opt(self.params))
        if self.best_params is not None:
            check_arrays(source, "best", self.best_params, self.params)
        for name in ("rng/data", "rng/noise"):
            if arrays.get(name, np.zeros(0)).shape != (6,) or arrays[name].dtype != np.uint64:
                raise CheckpointError(source, f"array {name!r} is missing or is not 6 uint64 words")
        self.data_rng_start = arrays["rng/data"]
        self.noise_rng = ckpt.rng_from_array(arrays["rng/noise"])
        run = meta["run"]
        self.state = RunState(**{f.name: run[f.name] for f in dataclasses.fields(RunState) if f.name in run})
        carry = ckpt.split_prefix(arrays, "carry")
        rows = self._carried_rows(meta_source)
        if rows is not None and not carry and self.model.program.states:
            raise CheckpointError(source, self._missing_carry(rows, meta_source))
        if carry:  # mid-epoch: the (B, width) state of each state of the spec
            rows = rows or next(iter(carry.values())).shape[0]
            check_arrays(source, "carry", carry, {s.prev.name: np.zeros((rows, s.prev.width))
                                                   for s in self.model.program.states}, same_dtype=False)
        self.carry = carry or None

    def _missing_carry(self, rows: int, meta_source) -> str:
        """Why a checkpoint without carried state cannot continue: the JSON field that says the next
        batch continues the state of the one before it (a hand edit of either file)."""
        first = min((s.prev for s in self.model.program.states), key=lambda prev: prev.name)  # as check_arrays
        done = self.state.batch
        return (f"array 'carry/{first.name}': missing, expected shape {(rows, first.width)}: the checkpoint "
                f"field run.batch is {done} in {Path(str(meta_source)).name}, so batch {done + 1} of the epoch "
                f"continues the state batch {done} left")

    def _carried_rows(self, meta_source):
        """The rows B of the state the next batch continues (None: it starts afresh).  `run.batch`
        (batches done in the unfinished epoch) past the epoch's batch count is a CheckpointError
        naming the JSON file and the field (a hand edit, which the carried state's check would
        blame on the arrays file)."""
        c, done = self.config, self.state.batch
        args = (self.dataset, "train", c.batch_size, c.steps)
        total = count_batches(*args, ckpt.rng_from_array(self.data_rng_start))
        if done > total:
            raise CheckpointError(meta_source, f"checkpoint field run.batch is {done}; it must be from 0 to "
                                               f"{total}, the batches of an epoch of this run")
        return carried_rows(*args, ckpt.rng_from_array(self.data_rng_start), done)

    def apply_changes(self, changes: dict) -> None:
        """Record settings changed on resume ({field: (recorded, new)}, already in the config);
        a new lr replaces the current (possibly halved) one from the next update on."""
        s = self.state
        for name, (old, new) in changes.items():
            if name == "lr":
                old, s.lr = s.lr, new
            s.changes.append({"epoch": s.epoch, "step": s.step, "field": name, "from": old, "to": new})

    # ---------------------------------------------------------------------- checkpoints

    def save(self, tag: str = "last") -> None:
        if tag == "best":
            arrays = ckpt.with_prefix("param", self.best_params)
        else:
            arrays = {**ckpt.with_prefix("param", self.params), **ckpt.with_prefix("opt", self.opt_state),
                      **ckpt.with_prefix("best", self.best_params or {}),
                      **ckpt.with_prefix("carry", self.carry or {}),
                      "rng/data": self.data_rng_start, "rng/noise": ckpt.rng_to_array(self.noise_rng)}
        meta = {"tag": tag, "config": self.config.to_json(), "run": dataclasses.asdict(self.state),
                "metric": self.metric_name, "dataset_unit": self.dataset.unit, "rnnalg": __version__,
                **environment(getattr(self.model, "backend", None)),  # backend None: a model without one
                "vocab": None if self.dataset.vocab is None else list(self.dataset.vocab)}
        ckpt.save(self.run_dir, tag, arrays, meta, self.model.program)
