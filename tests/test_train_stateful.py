"""The trainer with a stateful model on text: the state is carried from one BPTT segment to
the next, checked against the autograd reference run over each whole column in one go."""
import numpy as np
import pytest

import rnnalg
from rnnalg.data import Dataset
from rnnalg.reference import reference_forward, reference_loss_and_grad
from rnnalg.train.config import TrainConfig, resolve
from rnnalg.train.trainer import Trainer

SPEC = """\
input  x : token[5]
output y : token[5]
state  h : 6
h' = tanh(x ⊕ h)
y  = ▷ h'
"""
B, STEPS = 3, 4


@pytest.fixture
def trainer(tmp_path):
    program = rnnalg.check(rnnalg.parse(SPEC, "toy.rnn"), {})
    model = rnnalg.compile(program, np.float64)
    rng = np.random.default_rng(0)
    splits = {s: [rng.integers(0, 5, n)] for s, n in (("train", 3 * 14 + 2), ("valid", 60), ("test", 60))}
    data = Dataset("toy", "text", splits, tuple("abcde"), "test", "char")
    config = resolve(TrainConfig(epochs=1, batch_size=B, steps=STEPS, weight_noise=0.0, clip=0.0), "char")
    t = Trainer(model, data, config, tmp_path, quiet=True)
    t.start_fresh()
    return t


def test_carried_state_equals_one_pass_over_the_whole_stream(trainer):
    """Parameters held fixed (the update is a no-op): segment by segment with the state
    carried, the trainer's states in, losses and gradients are those of the reference over
    the concatenation; a trainer that restarted each segment cold would differ."""
    t = trainer
    calls, compiled = [], t.model.loss_and_grad

    def record(params, batch, state=None, noise=None):
        loss, grads, final = compiled(params, batch, state=state, noise=noise)
        calls.append((batch, state, loss, grads))
        return loss, grads, final

    t.model.loss_and_grad = record
    t.update_opt = lambda params, grads, opt_state, lr, **_: (params, opt_state)
    t.run()

    stream = t.dataset.splits["train"][0]
    per = len(stream) // B  # 14 tokens per column, 13 predictions, segments of 4, 4, 4, 1
    columns = stream[: per * B].reshape(B, per).T
    params = t.params
    assert [len(b["x"]) for b, *_ in calls] == [4, 4, 4, 1]
    whole = {"x": columns[:-1], "y": columns[1:], "mask": np.ones((per - 1, B))}
    mean, _ = reference_forward(t.model.program, params, whole)
    counted = sum(loss * int(b["mask"].sum()) for b, _, loss, _ in calls)
    assert counted / (B * (per - 1)) == pytest.approx(mean, rel=1e-12)
    assert t.state.history[0]["train_loss"] == pytest.approx(mean, rel=1e-12)

    start = 0
    for batch, state, loss, grads in calls:
        np.testing.assert_array_equal(batch["x"], columns[start:start + len(batch["x"])])
        if start == 0:
            assert state is None  # the epoch starts from the initial state
        else:
            prefix = {"x": columns[:start], "y": columns[1:start + 1], "mask": np.ones((start, B))}
            _, carried = reference_forward(t.model.program, params, prefix)
            np.testing.assert_allclose(state["h"], carried["h"], rtol=1e-12, atol=1e-14)
        # truncated BPTT: this segment's loss and gradient from the carried state
        ref_loss, ref_grads = reference_loss_and_grad(t.model.program, params, batch, state)
        assert loss == pytest.approx(ref_loss, rel=1e-12)
        for name in ref_grads:
            np.testing.assert_allclose(grads[name], ref_grads[name], rtol=1e-9, atol=1e-12, err_msg=name)
        start += len(batch["x"])


def test_a_mid_epoch_checkpoint_needs_its_carried_state(trainer, tmp_path):
    from rnnalg.errors import CheckpointError
    from rnnalg.train import checkpoint as ckpt

    t = trainer
    update = t._update

    def stop_after_two(batch):
        loss = update(batch)
        if t.state.step == 2:
            t.stop_request = "interrupted"
        return loss

    t._update = stop_after_two
    assert t.run() == "interrupted"
    arrays, meta = ckpt.load(tmp_path, "last")
    assert arrays["carry/h"].shape == (B, 6) and meta["run"]["batch"] == 3  # of 4
    for broken in ({k: v for k, v in arrays.items() if k != "carry/h"},
                   {**arrays, "carry/h": arrays["carry/h"][:, :5]}):
        fresh = Trainer(t.model, t.dataset, t.config, tmp_path, quiet=True)
        with pytest.raises(CheckpointError, match=r"last-\w+\.npz: error: array 'carry/h'"):
            fresh.restore(broken, meta, source=tmp_path / meta["arrays"])
    fresh.restore(arrays, meta)
    assert fresh.run() == "epochs"
