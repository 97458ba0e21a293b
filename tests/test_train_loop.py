"""The training loop with a closed-form fake model: determinism, resume, NaN, schedule."""
import io
import json
import os
import re
import signal

import numpy as np
import pytest

from rnnalg.data import Dataset
from rnnalg.errors import TrainingError
from rnnalg.train import checkpoint as ckpt
from rnnalg.train import trainer as trainer_mod
from rnnalg.train.config import TrainConfig, resolve
from rnnalg.train.feed import batches, carried_rows, count_batches
from rnnalg.train.trainer import Trainer, add_weight_noise
from test_train_fakes import FakeModel, small_jsb

DATA = small_jsb()


def _config(**kw):
    base = dict(epochs=3, batch_size=8, lr=0.05, weight_noise=0.01, seed=5, patience=2)
    return resolve(TrainConfig(**{**base, **kw}), "frame")


def _trainer(run_dir, model=None, **kw):
    run_dir.mkdir(exist_ok=True)
    return Trainer(model or FakeModel(), DATA, _config(**kw), run_dir, quiet=True)


def _fresh_run(run_dir, **kw):
    t = _trainer(run_dir, **kw)
    t.start_fresh()
    return t, t.run()


def _resumed(run_dir, **kw):
    arrays, meta = ckpt.load(run_dir, "last")
    t = _trainer(run_dir, **kw)
    t.restore(arrays, meta)
    return t, t.run()


def _same_arrays(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _strip_times(history):
    return [{k: v for k, v in r.items() if k not in ("seconds", "rate")} for r in history]


def test_same_seed_same_numbers(tmp_path):
    a, _ = _fresh_run(tmp_path / "a")
    b, _ = _fresh_run(tmp_path / "b")
    _same_arrays(a.params, b.params)
    c, _ = _fresh_run(tmp_path / "c", seed=6)
    assert not np.array_equal(a.params["y.W_x"], c.params["y.W_x"])


def test_training_lowers_validation_nll(tmp_path):
    t, reason = _fresh_run(tmp_path, epochs=4, weight_noise=0.0, lr=0.05)
    valid = [r["valid"] for r in t.state.history]
    assert reason == "epochs" and len(valid) == 4
    assert all(b < a for a, b in zip(valid, valid[1:]))  # 9.91, 9.54, 9.30, 9.15 nats per frame
    assert valid[-1] < 9.5


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_resume_after_two_epochs_equals_three_straight(tmp_path, optimizer):
    straight, _ = _fresh_run(tmp_path / "straight", optimizer=optimizer, lr=None)
    _fresh_run(tmp_path / "split", optimizer=optimizer, lr=None, epochs=2)
    resumed, _ = _resumed(tmp_path / "split", optimizer=optimizer, lr=None, epochs=3)
    _same_arrays(straight.params, resumed.params)
    _same_arrays(straight.opt_state, resumed.opt_state)
    _same_arrays(straight.best_params, resumed.best_params)
    assert _strip_times(straight.state.history) == _strip_times(resumed.state.history)
    lines = (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]


def test_resume_mid_epoch_equals_uninterrupted(tmp_path):
    straight, _ = _fresh_run(tmp_path / "straight", epochs=2)
    # Ctrl-C during the first batch of the second epoch: that batch finishes, then it saves
    t = _trainer(tmp_path / "split", epochs=2)
    t.start_fresh()
    original = t._update

    def update_then_stop(batch):
        if t.state.epoch == 1 and t.state.batch == 0:
            os.kill(os.getpid(), signal.SIGINT)
        return original(batch)

    t._update = update_then_stop
    assert t.run() == "interrupted"
    _, meta = ckpt.load(tmp_path / "split", "last")
    assert meta["run"]["epoch"] == 1 and meta["run"]["batch"] == 1
    resumed, reason = _resumed(tmp_path / "split", epochs=2)
    assert reason == "epochs"
    _same_arrays(straight.params, resumed.params)
    _same_arrays(straight.opt_state, resumed.opt_state)


def test_time_limit_saves_a_resumable_checkpoint(tmp_path):
    t, reason = _fresh_run(tmp_path / "limited", time_limit=1e-9, epochs=1)
    assert reason == "time limit"
    _, meta = ckpt.load(tmp_path / "limited", "last")
    assert meta["run"]["epoch"] == 0 and meta["run"]["step"] == 0
    resumed, reason = _resumed(tmp_path / "limited", epochs=1)
    straight, _ = _fresh_run(tmp_path / "straight", epochs=1)
    assert reason == "epochs"
    _same_arrays(straight.params, resumed.params)


def test_nan_loss_stops_with_training_error_and_keeps_last_good_checkpoint(tmp_path):
    batches_per_epoch = -(-len(DATA.splits["train"]) // 8)
    model = FakeModel(nan_at_call=batches_per_epoch + 2)  # second batch of epoch 2
    t = _trainer(tmp_path, model=model)
    t.start_fresh()
    with pytest.raises(TrainingError, match=rf"loss became nan at epoch 2, step {batches_per_epoch + 2}.*last\.json"):
        t.run()
    arrays, meta = ckpt.load(tmp_path, "last")
    assert meta["run"]["epoch"] == 1 and meta["run"]["batch"] == 0
    assert len(meta["run"]["history"]) == 1


def test_huge_learning_rate_gives_training_error(tmp_path):
    class Exploding(FakeModel):  # gradients that overflow float32 once the weights grow
        def loss_and_grad(self, params, batch, state=None, noise=None):
            loss, grads, s = super().loss_and_grad(params, batch, state, noise)
            scale = np.float32(1e30) * (1 + np.abs(params["y.b"]).max())
            return loss, {k: g * scale for k, g in grads.items()}, s

    t = _trainer(tmp_path, model=Exploding(), optimizer="sgd", lr=1e10, clip=0.0, epochs=2)
    t.start_fresh()
    with pytest.raises(TrainingError, match="NaN or Inf|loss became"), np.errstate(all="ignore"):
        t.run()


def test_plateau_halves_lr_reloads_best_then_stops(tmp_path, monkeypatch):
    script = iter([5.0, 4.0, 4.5, 4.6, 4.7, 4.8, 4.9, 5.0, 5.1, 5.2])
    monkeypatch.setattr(trainer_mod, "evaluate_split", lambda *a, **k: (next(script), 1))
    t = _trainer(tmp_path, epochs=10, patience=2, halvings=1, lr=0.1, weight_noise=0.0)
    t.start_fresh()
    plateaus, original = [], t._plateau

    def spy():  # what the parameters and the optimiser hold just before and after a plateau
        before = {k: v.copy() for k, v in t.params.items()}
        best, _ = ckpt.load(tmp_path, "best")
        original()
        plateaus.append((before, ckpt.split_prefix(best, "param"), dict(t.params), dict(t.opt_state)))

    t._plateau = spy
    t.run()
    lrs = [r["lr"] for r in t.state.history]
    # best at epoch 2; epochs 3, 4 stall -> halve (lr of later epochs 0.05); 5, 6 stall -> stop
    assert lrs == [0.1, 0.1, 0.1, 0.1, 0.05, 0.05]
    assert t.state.stopped == "early stop" and t.state.best_epoch == 2 and t.state.halvings == 1
    best, _ = ckpt.load(tmp_path, "best")
    np.testing.assert_array_equal(best["param/y.W_x"], t.best_params["y.W_x"])
    # the halving (after epoch 4) went back to the epoch-2 parameters and a fresh Adam state
    before, best_then, after, opt = plateaus[0]
    assert not np.array_equal(before["y.W_x"], best_then["y.W_x"])  # training had moved on
    _same_arrays(after, best_then)
    assert opt.keys() == t.init_opt(after).keys() and opt["t"] == 0
    assert not any(np.any(v) for v in opt.values())  # m, v and t all back at zero
    # the stop (after epoch 6) reloads nothing: those are the parameters training ended with
    assert len(plateaus) == 2 and plateaus[1][2] is not None
    assert not np.array_equal(plateaus[1][2]["y.W_x"], best_then["y.W_x"])


def test_weight_noise_spares_biases():
    params = {"W": np.zeros((200, 300), np.float32), "E": np.zeros((50, 40), np.float32),
              "b": np.zeros(300, np.float32)}
    roles = {"W": "weight", "E": "embedding", "b": "bias"}
    noisy = add_weight_noise(params, roles, 0.1, np.random.default_rng(0))
    assert noisy["b"] is params["b"]
    assert abs(noisy["W"].std() - 0.1) < 0.003 and abs(noisy["E"].std() - 0.1) < 0.01
    assert not params["W"].any()  # clean weights untouched
    assert noisy["W"].dtype == np.float32


@pytest.mark.parametrize("steps, shuffled", [(None, False), (None, True), (7, True), (7, False)])
def test_count_batches_counts_what_batches_yields(steps, shuffled):
    seed = np.random.default_rng(3)
    counted = count_batches(DATA, "train", 5, steps, np.random.default_rng(3) if shuffled else None)
    assert counted == len(list(batches(DATA, "train", 5, steps, seed if shuffled else None)))
    text = Dataset("toy", "text", {"train": [np.arange(1003) % 7]}, tuple("abcdefg"), "test", "char")
    assert count_batches(text, "train", 4, 10) == len(list(batches(text, "train", 4, 10))) == 25


@pytest.mark.parametrize("steps", [None, 7])
def test_carried_rows_are_those_of_the_batch_each_batch_continues(steps):
    """What a resumed run checks its carried state against (state.py): the rows of the batch
    before, where the batch continues it; None where it starts afresh (reset) or past the end."""
    text = Dataset("toy", "text", {"train": [np.arange(1003) % 7]}, tuple("abcdefg"), "test", "char")
    for data, size, cut in ((DATA, 5, steps), (text, 4, steps or 10)):  # (a text stream needs its steps)
        made = list(batches(data, "train", size, cut, np.random.default_rng(3)))
        expected = [None] + [None if b.reset else a.mask.shape[1] for a, b in zip(made, made[1:])] + [None]
        got = [carried_rows(data, "train", size, cut, np.random.default_rng(3), i) for i in range(len(made) + 1)]
        assert got == expected and (cut is None or any(got))


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_has_a_total_from_the_first_epoch(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    err = _Terminal()
    t = Trainer(FakeModel(), DATA, _config(epochs=1), run_dir, out=io.StringIO(), err=err)
    t.start_fresh()
    t.run()
    total = t.state.history[0]["batches"]
    assert f" 0/{total} [" in err.getvalue()  # tqdm's "n/total [elapsed<remaining, rate]"


def test_progress_lines_when_stderr_is_not_a_terminal(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    err = io.StringIO()
    t = Trainer(FakeModel(), DATA, _config(epochs=1), run_dir, out=io.StringIO(), err=err)
    t.monitor.progress_interval = 0.0  # every batch (10 s in use)
    t.start_fresh()
    t.run()
    total = t.state.history[0]["batches"]
    lines = err.getvalue().splitlines()
    assert len(lines) == total
    assert re.fullmatch(rf"epoch 1: 1/{total} batches \(\d+%\), 0:00 elapsed, ETA \d+:\d\d, "
                        r"loss \d+\.\d{3}, frames/s [\d,]+", lines[0]), lines[0]
    assert lines[-1].startswith(f"epoch 1: {total}/{total} batches (100%)")


def test_progress_is_silent_until_the_interval_has_passed(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    err = io.StringIO()
    t = Trainer(FakeModel(), DATA, _config(epochs=1), run_dir, out=io.StringIO(), err=err)
    t.start_fresh()
    t.run()  # one epoch takes far less than the 10 s between lines
    assert err.getvalue() == ""


def test_on_epoch_sees_each_record_and_can_stop_the_run(tmp_path):
    seen = []
    t = _trainer(tmp_path, epochs=5)
    t.on_epoch = lambda record: seen.append(record) or len(seen) == 2
    t.start_fresh()
    assert t.run() == "stopped by caller"
    assert [r["epoch"] for r in seen] == [1, 2] and seen == t.state.history
    _, meta = ckpt.load(tmp_path, "last")
    assert meta["run"]["epoch"] == 2
