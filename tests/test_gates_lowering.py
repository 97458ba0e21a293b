"""Gated cells in the lowering: the LSTM's four gate products are one matrix product per step,
and `rnnalg compile` says so."""
import re
from pathlib import Path

import rnnalg
from rnnalg.cli import main
from rnnalg.lower import emit_module

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _forward_scan(source: str) -> list:
    """The lines of the forward step loop (the kernel `_scan_forward`) of an emitted module."""
    kernel = source.split("\ndef _scan_forward(", 1)[1].split("\ndef ", 1)[0]
    loop = kernel.split("    for t in range(T):\n", 1)[1]
    return [line.strip() for line in loop.splitlines() if line.strip()]


def test_the_four_lstm_gate_products_are_one_product_per_step():
    source = emit_module(rnnalg.load_program(EXAMPLES / "lstm.rnn", {"H": 8}))
    assert "Wjoint_h = np.concatenate([i_W_h, f_W_h, o_W_h, g_W_h], axis=1)" in source
    step = _forward_scan(source)
    products = [line for line in step if "@" in line or "np.dot" in line or "_mm(" in line]
    assert products == ["np.dot(h, Wjoint_h, joint_h)"]
    # the input terms and biases of all four gates are one array, made before the scan by one
    # product, with the forget gate's +1 in its bias; a step adds its row once
    pre = source.split("# -- pre", 1)[1].split("# -- scan", 1)[0]
    assert re.findall(r"_mm\([^)]*\)", pre) == []  # written into P a piece at a time (issue 21, memory)
    assert "_affine_into(Pjoint_h, np.concatenate([i_b, f_b + 1.0, o_b, g_b]), (x, Ujoint_h_x))" in pre
    assert step[1] == "joint_h += Pjoint_h[t]" and "f_1 = f_a" in step
    # σ of the three adjacent gates i, f, o is one call per pass over their 3H columns
    assert step[3:7] == ["np.multiply(joint_h[:, 0:24], 0.5, Sjoint_i[t])", "np.tanh(Sjoint_i[t], Sjoint_i[t])",
                         "Sjoint_i[t] *= 0.5", "Sjoint_i[t] += 0.5"]
    assert sum("_sigmoid" in line or "np.tanh" in line for line in step) == 3  # σ(i, f, o), tanh(g), tanh(c')


def test_the_lstm_backward_is_one_product_per_step_and_one_per_weight_kind():
    source = emit_module(rnnalg.load_program(EXAMPLES / "lstm.rnn", {"H": 8}))
    loops = source.split("\ndef _scan_backward(", 1)[1].split("\ndef ", 1)[0]
    after = source.split("# -- backward: reverse scan", 1)[1].split("\ndef probabilities(", 1)[0]
    # the masked and the unmasked copy of the reverse step: one product each, d loss / d h_{t-1}
    assert [line.strip() for line in loops.splitlines() if "@" in line] == [
        "g_h = g_h + Gjoint_h[t - t0] @ WTjoint_h", "g_h = Gjoint_h[t - t0] @ WTjoint_h"]  # a time block's rows
    # against the joint weights' transpose, laid out once per call by the prelude's rule (B rows)
    assert "WTjoint_h = _step_weight_T(Wjoint_h, B)" in source
    # the gates' G rows are views of one buffer, so W_x, W_h and b of all four are one product each;
    # a time block's weight products add in place to their sums over the blocks, which grads are views
    # of from the first block on: no block's gradient made apart and then added to grads (issue 21)
    assert re.findall(r"_mmT(?:_acc)?\([^)]*\)|_bias_grad\([^)]*\)", after) == [
        "_mmT_acc(dWjoint_h_x, x[t0:t1], Gjoint_h)", "_mmT_acc(dWjoint_h_h, buf_h[t0:t1], Gjoint_h)",
        "_bias_grad(Gjoint_h)"]
    assert "_first(grads, 'i.W_h', dWjoint_h_h[:, 0:8])" in after
    assert re.findall(r"_acc\(grads, '[^']*'", after) == [f"_acc(grads, '{gate}.b'" for gate in "ifog"]


def test_compile_shows_the_fused_product(capsys):
    assert main(["compile", str(EXAMPLES / "lstm.rnn"), "--set", "H=8"]) == 0
    out = capsys.readouterr().out
    assert "fused: h is read by 4 scan affines: one product per step, h @ [i.W_h | f.W_h | o.W_h | g.W_h]" in out
    assert main(["compile", str(EXAMPLES / "rnn.rnn"), "--set", "H=8"]) == 0
    assert "fused" not in capsys.readouterr().out  # one affine reads h: nothing to fuse


def test_gru_reset_product_is_not_fused_with_the_gates():
    program = rnnalg.load_program(EXAMPLES / "gru.rnn", {"H": 8})
    step = _forward_scan(emit_module(program))
    products = [line for line in step if "@" in line or "np.dot" in line]
    # z and r read h (one product); the candidate reads r * h, known only after it
    assert products[0] == "np.dot(h, Wjoint_h, joint_h)"
    assert len(products) == 2 and "n_1 @ n_W_n_1" in products[1]


def test_the_reverse_step_makes_f_prime_from_the_stored_outputs():
    """σ'(a) = (1 − s) s and tanh'(a) = 1 − y² are made in the reverse step from step t's stored
    output, where they are used (one elementwise expression the fast backend fuses into the
    step's loop), not as (t1 − t0, B, W) arrays a pass of their own fills per time block."""
    source = emit_module(rnnalg.load_program(EXAMPLES / "lstm.rnn", {"H": 8}))
    header, loops = source.split("\ndef _scan_backward(", 1)[1].split("\ndef ", 1)[0].split("\n", 1)
    assert "dfda" not in source and "_sigmoid_deriv(Sjoint" not in source
    unmasked = [line.strip() for line in loops.split("    else:\n", 1)[1].splitlines()]
    assert "g_c_next = g_c_next + g_h_next_1 * _tanh_deriv(S_h_next_1[t])" in unmasked  # tanh(c')
    assert "np.multiply(g_g, _tanh_deriv(S_g[t]), G_g_a[t - t0])" in unmasked  # tanh(g_a)
    assert "np.multiply(g_i, _sigmoid_deriv(S_i[t]), G_i_a[t - t0])" in unmasked  # σ(i_a)
    assert "g_f_1 = g_f * _sigmoid_deriv(S_f[t])" in unmasked
    # a relu's f'(a) is a comparison (not + − *): one array per time block, as before
    spec = "input x : real[3]\noutput y : binary[2]\nstate h : 4\nh' = relu(x ⊕ h)\ny = ▷ h'\n"
    relu = emit_module(rnnalg.check(rnnalg.parse(spec, "relu.rnn")))
    assert "dfda_h_next = (buf_h[t0 + 1:t1 + 1] > 0).astype(dt)" in relu
    assert "np.multiply(g_h_next, dfda_h_next[t - t0], G_h_next_a[t - t0])" in relu
