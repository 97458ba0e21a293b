"""The training loop (DESIGN §3): minibatch SGD-momentum or Adam with the paper's schedule.

One update, for a batch with targets y and noise ε:

    θ̃ = θ + σ·ε  on weights and embeddings (weight noise; biases stay clean)
    loss, g = model.loss_and_grad(θ̃, batch, state, dropout masks)   # g is taken at θ̃
    g ← g · min(1, c / ‖g‖)                                           # global-norm clipping
        (a float32 g that overflowed in BPTT is taken again in float64, then clipped)
    θ ← optimiser(θ, g)                                               # applied to the clean θ

After each epoch the whole validation split is evaluated (dropout off).  When it has not
improved for `patience` epochs, the learning rate is halved and the best parameters are
reloaded (optimiser state reset); after `halvings` halvings the next plateau stops the run.

What the run remembers (its state, RNG streams, checkpoints) is `state.RunMemory`, which a
Trainer is; a resumed run continues bit for bit as if it had never stopped, even mid-epoch.
Ctrl-C (SIGINT) and SIGTERM (schedulers, `timeout`) both finish the current batch, save and stop.
"""
from __future__ import annotations

import time

import numpy as np

from ..errors import TrainingError
from . import checkpoint as ckpt
from .config import TrainConfig
from .feed import METRIC_LABELS, UNIT_PLURALS, batches, carried_state, count_batches, evaluate_split, model_batch
from .flatstep import DictStep, FlatStep, add_weight_noise
from .monitor import Monitor, curve_title
from .optim import OPTIMIZERS, clip_by_global_norm
from .signals import signals_ask_to_stop
from .state import CHECKPOINT_RECORDS, RunMemory, RunState, seeded_rngs

__all__ = ["Trainer", "add_weight_noise", "CHECKPOINT_RECORDS", "RunState", "seeded_rngs"]


def _all_finite(arrays) -> bool:
    return all(np.all(np.isfinite(a)) for a in arrays)


class Trainer(RunMemory):
    """Owns one run: its model, data, state (RunMemory) and run directory; `run` trains it."""

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
        self._wide_model = None  # the float64 twin of a float32 model, built at the first overflow
        self._said_float64 = False
        self._flat = None  # the FlatStep holding self.params and self.opt_state, made at the first update

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
        step = self._step()
        used = step.add_weight_noise(c.weight_noise, self.noise_rng) if c.weight_noise > 0 else step.params
        loss, grads, final_state = self.model.loss_and_grad(used, mb, state=state, noise=noise)
        where = f"epoch {s.epoch + 1}, step {s.step + 1}"
        if not np.isfinite(loss):
            self._fail(f"the training loss became {float(loss)} at {where}"
                       + self._loss_in_float64(used, mb, state, noise, T))
        grads, norm = step.clip_gradients(grads, c.clip)
        if not np.isfinite(norm):
            grads, norm = self._gradient_in_float64(used, mb, state, noise, where, T) or (grads, norm)
        if not np.isfinite(norm):
            bad = next(k for k, g in grads.items() if not _all_finite([g]))
            self._fail(f"the gradient of {bad} holds NaN or Inf at {where} (BPTT over {T} steps"
                       + ("; --steps truncates it" if c.steps is None else "") + ")")
        step.optimiser_step(grads, s.lr, momentum=c.momentum, nesterov=c.nesterov)
        self.params, self.opt_state = step.params, step.opt_state  # a FlatStep's: the same views
        self.carry = final_state
        return float(loss)

    def _step(self):
        """What runs this update's weight noise, clipping and optimiser step on self.params and
        self.opt_state: the FlatStep (flat buffers, in place) where one can be made, else a
        DictStep (optim.py's dict functions, new arrays); the same numbers either way."""
        return self._flat_step() or DictStep(self.params, self.opt_state, self.model.param_roles, self.update_opt)

    def _flat_step(self):
        """The FlatStep whose views are self.params and self.opt_state (made anew, from copies,
        when a restore, a plateau or a caller replaced them), or None where the dict functions
        must run (an optimiser not in optim.py, mixed dtypes: FlatStep.of)."""
        if self._flat is None or not self._flat.linked(self.params, self.opt_state):
            fast = getattr(self.model, "backend", None) == "fast"  # numba loaded already: its kernels too
            self._flat = FlatStep.of(self.params, self.opt_state, self.model.param_roles, self.update_opt, fast)
            if self._flat is not None:
                self.params, self.opt_state = self._flat.params, self._flat.opt_state
        return self._flat

    def _gradient_in_float64(self, used, mb, state, noise, where, steps):
        """(clipped grads, ‖g‖) taken again in float64, or None where that cannot help.

        A float32 BPTT gradient overflows (|g| > 3.4e38) where the product of the step
        Jacobians ∂h_t/∂h_{t-1} grows past it: over thousands of steps (whole Piano-midi.de
        pieces, ×1.03 a step) or a few silent frames at zero state under layer norm (σ² = 0,
        r = 1/√ε: ×1e4 a step).  The gradient is finite in float64 (up to 1e308), and clipping
        makes it g·c/‖g‖, which float32 holds: so the update is the clipped exact gradient.
        Without clipping, or for a float64 model or one that cannot be recompiled, None."""
        c = self.config
        if not c.clip or c.clip <= 0 or getattr(self.model, "dtype", None) != np.float32:
            return None
        _, grads = self._in_float64(used, mb, state, noise)
        grads, norm = clip_by_global_norm(grads, c.clip)
        if not np.isfinite(norm):
            return None
        if not self._said_float64:
            self._said_float64 = True
            self.monitor.note(f"note: at {where} the float32 gradient overflowed (BPTT over "
                              f"{steps} steps); it was taken again "
                              f"in float64 (norm {norm:.3g}) and clipped to {c.clip:g}; later "
                              f"overflows are handled alike without a note")
        return {k: g.astype(self.model.dtype) for k, g in grads.items()}, norm

    def _in_float64(self, used, mb, state, noise):
        """(loss, grads) of this batch again, in float64: the model recompiled once, kept."""
        if self._wide_model is None:
            from ..model import Model
            self._wide_model = Model(self.model.program, np.float64, self.model.backend)
        wide = {k: v.astype(np.float64) for k, v in used.items()}
        state64 = None if state is None else {k: v.astype(np.float64) for k, v in state.items()}
        noise64 = None if noise is None else {k: v.astype(np.float64) for k, v in noise.items()}
        loss, grads, _ = self._wide_model.loss_and_grad(wide, mb, state=state64, noise=noise64)
        return loss, grads

    def _loss_in_float64(self, used, mb, state, noise, steps) -> str:
        """What a non-finite float32 loss means, for the error: a loss finite in float64 is an
        overflow, the model's activations grown past float32's range (3.4e38) over the batch's
        steps — a diverged model, not a NaN in the data or the code."""
        if getattr(self.model, "dtype", None) != np.float32:
            return ""
        loss = float(self._in_float64(used, mb, state, noise)[0])
        if not np.isfinite(loss):
            return f" ({loss} in float64 too)"
        return (f" (in float64 it is {loss:.3g}: float32 overflowed, the model diverged and its "
                f"activations grew past float32's range over the batch's {steps} steps)")

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

