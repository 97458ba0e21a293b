"""Initialisation: each ⊕ is one matrix over its concatenated operands (total fan-in), and
every example starts training near the frequency baseline."""
from pathlib import Path

import numpy as np
import pytest

import rnnalg
from rnnalg.data import Dataset, load_dataset
from rnnalg.train.feed import batches, model_batch, output_bias

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.rnn"))


def program_of(text, **sizes):
    return rnnalg.check(rnnalg.parse(text, "test.rnn"), sizes or None)


def stacked(params, names):
    return np.concatenate([params[n].astype(np.float64) for n in names])


@pytest.mark.parametrize("scheme", ["gaussian", "orthogonal", "sparse"])
def test_init_schemes_treat_a_summary_as_one_matrix(scheme):
    program = rnnalg.load_program(ROOT / "examples/rnn.rnn", {"H": 40})
    model = rnnalg.compile(program)
    p1 = model.init_params(np.random.default_rng(0), scheme)
    p2 = model.init_params(np.random.default_rng(0), scheme)
    assert all(np.array_equal(p1[k], p2[k]) for k in p1)
    assert np.all(p1["h'.b"] == 0)
    W = stacked(p1, ["h'.W_x", "h'.W_h"])  # (88 + 40, 40): the weights of x ⊕ h
    if scheme == "gaussian":
        assert abs(W.std() - 1 / np.sqrt(128)) < 0.05 / np.sqrt(128)
    if scheme == "orthogonal":
        np.testing.assert_allclose(W.T @ W, np.eye(40), atol=1e-5)
    if scheme == "sparse":
        assert np.all((W != 0).sum(axis=0) == 20)  # 20 incoming weights per unit (GroundHog)
        assert abs(np.linalg.norm(W, 2) - 1.0) < 1e-5  # the largest singular value, not the spectral radius


@pytest.mark.parametrize("scheme", ["gaussian", "orthogonal", "sparse"])
def test_more_operands_do_not_scale_up_the_summary(scheme):
    """With unit-variance inputs, the output variance of a ⊕ of 1 or 4 operands of width 30 is
    Σ_i ‖W_i[:, j]‖² averaged over units j: 1 for gaussian/orthogonal, ≤ 1 for sparse (it was ~4)."""
    for operands in (["a"], ["a", "b", "c", "d"]):
        decls = "".join(f"input {n} : 30\n" for n in operands)
        program = program_of(decls + f"output y : 30\ny = ▷ ({' ⊕ '.join(operands)})")
        params = rnnalg.compile(program, np.float64).init_params(np.random.default_rng(1), scheme)
        W = stacked(params, [f"y.W_{n}" for n in operands])
        variance = (W ** 2).sum(axis=0).mean()
        if scheme == "sparse":
            assert variance <= 1.0 and abs(np.linalg.norm(W, 2) - 1.0) < 1e-9
        else:
            assert abs(variance - 1.0) < 0.15, (operands, variance)


def test_a_token_operand_counts_as_one_input():
    """fan-in of x ⊕ h with x : token[50] and h : 40 is 41 (one non-zero in a one-hot)."""
    program = program_of("input x : token[50]\noutput y : token[50]\nstate h : 40\n"
                         "h' = tanh(x ⊕ h)\ny = ▷ h'")
    model = rnnalg.compile(program, np.float64)
    params = model.init_params(np.random.default_rng(2))
    for name in ("h'.W_x", "h'.W_h"):  # the embedding (50, 40) and the weight (40, 40)
        assert abs(params[name].std() * np.sqrt(41) - 1) < 0.1, name
    assert abs(model.init_params(np.random.default_rng(2), "gaussian", 0.3)["h'.W_x"].std() - 0.3) < 0.03
    for scheme in ("orthogonal", "sparse"):
        params = model.init_params(np.random.default_rng(2), scheme, 2.0)
        assert abs(params["h'.W_x"].std() * np.sqrt(41) / 2.0 - 1) < 0.1, scheme


def zipf_dataset(vocab, length=3000, seed=0):
    """A small token stream with word-like (Zipf) frequencies."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, vocab + 1)
    stream = rng.choice(vocab, size=length, p=p / p.sum()).astype(np.int32)
    return Dataset("zipf", "text", {"train": [stream]}, tuple(map(str, range(vocab))), "<zipf>", "char")


# nested group functions with a large exponent (went NaN at step 1-2 before)
NESTED_SPEC = """input x : binary[88]
output y : binary[88]
state h : 64
z : 64 = lp[60, 2](maxout[2](x ⊕ h))
h' = lp[2, 2](lp[60, 2](z ⊕ h))
y = ▷ MLP[maxout[3] 32, lp[4, 2]](h' ⊕ z)
"""


def start_loss(program, dataset, seed):
    """(training loss at init on one small batch, the frequency baseline's loss on it)."""
    model = rnnalg.compile(program)
    batch = next(iter(batches(dataset, "train", 4, 60 if dataset.kind == "text" else None)))
    data = model_batch(program, batch)
    if dataset.kind == "music":  # the first 60 frames of 4 chorales
        data = {k: v[:60] for k, v in data.items()}
    bias_name, bias = output_bias(program, dataset)
    params = model.init_params(np.random.default_rng(seed))
    params[bias_name] = bias.astype(np.float32)
    noise = model.draw_noise(np.random.default_rng(seed), *data["mask"].shape)
    nll, count, _, _ = model.forward(params, data, None, noise)
    baseline = {k: np.zeros_like(v) for k, v in params.items()}
    baseline[bias_name] = params[bias_name]
    base_nll, base_count, _, _ = model.forward(baseline, data)
    return nll / count, base_nll / base_count


@pytest.fixture(scope="module")
def jsb():
    return load_dataset("jsb")


TRAINABLE = [p for p in EXAMPLES if " static" not in p.read_text(encoding="utf-8")]  # training feeds one input


@pytest.mark.parametrize("spec", TRAINABLE, ids=lambda p: p.stem)
def test_training_starts_near_the_frequency_baseline(spec, jsb):
    program = rnnalg.load_program(spec)
    x = program.inputs[0]
    dataset = jsb if x.kind == "binary" else zipf_dataset(x.width)
    for seed in (0, 1):
        loss, baseline = start_loss(program, dataset, seed)
        assert np.isfinite(loss) and loss < 1.03 * baseline, (seed, loss, baseline)


def test_nested_group_functions_stay_finite_in_float32(jsb):
    """Loss and gradients at init and after a few SGD steps (unbounded L_p/maxout units can still
    grow over time: only the summaries' scale is normalised, not the units' gain)."""
    program = program_of(NESTED_SPEC)
    model = rnnalg.compile(program)
    batch = next(iter(batches(jsb, "train", 4, None)))
    data = {k: v[:100] for k, v in model_batch(program, batch).items()}
    params = model.init_params(np.random.default_rng(0))
    for _ in range(3):
        loss, grads, _ = model.loss_and_grad(params, data)
        assert np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads.values())
        params = {k: v - 1e-3 * grads[k] for k, v in params.items()}
