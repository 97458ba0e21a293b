"""The training loop (DESIGN §3): minibatch SGD-momentum or Adam with the paper's schedule.

One update, for a batch with targets y and noise ε:

    θ̃ = θ + σ·ε  on weights and embeddings (weight noise; biases stay clean)
    loss, g = model.loss_and_grad(θ̃, batch, state, dropout masks)   # g is taken at θ̃
    g ← g · min(1, c / ‖g‖)                                           # global-norm clipping
    θ ← optimiser(θ, g)                                               # applied to the clean θ

After each epoch the whole validation split is evaluated (dropout off).  When it has not
improved for `patience` epochs, the learning rate is halved and the best parameters are
reloaded (optimiser state reset); after `halvings` halvings the next plateau stops the run.

Everything that decides the future of a run lives in `RunState` + three RNG streams
(init, data order, noise), all derived from `--seed`; a checkpoint stores them, so a
resumed run continues bit for bit as if it had never stopped, even mid-epoch.  Ctrl-C
(SIGINT) and SIGTERM (schedulers, `timeout`) both finish the current batch, save and stop.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np

from .. import __version__
from ..errors import CheckpointError, TrainingError
from . import checkpoint as ckpt
from .config import TrainConfig
from .feed import (METRIC_LABELS, UNIT_PLURALS, batches, carried_state, count_batches, evaluate_split,
                   model_batch, output_bias)
from .monitor import Monitor, curve_title
from .optim import OPTIMIZERS, clip_by_global_norm
from .signals import signals_ask_to_stop


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


def _is_history(v) -> bool:
    keys = {"epoch": ckpt.is_int, "batches": ckpt.is_int, "train_loss": ckpt.is_number,
            "valid": ckpt.is_number, "lr": ckpt.is_number}
    return isinstance(v, list) and all(isinstance(r, dict) and all(k in r and ok(r[k]) for k, ok in keys.items())
                                       for r in v)


# the JSON records a checkpoint must hold to resume a run (checkpoint.load(records=...))
CHECKPOINT_RECORDS = {
    "config": ckpt.record_schema(TrainConfig, optional=("min_count",)),  # not in 0.1.0 checkpoints
    "run": ckpt.record_schema(RunState, optional=("changes",),  # not in checkpoints of rnnalg 0.1.0
                              history=(_is_history, "a list of per-epoch objects with epoch, batches, "
                                                    "train_loss, valid and lr")),
}


def seeded_rngs(seed: int) -> dict:
    """Three independent streams from one seed: 'init', 'data' (order), 'noise'."""
    children = np.random.SeedSequence(seed).spawn(3)
    return {name: np.random.default_rng(s) for name, s in zip(("init", "data", "noise"), children)}


def add_weight_noise(params: dict, roles: dict, sigma: float, rng) -> dict:
    """θ + σ·N(0, 1) on 'weight' and 'embedding' parameters, biases unchanged."""
    noisy = {}
    for name, p in params.items():
        if roles[name] in ("weight", "embedding"):
            noisy[name] = p + (sigma * rng.standard_normal(p.shape)).astype(p.dtype)
        else:
            noisy[name] = p
    return noisy


def _all_finite(arrays) -> bool:
    return all(np.all(np.isfinite(a)) for a in arrays)


def _check_arrays(source, prefix: str, got: dict, like: dict) -> None:
    """CheckpointError unless `got` has exactly the keys of `like`, with the same shapes."""
    for key in sorted(set(like) | set(got)):
        if key not in got or key not in like or got[key].shape != like[key].shape:
            expected = f"shape {like[key].shape}" if key in like else "no such array"
            found = f"shape {got[key].shape}" if key in got else "missing"
            raise CheckpointError(source, f"array '{prefix}/{key}': {found}, expected {expected}")


class Trainer:
    """Owns one run: its model, data, state and run directory."""

    def __init__(self, model, dataset, config: TrainConfig, run_dir, quiet=False, out=None, err=None,
                 on_epoch=None):
        """`on_epoch(record)` is called after each epoch (saved, metrics written) with its
        metrics.jsonl record; returning True stops the run there ('stopped by caller')."""
        from ..data import metric_for

        self.model, self.dataset, self.config = model, dataset, config
        self.run_dir = run_dir
        self.metric_name, self.metric_fn = metric_for(dataset)
        self.monitor = Monitor(run_dir, METRIC_LABELS.get(self.metric_name, self.metric_name),
                               UNIT_PLURALS.get(dataset.unit, "steps"), quiet, out, err,
                               to_metric=lambda mean_nll: self.metric_fn(mean_nll, 1),
                               title=curve_title(model, dataset))
        self.init_opt, self.update_opt, _ = OPTIMIZERS[config.optimizer]
        self.on_epoch = on_epoch
        self.stop_request = None  # a stop reason, set by _ask_stop (signals) or by on_epoch

    # ------------------------------------------------------------------ fresh / restore

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

    def restore(self, arrays: dict, meta: dict, source="checkpoint") -> None:
        """Continue the run saved in (`arrays`, `meta`), as `checkpoint.load` returned them with
        `records=CHECKPOINT_RECORDS`; a missing or misshapen array is a CheckpointError naming
        `source` (the .npz file)."""
        self.params = ckpt.split_prefix(arrays, "param")
        self.opt_state = ckpt.split_prefix(arrays, "opt")
        best = ckpt.split_prefix(arrays, "best")
        self.best_params = best or None
        _check_arrays(source, "opt", self.opt_state, self.init_opt(self.params))
        if self.best_params is not None:
            _check_arrays(source, "best", self.best_params, self.params)
        for name in ("rng/data", "rng/noise"):
            if arrays.get(name, np.zeros(0)).shape != (6,) or arrays[name].dtype != np.uint64:
                raise CheckpointError(source, f"array {name!r} is missing or is not 6 uint64 words")
        self.data_rng_start = arrays["rng/data"]
        self.noise_rng = ckpt.rng_from_array(arrays["rng/noise"])
        run = meta["run"]
        self.state = RunState(**{f.name: run[f.name] for f in dataclasses.fields(RunState) if f.name in run})
        carry = ckpt.split_prefix(arrays, "carry")
        if carry or self.state.batch > 0:  # mid-epoch: the (B, width) state of each state of the spec
            rows = next(iter(carry.values())).shape[:1] if carry else (0,)
            _check_arrays(source, "carry", carry, {s.prev.name: np.zeros(rows + (s.prev.width,))
                                                   for s in self.model.program.states})
        self.carry = carry or None

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
                "backend": getattr(self.model, "backend", None),  # None: a model object without one
                "vocab": None if self.dataset.vocab is None else list(self.dataset.vocab)}
        ckpt.save(self.run_dir, tag, arrays, meta, self.model.program)

    # ----------------------------------------------------------------------- training

    def run(self) -> str:
        """Train until the epoch budget, the schedule, the time limit or Ctrl-C stops it.

        Returns the reason: 'epochs', 'early stop', 'time limit', 'interrupted' (SIGINT),
        'terminated' (SIGTERM) or 'stopped by caller' (on_epoch returned True).
        """
        c, s = self.config, self.state
        self.deadline = None if c.time_limit is None else time.monotonic() + c.time_limit
        with signals_ask_to_stop(self._ask_stop):
            while s.stopped is None and s.epoch < c.epochs:
                reason = self._pending_stop() or self._train_epoch()
                if reason:
                    self.save("last")
                    self.monitor.plot(s.history)
                    return reason
                self._end_epoch()
        self.monitor.plot(s.history)
        return s.stopped or "epochs"

    def _pending_stop(self):
        """A stop asked for (a signal, on_epoch) or due (time limit)."""
        if self.stop_request:
            return self.stop_request
        if self.deadline is not None and time.monotonic() > self.deadline:
            return "time limit"
        return None

    def _train_epoch(self):
        """Run the rest of the current epoch; returns a stop reason or None when it finished."""
        c, s = self.config, self.state
        data_rng = ckpt.rng_from_array(self.data_rng_start)
        total = count_batches(self.dataset, "train", c.batch_size, c.steps,
                              ckpt.rng_from_array(self.data_rng_start))
        bar = self.monitor.bar(s.epoch + 1, total, done=s.batch)
        started = time.monotonic() - s.part_seconds
        try:
            for index, batch in enumerate(batches(self.dataset, "train", c.batch_size, c.steps, data_rng)):
                if index < s.batch:  # already done before a mid-epoch checkpoint
                    continue
                loss = self._update(batch)
                s.batch, s.step = index + 1, s.step + 1
                s.part_loss += loss * batch.count
                s.part_count += batch.count
                s.part_seconds = time.monotonic() - started
                self.monitor.batch_postfix(bar, s.part_loss / max(1, s.part_count),
                                           s.part_count / max(s.part_seconds, 1e-9))
                bar.update(1)
                reason = self._pending_stop()
                if reason:
                    return reason
        finally:
            bar.close()
        self.data_rng_start = ckpt.rng_to_array(data_rng)
        return None

    def _update(self, batch) -> float:
        c, s = self.config, self.state
        mb = model_batch(self.model.program, batch)
        state = carried_state(batch, self.carry)
        T, B = batch.mask.shape
        noise = self.model.draw_noise(self.noise_rng, T, B) if self.model.has_dropout else None
        used = self.params
        if c.weight_noise > 0:
            used = add_weight_noise(self.params, self.model.param_roles, c.weight_noise, self.noise_rng)
        loss, grads, final_state = self.model.loss_and_grad(used, mb, state=state, noise=noise)
        where = f"epoch {s.epoch + 1}, step {s.step + 1}"
        if not np.isfinite(loss):
            self._fail(f"the training loss became {float(loss)} at {where}")
        grads, norm = clip_by_global_norm(grads, c.clip)
        if not np.isfinite(norm):
            bad = next(k for k, g in grads.items() if not _all_finite([g]))
            self._fail(f"the gradient of {bad} holds NaN or Inf at {where}")
        self.params, self.opt_state = self.update_opt(self.params, grads, self.opt_state, s.lr,
                                                      momentum=c.momentum, nesterov=c.nesterov)
        self.carry = final_state
        return float(loss)

    def _fail(self, message: str):
        kept = self.run_dir / "last.json"
        hint = (f"the last good checkpoint is kept in {kept}" if kept.exists()
                else "no checkpoint had been written yet")
        clip = (f"a smaller --clip than {self.config.clip:g}" if self.config.clip > 0
                else "--clip 1 (clipping is off)")
        raise TrainingError(f"error: {message}; {hint}. Try a smaller --lr than {self.state.lr:g}, or {clip}.")

    def _end_epoch(self) -> None:
        c, s = self.config, self.state
        nll, count = evaluate_split(self.model, self.params, self.dataset, "valid", c.eval_batch_size, c.steps)
        valid = self.metric_fn(nll, count)
        if not np.isfinite(nll):
            self._fail(f"the validation NLL became {nll} after epoch {s.epoch + 1}")
        s.epoch += 1
        record = {"epoch": s.epoch, "step": s.step, "train_loss": s.part_loss / max(1, s.part_count),
                  "valid": valid, "metric": self.metric_name, "lr": s.lr,
                  "seconds": round(s.part_seconds, 3), "rate": s.part_count / max(s.part_seconds, 1e-9),
                  "rate_unit": f"{self.monitor.units}/s",
                  "batches": s.batch}
        improved = valid < s.best_valid
        self.monitor.epoch_line(record, c.epochs, improved)
        if improved:
            s.best_valid, s.best_epoch, s.bad_epochs = valid, s.epoch, 0
            self.best_params = {k: v.copy() for k, v in self.params.items()}
        else:
            s.bad_epochs += 1
            if s.bad_epochs >= c.patience:
                self._plateau()
        s.history.append(record)
        s.batch, s.part_loss, s.part_count, s.part_seconds = 0, 0.0, 0, 0.0
        self.carry = None
        if improved:
            self.save("best")
        self.save("last")
        self.monitor.write_metrics(s.history)
        if s.epoch % 10 == 0:
            self.monitor.plot(s.history)
        if self.on_epoch is not None and self.on_epoch(dict(record)) is True:
            self.stop_request = "stopped by caller"

    def _plateau(self) -> None:
        """Validation stalled: halve the lr and go back to the best parameters, or stop."""
        s = self.state
        s.bad_epochs = 0
        if s.halvings >= self.config.halvings:
            s.stopped = "early stop"
            self.monitor.say(f"validation has not improved for {self.config.patience} epochs "
                             f"after {s.halvings} lr halvings: stopping")
            return
        s.halvings += 1
        s.lr /= 2
        self.params = {k: v.copy() for k, v in self.best_params.items()}
        self.opt_state = self.init_opt(self.params)
        self.monitor.say(f"validation stalled: lr halved to {s.lr:.3g}, best parameters "
                         f"(epoch {s.best_epoch}) reloaded")

    def _ask_stop(self, reason: str) -> None:
        """A SIGINT / SIGTERM arrived (signals.py): stop once this batch is done."""
        self.stop_request = reason
        again = "Ctrl-C" if reason == "interrupted" else "a second signal"
        self.monitor.note(f"\n{reason}: finishing this batch and saving ({again} aborts without saving)")

    # ---------------------------------------------------------------------- final test

    def final_params(self) -> dict:
        return self.best_params if self.best_params is not None else self.params

    def evaluate(self, split: str, params=None):
        """(metric, nll_sum, count) of `params` (default: the best ones) on a split."""
        c = self.config
        nll, count = evaluate_split(self.model, params or self.final_params(), self.dataset, split,
                                    c.eval_batch_size, c.steps)
        return self.metric_fn(nll, count), nll, count

