"""The four benchmark models in JAX: `jit(value_and_grad)` of a `lax.scan` (a peer in compare.py).

The same equations, parameter names and loss as `torch_models.py` (weights are (in, out); the
Bernoulli NLL summed over the 88 units and divided by the T·B positions; zero initial state).
What depends only on the inputs (the input projections) runs once over all T·B rows before
the scan, the output layers and the loss once after it; the scan carries only the state and
returns the stacked states. XLA compiles forward and backward together on the first call.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def bernoulli_nll(logits, ys):
    """Σ over units and positions of softplus(a) − a·y, divided by the T·B positions."""
    T, B = ys.shape[:2]
    return jnp.sum(jax.nn.softplus(logits) - logits * ys) / (T * B)


def _scan(step, init, xs):
    """The carries stacked over time, (T, B, W) each, of carry_t = step(carry_{t-1}, xs[t])."""
    def body(carry, x_t):
        carry = step(carry, x_t)
        return carry, carry
    return jax.lax.scan(body, init, xs)[1]


def _zeros(xs, width):
    return jnp.zeros((xs.shape[1], width), dtype=xs.dtype)


def rnn_loss(p, xs, ys):
    W = p["h'.W_h"]
    pre = xs @ p["h'.W_x"] + p["h'.b"]
    hs = _scan(lambda h, pre_t: jnp.tanh(pre_t + h @ W), _zeros(xs, W.shape[0]), pre)
    return bernoulli_nll(hs @ p["y.W_h'"] + p["y.b"], ys)


def _deep_transition_scan(p, xs):
    """z_t = tanh(x U_1 + h W_1 + b_1), h_t = tanh(z_t W_2 + h W_s + b_2) -> hs."""
    W1, W2, Ws, b2 = p["z.W_h"], p["h'.W_z"], p["h'.W_h"], p["h'.b"]
    pre_z = xs @ p["z.W_x"] + p["z.b"]

    def step(h, pre_t):
        z = jnp.tanh(pre_t + h @ W1)
        return jnp.tanh(z @ W2 + h @ Ws + b2)
    return _scan(step, _zeros(xs, W1.shape[0]), pre_z)


def dts_loss(p, xs, ys):
    hs = _deep_transition_scan(p, xs)
    return bernoulli_nll(hs @ p["y.W_h'"] + p["y.b"], ys)


def dots_loss(p, xs, ys):
    hs = _deep_transition_scan(p, xs)
    os = jnp.tanh(hs @ p["o.W_h'"] + xs @ p["o.W_x"] + p["o.b"])
    return bernoulli_nll(os @ p["y.W_o"] + hs @ p["y.W_h'"] + p["y.b"], ys)


def srnn2_loss(p, xs, ys):
    W1, U2, W2, b2 = p["h1'.W_h1"], p["h2'.W_h1'"], p["h2'.W_h2"], p["h2'.b"]
    pre1 = xs @ p["h1'.W_x"] + p["h1'.b"]

    def step(carry, pre_t):
        h1, h2 = carry
        h1 = jnp.tanh(pre_t + h1 @ W1)
        return h1, jnp.tanh(h1 @ U2 + h2 @ W2 + b2)
    _, h2s = _scan(step, (_zeros(xs, W1.shape[0]), _zeros(xs, W2.shape[0])), pre1)
    return bernoulli_nll(h2s @ p["y.W_h2'"] + p["y.b"], ys)


def word_rnn_loss(p, xs, ys):
    """examples/word_rnn.rnn: xs, ys (T, B) token ids; embedding rows instead of x U; the
    categorical NLL (log-softmax over V) averaged over the T·B positions."""
    W = p["h'.W_h"]
    pre = p["h'.W_x"][xs] + p["h'.b"]
    hs = _scan(lambda h, pre_t: jnp.tanh(pre_t + h @ W), jnp.zeros((xs.shape[1], W.shape[0]), W.dtype), pre)
    logp = jax.nn.log_softmax(hs @ p["y.W_h'"] + p["y.b"], axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, ys[..., None], axis=-1))


LSTM_GATES = "ifog"  # examples/lstm.rnn


def lstm_loss(p, xs, ys):
    """examples/lstm.rnn: the four gates' products side by side (input terms before the scan)."""
    U = jnp.concatenate([p[f"{g}.W_x"] for g in LSTM_GATES], axis=1)
    W = jnp.concatenate([p[f"{g}.W_h"] for g in LSTM_GATES], axis=1)
    H = W.shape[0]
    offset = jnp.zeros(4 * H, dtype=W.dtype).at[H:2 * H].set(1.0)  # the forget gate's +1
    pre = xs @ U + (jnp.concatenate([p[f"{g}.b"] for g in LSTM_GATES]) + offset)

    def body(carry, pre_t):
        h, c = carry
        a = pre_t + h @ W
        i, f, o = jnp.split(jax.nn.sigmoid(a[:, :3 * H]), 3, axis=1)
        c = f * c + i * jnp.tanh(a[:, 3 * H:])
        h = o * jnp.tanh(c)
        return (h, c), h
    _, hs = jax.lax.scan(body, (_zeros(xs, H), _zeros(xs, H)), pre)
    return bernoulli_nll(hs @ p["y.W_h'"] + p["y.b"], ys)


# example spec stem -> its JAX loss
JAX_MODELS = {"rnn": rnn_loss, "dts": dts_loss, "dots": dots_loss, "srnn2": srnn2_loss, "word_rnn": word_rnn_loss,
              "lstm": lstm_loss}


def loss_and_grad_call(name, params, xs, ys):
    """A no-argument function: one jitted forward + backward of model `name` -> (loss, grads),
    waiting for the result. The first call compiles."""
    fn = jax.jit(jax.value_and_grad(JAX_MODELS[name]))
    params = {k: jnp.asarray(v) for k, v in params.items()}
    xs, ys = jnp.asarray(xs), jnp.asarray(ys)

    def call():
        return jax.block_until_ready(fn(params, xs, ys))
    return call
