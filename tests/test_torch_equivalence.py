"""rnnalg's LSTM and GRU against PyTorch's fused cells with the same weights: the same loss
and the same gradients (float64).  PyTorch is a dev-only dependency: skipped without it.

PyTorch keeps two biases per gate, b_i· (input side) and b_h· (state side); rnnalg's affine
has one, their sum, so its gradient equals each of theirs.  Gate order in PyTorch's stacked
weights: LSTM (i, f, g, o), GRU (r, z, n).
"""
from pathlib import Path

import numpy as np
import pytest

import rnnalg

torch = pytest.importorskip("torch")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
T, B, H = 6, 3, 5

# PyTorch's GRU applies the reset gate to the recurrent product, b = W_hn h + b_hn
GRU_TORCH = """
let H = 5
input  x : binary[7]
output y : binary[7]
state  h : H
r  = sigmoid(x ⊕ h)
z  = sigmoid(x ⊕ h)
a  = MLP[linear](x)
b  = MLP[linear](h)
n  = tanh(a + r * b)
h' = (1 - z) * n + z * h
y  = ▷ h'
"""


def _setup(program, seed=0):
    rng = np.random.default_rng(seed)
    model = rnnalg.compile(program, np.float64)
    params = model.init_params(rng, "gaussian", 0.5)
    for name in params:
        if name.endswith(".b"):
            params[name] = rng.normal(0.0, 0.3, size=params[name].shape)
    width = program.inputs[0].width
    batch = {"x": (rng.random((T, B, width)) < 0.3).astype(float),
             "y": (rng.random((T, B, width)) < 0.3).astype(float)}
    state = {s.prev.name: rng.normal(0.0, 0.5, size=(B, s.prev.width)) for s in program.states}
    return model, params, batch, state, rng


def _t(a):
    return torch.tensor(np.ascontiguousarray(a), dtype=torch.float64, requires_grad=True)


def _head_loss(hs, params, batch):
    """Bernoulli NLL of ▷ h' summed over units, averaged over the T·B positions."""
    w, b = _t(params["y.W_h'"]), _t(params["y.b"])
    logits = hs @ w + b
    target = torch.tensor(batch["y"], dtype=torch.float64)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="sum") / (T * B)
    return loss, w, b


def _split_bias(rng, total):
    """(input-side, state-side) biases that sum to rnnalg's one."""
    part = rng.normal(0.0, 0.3, size=total.shape)
    return part, total - part


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_lstm_matches_torch_nn_lstm():
    program = rnnalg.load_program(EXAMPLES / "lstm.rnn", {"H": H})
    model, params, batch, state, rng = _setup(program)
    loss, grads, final = model.loss_and_grad(params, batch, state)

    gates = "ifgo"  # PyTorch's order
    lstm = torch.nn.LSTM(88, H).double()
    # rnnalg's forget gate adds the constant 1 after its affine: PyTorch's bias carries it
    bias = {g: params[f"{g}.b"] + (1.0 if g == "f" else 0.0) for g in gates}
    sides = {g: _split_bias(rng, bias[g]) for g in gates}
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.tensor(np.concatenate([params[f"{g}.W_x"].T for g in gates])))
        lstm.weight_hh_l0.copy_(torch.tensor(np.concatenate([params[f"{g}.W_h"].T for g in gates])))
        lstm.bias_ih_l0.copy_(torch.tensor(np.concatenate([sides[g][0] for g in gates])))
        lstm.bias_hh_l0.copy_(torch.tensor(np.concatenate([sides[g][1] for g in gates])))
    h0, c0 = (torch.tensor(state[s][None]) for s in ("h", "c"))
    hs, (hT, cT) = lstm(torch.tensor(batch["x"]), (h0, c0))
    torch_loss, w, b = _head_loss(hs, params, batch)
    torch_loss.backward()

    assert abs(loss - torch_loss.item()) < 1e-12 * abs(loss)
    _close(final["h"], hT[0].detach().numpy())
    _close(final["c"], cT[0].detach().numpy())
    _close(grads["y.W_h'"], w.grad.numpy())
    _close(grads["y.b"], b.grad.numpy())
    for k, g in enumerate(gates):
        rows = slice(k * H, (k + 1) * H)
        _close(grads[f"{g}.W_x"], lstm.weight_ih_l0.grad[rows].numpy().T)
        _close(grads[f"{g}.W_h"], lstm.weight_hh_l0.grad[rows].numpy().T)
        _close(grads[f"{g}.b"], lstm.bias_ih_l0.grad[rows].numpy())
        _close(grads[f"{g}.b"], lstm.bias_hh_l0.grad[rows].numpy())


def test_gru_in_torch_variant_matches_torch_nn_gru():
    program = rnnalg.check(rnnalg.parse(GRU_TORCH, "gru_torch.rnn"))
    model, params, batch, state, rng = _setup(program, seed=1)
    loss, grads, final = model.loss_and_grad(params, batch, state)

    gru = torch.nn.GRU(7, H).double()
    r_in, r_h = _split_bias(rng, params["r.b"])
    z_in, z_h = _split_bias(rng, params["z.b"])
    with torch.no_grad():
        gru.weight_ih_l0.copy_(torch.tensor(np.concatenate(
            [params["r.W_x"].T, params["z.W_x"].T, params["a.1.W_x"].T])))
        gru.weight_hh_l0.copy_(torch.tensor(np.concatenate(
            [params["r.W_h"].T, params["z.W_h"].T, params["b.1.W_h"].T])))
        gru.bias_ih_l0.copy_(torch.tensor(np.concatenate([r_in, z_in, params["a.1.b"]])))
        gru.bias_hh_l0.copy_(torch.tensor(np.concatenate([r_h, z_h, params["b.1.b"]])))
    hs, hT = gru(torch.tensor(batch["x"]), torch.tensor(state["h"][None]))
    torch_loss, w, b = _head_loss(hs, params, batch)
    torch_loss.backward()

    assert abs(loss - torch_loss.item()) < 1e-12 * abs(loss)
    _close(final["h"], hT[0].detach().numpy())
    _close(grads["y.W_h'"], w.grad.numpy())
    ih, hh = gru.weight_ih_l0.grad.numpy(), gru.weight_hh_l0.grad.numpy()
    bih, bhh = gru.bias_ih_l0.grad.numpy(), gru.bias_hh_l0.grad.numpy()
    for k, (x_name, h_name) in enumerate([("r", "r"), ("z", "z"), ("a.1", "b.1")]):
        rows = slice(k * H, (k + 1) * H)
        _close(grads[f"{x_name}.W_x"], ih[rows].T)
        _close(grads[f"{h_name}.W_h"], hh[rows].T)
        _close(grads[f"{x_name}.b"], bih[rows])
        _close(grads[f"{h_name}.b"], bhh[rows])
