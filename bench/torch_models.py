"""The four benchmark models written by hand in PyTorch eager (the baseline of compare.py).

Each model is `loss(params, xs, ys) -> scalar tensor`: `params` maps rnnalg's parameter names
(weights are (in, out), so an affine summary is `a @ W_a + b @ W_b + bias`) to tensors,
`xs` and `ys` are time-major (T, B, 88) piano-roll frames, and the loss is rnnalg's: the
Bernoulli NLL of the logits, summed over the 88 units and averaged over the T·B positions.
The initial state is zero.

What a careful eager user writes: products that do not depend on the state (input
projections, the output layers) run once over all T·B rows; only the recurrence loops
over time. No fused nn.RNN, no torch.compile. The equations follow examples/*.rnn:

    RNN      h_t  = tanh(x U + h_{t-1} W + b)                     y = σ(h_t V + c)
    DT(S)    z_t  = tanh(x U_1 + h_{t-1} W_1 + b_1)
             h_t  = tanh(z_t W_2 + h_{t-1} W_s + b_2)              y = σ(h_t V + c)
    DOT(S)   z_t  = tanh(x U_1 + h_{t-1} W_1 + b_1)
             h_t  = tanh(z_t W_2 + h_{t-1} W_s + b_2)
             o_t  = tanh(h_t A + x B + c_1)                       y = σ(o_t V + h_t U_s + c_2)
    sRNN-2   h1_t = tanh(x U_1 + h1_{t-1} W_1 + b_1)
             h2_t = tanh(h1_t U_2 + h2_{t-1} W_2 + b_2)           y = σ(h2_t V + c)
    LSTM     [i f o g]_t = x [U_i … U_g] + h_{t-1} [W_i … W_g] + b (f offset by +1; σ, σ, σ, tanh)
             c_t = f ⊙ c_{t-1} + i ⊙ g,  h_t = o ⊙ tanh(c_t)       y = σ(h_t V + c)

    GRU      z_t = σ(x U_z + h_{t-1} W_z + b_z),  r_t = σ(x U_r + h_{t-1} W_r + b_r)
             n_t = tanh(x U_n + (r_t ⊙ h_{t-1}) W_n + b_n),  h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ n_t

The LSTM has a second baseline, `LSTMFused`: PyTorch's own `torch.nn.LSTM` (its fused kernel)
with the same weights; the GRU has `GRUFused`, `torch.nn.GRU`, which is the same cell except
where the reset gate acts (see its docstring). The word-level RNN (examples/word_rnn.rnn, `token[10000]` in and out)
runs the kernel of `torch.nn.RNN` and `F.cross_entropy`, see `word_rnn_loss`.

`loss_and_grad_call(..., compiled=True)` wraps the loss in `torch.compile` (the column
"torch.compile" of compare.py): the recurrence loop is unrolled into one graph, forward and
backward compiled by TorchInductor on the first call.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def bernoulli_nll(logits, ys):
    """Σ over units and positions of softplus(a) − a·y, divided by the T·B positions."""
    T, B = ys.shape[:2]
    return F.binary_cross_entropy_with_logits(logits, ys, reduction="sum") / (T * B)


def _zeros(xs, width):
    return xs.new_zeros((xs.shape[1], width))


def rnn_loss(p, xs, ys):
    W = p["h'.W_h"]
    pre = xs @ p["h'.W_x"] + p["h'.b"]
    h = _zeros(xs, W.shape[0])
    hs = []
    for t in range(xs.shape[0]):
        h = torch.tanh(pre[t] + h @ W)
        hs.append(h)
    return bernoulli_nll(torch.stack(hs) @ p["y.W_h'"] + p["y.b"], ys)


def _deep_transition_scan(p, xs):
    """z_t = tanh(x U_1 + h W_1 + b_1), h_t = tanh(z_t W_2 + h W_s + b_2) -> hs."""
    W1, W2, Ws, b2 = p["z.W_h"], p["h'.W_z"], p["h'.W_h"], p["h'.b"]
    pre_z = xs @ p["z.W_x"] + p["z.b"]
    h = _zeros(xs, W1.shape[0])
    hs = []
    for t in range(xs.shape[0]):
        z = torch.tanh(pre_z[t] + h @ W1)
        h = torch.tanh(z @ W2 + h @ Ws + b2)
        hs.append(h)
    return torch.stack(hs)


def dts_loss(p, xs, ys):
    hs = _deep_transition_scan(p, xs)
    return bernoulli_nll(hs @ p["y.W_h'"] + p["y.b"], ys)


def dots_loss(p, xs, ys):
    hs = _deep_transition_scan(p, xs)
    os = torch.tanh(hs @ p["o.W_h'"] + xs @ p["o.W_x"] + p["o.b"])
    return bernoulli_nll(os @ p["y.W_o"] + hs @ p["y.W_h'"] + p["y.b"], ys)


def srnn2_loss(p, xs, ys):
    W1, U2, W2, b2 = p["h1'.W_h1"], p["h2'.W_h1'"], p["h2'.W_h2"], p["h2'.b"]
    pre1 = xs @ p["h1'.W_x"] + p["h1'.b"]
    h1, h2 = _zeros(xs, W1.shape[0]), _zeros(xs, W2.shape[0])
    h2s = []
    for t in range(xs.shape[0]):
        h1 = torch.tanh(pre1[t] + h1 @ W1)
        h2 = torch.tanh(h1 @ U2 + h2 @ W2 + b2)
        h2s.append(h2)
    return bernoulli_nll(torch.stack(h2s) @ p["y.W_h2'"] + p["y.b"], ys)


def word_rnn_loss(p, xs, ys):
    """examples/word_rnn.rnn as `torch.nn.RNN` runs it (its kernel, `torch.rnn_tanh`) and `F.cross_entropy`.

    xs, ys: (T, B) token ids. rnnalg's x U with a one-hot x is the embedding row U[x]; the
    kernel takes those rows as its input through an identity input weight (no gradient; its
    product costs 2·T·B·H² forward and again backward, ≈ 1 % of the model's flops at V = 10,000)
    and h W as `weight_hh` = Wᵀ; rnnalg's one bias is `bias_ih`, `bias_hh` is zero.
    """
    W, b = p["h'.W_h"], p["h'.b"]
    H = W.shape[0]
    emb = F.embedding(xs, p["h'.W_x"])
    h0 = emb.new_zeros((1, xs.shape[1], H))
    weights = [torch.eye(H, dtype=W.dtype, device=W.device), W.T, b, torch.zeros_like(b)]
    hs, _ = torch.rnn_tanh(emb, h0, weights, True, 1, 0.0, True, False, False)
    logits = hs @ p["y.W_h'"] + p["y.b"]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ys.reshape(-1))


LSTM_GATES = "ifog"  # rnnalg's examples/lstm.rnn; torch.nn.LSTM stacks them as i, f, g, o


def lstm_loss(p, xs, ys):
    """The cell as a careful eager user writes it: the four gates' products side by side."""
    U = torch.cat([p[f"{g}.W_x"] for g in LSTM_GATES], dim=1)
    W = torch.cat([p[f"{g}.W_h"] for g in LSTM_GATES], dim=1)
    H = W.shape[0]
    offset = torch.zeros(4 * H, dtype=W.dtype, device=W.device)
    offset[H:2 * H] = 1.0  # the forget gate's +1
    pre = xs @ U + (torch.cat([p[f"{g}.b"] for g in LSTM_GATES]) + offset)
    h, c = _zeros(xs, H), _zeros(xs, H)
    hs = []
    for t in range(xs.shape[0]):
        a = pre[t] + h @ W
        i, f, o = torch.sigmoid(a[:, :3 * H]).split(H, dim=1)
        c = f * c + i * torch.tanh(a[:, 3 * H:])
        h = o * torch.tanh(c)
        hs.append(h)
    return bernoulli_nll(torch.stack(hs) @ p["y.W_h'"] + p["y.b"], ys)


def gru_loss(p, xs, ys):
    """examples/gru.rnn as an eager user writes it: z and r's products side by side."""
    U = torch.cat([p["z.W_x"], p["r.W_x"], p["n.W_x"]], dim=1)
    W, Wn = torch.cat([p["z.W_h"], p["r.W_h"]], dim=1), p["n.W_n.1"]
    H = Wn.shape[0]
    pre = xs @ U + torch.cat([p["z.b"], p["r.b"], p["n.b"]])
    h = _zeros(xs, H)
    hs = []
    for t in range(xs.shape[0]):
        z, r = torch.sigmoid(pre[t, :, :2 * H] + h @ W).split(H, dim=1)
        n = torch.tanh(pre[t, :, 2 * H:] + (r * h) @ Wn)
        h = h + z * (n - h)
        hs.append(h)
    return bernoulli_nll(torch.stack(hs) @ p["y.W_h'"] + p["y.b"], ys)


class LSTMFused:
    """torch.nn.LSTM (PyTorch's fused kernel) with rnnalg's LSTM weights; `loss(xs, ys)`.

    Its two biases per gate hold rnnalg's one (and the forget gate's +1) and zero.
    """

    def __init__(self, params, dtype=torch.float32):
        order = "ifgo"
        H = params["i.W_h"].shape[0]
        self.lstm = torch.nn.LSTM(params["i.W_x"].shape[0], H).to(dtype)
        with torch.no_grad():
            self.lstm.weight_ih_l0.copy_(torch.cat([torch.as_tensor(params[f"{g}.W_x"]).T for g in order]))
            self.lstm.weight_hh_l0.copy_(torch.cat([torch.as_tensor(params[f"{g}.W_h"]).T for g in order]))
            bias = [torch.as_tensor(params[f"{g}.b"]) + (1.0 if g == "f" else 0.0) for g in order]
            self.lstm.bias_ih_l0.copy_(torch.cat(bias))
            self.lstm.bias_hh_l0.zero_()
        self.V = torch.tensor(params["y.W_h'"], dtype=dtype, requires_grad=True)
        self.c = torch.tensor(params["y.b"], dtype=dtype, requires_grad=True)

    def parameters(self):
        return list(self.lstm.parameters()) + [self.V, self.c]

    def loss(self, xs, ys):
        hs, _ = self.lstm(xs)
        return bernoulli_nll(hs @ self.V + self.c, ys)


class GRUFused(LSTMFused):
    """torch.nn.GRU (PyTorch's fused kernel) with rnnalg's GRU weights (examples/gru.rnn).

    nn.GRU computes n_t = tanh(x W_in + b_in + r_t ⊙ (h W_hn + b_hn)) and h_t = (1 − z'_t) ⊙ n_t +
    z'_t ⊙ h_{t-1}: its z' is rnnalg's 1 − z (so its z weights and bias are rnnalg's negated) and
    its reset gate acts after the product, rnnalg's (Cho et al.'s) before it.  The two cells have
    the same sizes and products per step but compute the same function only where r ≡ 1; the
    mapping is checked there (`RESET_OPEN`), the timing uses the weights as they are.
    """

    def __init__(self, params, dtype=torch.float32):
        H = params["z.W_h"].shape[0]
        sign = {"r": 1.0, "z": -1.0, "n": 1.0}  # nn.GRU stacks r, z, n
        self.lstm = torch.nn.GRU(params["z.W_x"].shape[0], H).to(dtype)
        hidden = {"r": params["r.W_h"], "z": params["z.W_h"], "n": params["n.W_n.1"]}
        with torch.no_grad():
            self.lstm.weight_ih_l0.copy_(torch.cat([sign[g] * torch.as_tensor(params[f"{g}.W_x"]).T for g in "rzn"]))
            self.lstm.weight_hh_l0.copy_(torch.cat([sign[g] * torch.as_tensor(hidden[g]).T for g in "rzn"]))
            self.lstm.bias_ih_l0.copy_(torch.cat([sign[g] * torch.as_tensor(params[f"{g}.b"]) for g in "rzn"]))
            self.lstm.bias_hh_l0.zero_()
        self.V = torch.tensor(params["y.W_h'"], dtype=dtype, requires_grad=True)
        self.c = torch.tensor(params["y.b"], dtype=dtype, requires_grad=True)


RESET_OPEN = 40.0  # added to r.b: σ(a + 40) = 1 to 4e-18, so rnnalg's GRU and nn.GRU agree (float64)


def reset_open(params):
    """A copy of GRU parameters whose reset gate is 1 everywhere (RESET_OPEN)."""
    return {**params, "r.b": params["r.b"] + RESET_OPEN}


# example spec stem -> its hand-written torch loss
TORCH_MODELS = {"rnn": rnn_loss, "dts": dts_loss, "dots": dots_loss, "srnn2": srnn2_loss, "lstm": lstm_loss,
                "gru": gru_loss, "word_rnn": word_rnn_loss}


def to_torch(params, dtype=torch.float32):
    """rnnalg's numpy parameters -> leaf tensors that collect gradients (copies)."""
    return {name: torch.tensor(value, dtype=dtype, requires_grad=True) for name, value in params.items()}


def loss_and_grad_call(name, params, xs, ys, compiled=False):
    """A no-argument function: one forward + loss.backward() of model `name` -> the loss.

    Gradients are reset to None first so each call does the same work (no accumulation).
    `compiled`: the loss through `torch.compile(dynamic=False)`; the first call compiles.
    """
    loss_fn = torch.compile(TORCH_MODELS[name], dynamic=False) if compiled else TORCH_MODELS[name]

    def call():
        for p in params.values():
            p.grad = None
        loss = loss_fn(params, xs, ys)
        loss.backward()
        return loss

    return call


def fused_lstm_call(params, xs, ys, fused=LSTMFused):
    """Like `loss_and_grad_call`, for torch.nn.LSTM with rnnalg's LSTM weights (or `fused`:
    GRUFused, torch.nn.GRU with rnnalg's GRU weights)."""
    model = fused(params, xs.dtype)

    def call():
        for p in model.parameters():
            p.grad = None
        loss = model.loss(xs, ys)
        loss.backward()
        return loss

    return call
