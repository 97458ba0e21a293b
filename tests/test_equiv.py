"""`rnnalg equiv`: a battery of equivalent pairs (found equal; the mapped parameters give the same
loss and gradients to 1e-12 in float64) and of non-equivalent pairs (found different, with the
right first difference at both locations); the CLI's exit codes, --map-checkpoint, check --canonical."""
import json
from pathlib import Path

import numpy as np
import pytest

from rnnalg import equivalent, load_program
from rnnalg.algebra.canonical import canonical_text
from rnnalg.algebra.equiv import rename_arrays
from rnnalg.cli import main
from rnnalg.testing import random_setup

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
HEAD = "let H = 12\ninput  x : binary[6]\noutput y : binary[6]\nstate  h : H\n"
HEAD_B = "let K = 12\ninput  u : binary[6]\noutput out : binary[6]\nstate  s : K\n"

DOTS = HEAD + """z : H = tanh(x ⊕ h)
h'    = tanh(z ⊕ h)
o : H = tanh(h' ⊕ x)
y     = ▷ (o ⊕ h')
"""
# renamed (sizes, inputs, outputs, states, intermediates), equations reordered, ⊕ operands commuted
DOTS_RENAMED = HEAD_B + """out   = ▷ (s' ⊕ deep)
deep : K = tanh(u ⊕ s')
s'   = tanh(s ⊕ lower)
lower : K = tanh(s ⊕ u)
"""
DT = HEAD + "h' = MLP[tanh H, tanh](x ⊕ h)\ny = ▷ h'\n"
DT_WRITTEN = HEAD + "first : H = tanh(x ⊕ h)\nh' = MLP[tanh](first)\ny = ▷ h'\n"
DO = HEAD + "h' = tanh(x ⊕ h)\ny = ▷ MLP[tanh H](h')\n"
DO_WRITTEN = HEAD + "h' = tanh(x ⊕ h)\nhidden : H = tanh(MLP[linear](h'))\ny = ▷ hidden\n"
RNN = HEAD + "h' = tanh(x ⊕ h)\ny = ▷ h'\n"
RNN_NAMED = HEAD + "pre : H = h ⊕ x\nh' = tanh(pre)\ny = ▷ h'\n"
LSTM_HEAD = HEAD + "state  c : H\n"
LSTM = LSTM_HEAD + """i = sigmoid(x ⊕ h)
f = sigmoid((x ⊕ h) + 1)
o = sigmoid(x ⊕ h)
g = tanh(x ⊕ h)
c' = f * c + i * g
h' = o * tanh(c')
y = ▷ h'
"""
LSTM_REORDERED = LSTM_HEAD + """y = ▷ h'
h' = tanh(c') * out_gate
c' = candidate * input_gate + c * forget
candidate = tanh(h ⊕ x)
out_gate = sigmoid(h ⊕ x)
forget = sigmoid((h ⊕ x) + 1)
input_gate = sigmoid(x ⊕ h)
"""
GRU = HEAD + """z  = sigmoid(x ⊕ h)
r  = sigmoid(x ⊕ h)
n  = tanh(x ⊕ r * h)
h' = (1 - z) * h + z * n
y  = ▷ h'
"""
GRU_OTHER = HEAD + """reset = sigmoid(h ⊕ x)
update = sigmoid(h ⊕ x)
carried = (1 - update) * h
candidate = tanh(h * reset ⊕ x)
h' = update * candidate + carried
y = ▷ h'
"""
# PyTorch's convention: h' = (1 - z) * n + z * h, its z is Cho's 1 - z (weights negated)
GRU_TORCH = HEAD + """z  = sigmoid(x ⊕ h)
r  = sigmoid(x ⊕ h)
n  = tanh(x ⊕ r * h)
h' = (1 - z) * n + z * h
y  = ▷ h'
"""
# layer-normalised LSTM (examples/ln_lstm.rnn): renamed, reordered, commuted; the cell's norm named
LN_LSTM = LSTM_HEAD + """i = sigmoid(layernorm(x ⊕ h))
f = sigmoid(layernorm(x ⊕ h) + 1)
o = sigmoid(layernorm(x ⊕ h))
g = tanh(layernorm(x ⊕ h))
c' = f * c + i * g
h' = o * tanh(layernorm(c'))
y = ▷ h'
"""
LN_LSTM_OTHER = LSTM_HEAD + """y = ▷ h'
h' = tanh(normed) * out_gate
normed : H = layernorm(c')
c' = input_gate * candidate + c * forget
candidate = tanh(layernorm(h ⊕ x))
out_gate = sigmoid(layernorm(h ⊕ x))
forget = sigmoid(layernorm(h ⊕ x) + 1)
input_gate = sigmoid(layernorm(x ⊕ h))
"""
TIED_HEAD = "let H = 8\ninput  x : token[20]\noutput y : token[20] tied x\nstate  h : H\n"
TIED = TIED_HEAD + "e : H = MLP[linear](x)\nh' = tanh(e ⊕ h)\ny = ▷ h'\n"
TIED_OTHER = TIED_HEAD + "y = ▷ h'\nh' = tanh(h ⊕ emb)\nemb : H = MLP[linear](x)\n"
ZONEOUT = LSTM_HEAD + """i = sigmoid(x ⊕ h)
f = sigmoid((x ⊕ h) + 1)
o = sigmoid(x ⊕ h)
g = tanh(x ⊕ h)
c' = zoneout[0.5](f * c + i * g)
h' = zoneout[0.05](o * tanh(c'))
y = ▷ vdropout[0.3](h')
"""
STATIC = HEAD + "input  key : real[4] static\nk : H = MLP[tanh](key)\nh' = tanh(x ⊕ h ⊕ k)\ny = ▷ h'\n"

EQUIVALENT = {
    "renamed, reordered, commuted": (DOTS, DOTS_RENAMED),
    "MLP vs layers written out (transition)": (DT, DT_WRITTEN),
    "MLP vs layers written out (output)": (DO, DO_WRITTEN),
    "intermediate name": (RNN, RNN_NAMED),
    "LSTM gates in another order": (LSTM, LSTM_REORDERED),
    "GRU two ways": (GRU, GRU_OTHER),
    "GRU, Cho's and PyTorch's update gate": (GRU, GRU_TORCH),
    "layernorm LSTM two ways": (LN_LSTM, LN_LSTM_OTHER),
    "tied embedding, renamed and reordered": (TIED, TIED_OTHER),
    "zoneout LSTM, gates commuted": (ZONEOUT, ZONEOUT.replace("f * c + i * g", "g * i + c * f")),
    "static input, operands commuted": (STATIC, STATIC.replace("x ⊕ h ⊕ k", "k ⊕ h ⊕ x")),
}

# (A, B, where in A, where in B, message): the first difference
NOT_EQUIVALENT = {
    "another activation": (DOTS, DOTS.replace("h'    = tanh(z ⊕ h)", "h'    = sigmoid(z ⊕ h)"),
                           "a.rnn:6:9", "b.rnn:6:9", "tanh vs sigmoid"),
    "a missing shortcut": (DOTS, DOTS.replace("h'    = tanh(z ⊕ h)", "h'    = tanh(MLP[linear](z))"),
                           "a.rnn:6:14", "b.rnn:6:18", "⊕ of 2 operands vs 1 (h unmatched)"),
    "a different width": (DOTS, DOTS.replace("z : H = tanh(x ⊕ h)", "z : 13 = tanh(x ⊕ h)"),
                          "a.rnn:5:9", "b.rnn:5:10", "tanh of width 12 vs 13"),
    "x ⊕ h vs x + h": (HEAD.replace("binary[6]", "real[12]", 1) + RNN[len(HEAD):],
                       HEAD.replace("binary[6]", "real[12]", 1) + RNN[len(HEAD):].replace("x ⊕ h", "x + h"),
                       "a.rnn:5:11", "b.rnn:5:11", "⊕ vs +"),
    "a gate dropped": (LSTM, LSTM.replace("o = sigmoid(x ⊕ h)\n", "").replace("o * tanh(c')", "tanh(c')"),
                       "a.rnn:11:6", "b.rnn:10:6", "* vs tanh"),
    "a layernorm dropped": (LN_LSTM, LN_LSTM.replace("tanh(layernorm(c'))", "tanh(c')"),
                            "a.rnn:11:15", "b.rnn:10:6", "layernorm vs +"),
    "a zoneout rate": (ZONEOUT, ZONEOUT.replace("zoneout[0.5]", "zoneout[0.4]"),
                       "a.rnn:10:6", "b.rnn:10:6", "zoneout[0.5] vs zoneout[0.4]"),
    "vdropout vs dropout": (ZONEOUT, ZONEOUT.replace("vdropout[0.3]", "dropout[0.3]"),
                            "a.rnn:12:7", "b.rnn:12:7", "vdropout[0.3] vs dropout[0.3]"),
    "tied vs untied": (TIED, TIED.replace(" tied x", ""), "a.rnn:7:7", "b.rnn:7:7", "⊕ (tied weight) vs ⊕"),
    "static vs per-step input": (STATIC, STATIC.replace(" static", ""), "a.rnn:5:1", "b.rnn:5:1",
                                 "input key : real[4] static vs input key : real[4]"),
}


def programs(tmp_path, a_text, b_text):
    (tmp_path / "a.rnn").write_text(a_text, encoding="utf-8")
    (tmp_path / "b.rnn").write_text(b_text, encoding="utf-8")
    return load_program(tmp_path / "a.rnn"), load_program(tmp_path / "b.rnn")


def assert_same_function(a, b, eq):
    """θ_B = map(θ_A), inputs and states renamed: the same loss, final states and gradients."""
    model_a, params, batch, state, _ = random_setup(a, T=6, B=3, dropout=False)
    model_b, *_ = random_setup(b, T=6, B=3, dropout=False)
    loss_a, grads_a, final_a = model_a.loss_and_grad(params, batch, state)
    params_b = rename_arrays(params, eq)
    assert set(params_b) == {p.name for p in b.params}
    batch_b = {eq.names.get(k, k): v for k, v in batch.items()}
    state_b = {eq.names[k]: v for k, v in state.items()}
    loss_b, grads_b, final_b = model_b.loss_and_grad(params_b, batch_b, state_b)
    assert abs(loss_a - loss_b) <= 1e-12 * abs(loss_a)
    for name, g in grads_a.items():
        sign = -1 if name in eq.negated else 1
        np.testing.assert_allclose(grads_b[eq.params[name]], sign * g, rtol=0, atol=1e-12 * np.abs(g).max())
    for name, value in final_a.items():
        np.testing.assert_allclose(final_b[eq.names[name]], value, rtol=0, atol=1e-12)


@pytest.mark.parametrize("case", EQUIVALENT)
def test_equivalent_pairs_are_equal_and_map_parameters(tmp_path, case):
    a, b = programs(tmp_path, *EQUIVALENT[case])
    eq = equivalent(a, b)
    assert eq, eq.difference
    if not eq.negated:  # the canonical text does not trade σ(a) for 1 − σ(−a); equivalent does
        assert canonical_text(a) == canonical_text(b)
    assert_same_function(a, b, eq)
    back = equivalent(b, a)
    assert back and {v: k for k, v in eq.params.items()}.keys() == back.params.keys()


def test_the_torch_gru_negates_the_update_gate_only(tmp_path):
    eq = equivalent(*programs(tmp_path, GRU, GRU_TORCH))
    assert eq.negated == {"z.W_x", "z.W_h", "z.b"}
    assert not equivalent(*programs(tmp_path, GRU, GRU_TORCH.replace("(1 - z) * n + z * h", "(1 - z) * n + r * h")))


def test_renaming_maps_names_and_parameters(tmp_path):
    eq = equivalent(*programs(tmp_path, DOTS, DOTS_RENAMED))
    assert {k: eq.names[k] for k in ("x", "h", "h'", "z", "o", "y")} == \
        {"x": "u", "h": "s", "h'": "s'", "z": "lower", "o": "deep", "y": "out"}
    assert eq.params["z.W_x"] == "lower.W_u" and eq.params["h'.W_h"] == "s'.W_s" and eq.params["y.b"] == "out.b"


@pytest.mark.parametrize("case", NOT_EQUIVALENT)
def test_non_equivalent_pairs_give_the_first_difference(tmp_path, case):
    a_text, b_text, where_a, where_b, message = NOT_EQUIVALENT[case]
    eq = equivalent(*programs(tmp_path, a_text, b_text))
    assert not eq
    assert str(eq.difference) == f"{tmp_path / where_a} vs {tmp_path / where_b}: {message}"


@pytest.mark.parametrize("stem", ["dots", "lstm", "gru", "dt", "char_dots", "dots_star", "ln_lstm", "lstm_zoneout",
                                  "word_lstm_tied", "lstm_conditioned"])
def test_every_example_equals_itself_with_the_identity_map(stem):
    p = load_program(EXAMPLES / f"{stem}.rnn")
    eq = equivalent(p, p)
    assert eq and all(k == v for k, v in eq.params.items()) and len(eq.params) == len(p.params)


def test_dt_and_dts_differ_by_the_shortcut():
    eq = equivalent(load_program(EXAMPLES / "dt.rnn"), load_program(EXAMPLES / "dts.rnn"))
    assert not eq and eq.difference.message == "⊕ of 1 operand vs 2 (h unmatched)"


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_exit_codes_and_output(tmp_path, capsys):
    programs(tmp_path, DOTS, DOTS_RENAMED)
    (tmp_path / "c.rnn").write_text(DOTS.replace("tanh(h' ⊕ x)", "relu(h' ⊕ x)"), encoding="utf-8")
    (tmp_path / "bad.rnn").write_text(DOTS.replace("tanh(z ⊕ h)", "tanh(q ⊕ h)"), encoding="utf-8")
    code, out, _ = cli(capsys, "equiv", tmp_path / "a.rnn", tmp_path / "b.rnn")
    assert code == 0 and out.startswith("equivalent:") and "z.W_x -> lower.W_u" in out
    code, out, _ = cli(capsys, "equiv", tmp_path / "a.rnn", tmp_path / "c.rnn")
    assert code == 3 and out == f"not equivalent: {tmp_path}/a.rnn:7:9 vs {tmp_path}/c.rnn:7:9: tanh vs relu\n"
    code, _, err = cli(capsys, "equiv", tmp_path / "a.rnn", tmp_path / "bad.rnn")
    assert code == 1 and f"{tmp_path}/bad.rnn:6:14: error: unbound name 'q'" in err
    code, _, err = cli(capsys, "equiv", tmp_path / "a.rnn")
    assert code == 2
    code, _, err = cli(capsys, "equiv", tmp_path / "a.rnn", tmp_path / "b.rnn", "--set", "Q=2")
    assert code == 2 and "unknown size 'Q'" in err
    code, out, _ = cli(capsys, "equiv", tmp_path / "a.rnn", tmp_path / "b.rnn", "--set", "H=9", "--format", "json")
    # H=9 applies to a.rnn only (b.rnn calls its size K)
    assert code == 3 and json.loads(out)["difference"].endswith("b.rnn:4:1: state h : 9 vs state s : 12")
    code, out, _ = cli(capsys, "equiv", "--help")
    assert code == 0 and "--map-checkpoint" in out


def test_check_canonical_prints_the_same_text_for_equivalent_specs(tmp_path, capsys):
    programs(tmp_path, LSTM, LSTM_REORDERED)
    texts = [cli(capsys, "check", "--canonical", tmp_path / f"{n}.rnn") for n in "ab"]
    assert texts[0][0] == texts[1][0] == 0 and texts[0][1] == texts[1][1]
    assert "next" in texts[0][1] and "sigmoid:12" in texts[0][1]
    assert cli(capsys, "check", tmp_path / "a.rnn")[1] == ""  # without the flag: silent


def test_map_checkpoint(tmp_path, capsys):
    """A run trained on A, mapped to B: eval on B gives A's number; errors are located."""
    from rnnalg.train import checkpoint as ckpt

    programs(tmp_path, DOTS, DOTS_RENAMED)
    a = load_program(tmp_path / "a.rnn")
    model, params, *_ = random_setup(a)
    params = {k: v.astype(np.float32) for k, v in params.items()}
    arrays = {**ckpt.with_prefix("param", params), **ckpt.with_prefix("best", params),
              **ckpt.with_prefix("opt", {f"m/{k}": v for k, v in params.items()}),
              "rng/data": np.zeros(6, np.uint64)}
    (tmp_path / "run").mkdir()
    ckpt.save(tmp_path / "run", "last", arrays, {"tag": "last"}, a)
    out = tmp_path / "mapped"
    code, text, err = cli(capsys, "equiv", tmp_path / "a.rnn", tmp_path / "b.rnn", "--map-checkpoint",
                          tmp_path / "run", "-o", out)
    assert code == 0, err
    b = load_program(tmp_path / "b.rnn")
    got, meta = ckpt.load(out, "last", program=b)
    assert meta["spec_text"] == DOTS_RENAMED
    np.testing.assert_array_equal(got["param/lower.W_u"], params["z.W_x"])
    np.testing.assert_array_equal(got["opt/m/s'.W_s"], params["h'.W_h"])
    np.testing.assert_array_equal(got["best/out.b"], params["y.b"])
    code, _, err = cli(capsys, "equiv", tmp_path / "a.rnn", tmp_path / "b.rnn", "--map-checkpoint",
                       tmp_path / "run", "-o", out)
    assert code == 2 and "already exists" in err
    code, _, err = cli(capsys, "equiv", tmp_path / "b.rnn", tmp_path / "a.rnn", "--map-checkpoint",
                       tmp_path / "run", "-o", tmp_path / "other")
    assert code == 1 and "trained with a different spec" in err and not (tmp_path / "other").exists()


def test_the_same_function_check_catches_a_wrong_map(tmp_path):
    """The 1e-12 comparison has teeth: swapping two weights of one ⊕ in the map changes the loss."""
    a, b = programs(tmp_path, DOTS, DOTS_RENAMED)
    eq = equivalent(a, b)
    eq.params["h'.W_z"], eq.params["h'.W_h"] = eq.params["h'.W_h"], eq.params["h'.W_z"]
    with pytest.raises(AssertionError):
        assert_same_function(a, b, eq)


def test_rename_arrays_negates_parameters_and_first_moments(tmp_path):
    eq = equivalent(*programs(tmp_path, GRU, GRU_TORCH))
    one = np.ones(2)
    adam = rename_arrays({"param/z.b": one, "best/z.b": one, "opt/m/z.b": one, "opt/v/z.b": one,
                          "opt/m/r.b": one, "opt/t": np.int64(3)}, eq)
    assert [adam[k][0] for k in ("param/z.b", "best/z.b", "opt/m/z.b", "opt/v/z.b", "opt/m/r.b")] == [-1, -1, -1, 1, 1]
    sgd = rename_arrays({"param/z.b": one, "opt/v/z.b": one}, eq)
    assert sgd["opt/v/z.b"][0] == -1  # SGD's velocity is a first moment


def test_either_spec_may_be_standard_input(monkeypatch, capsys):
    """`-` reads a spec from standard input, as for every command that takes one; not both."""
    import io
    import sys

    text = (EXAMPLES / "dts.rnn").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
    assert main(["equiv", str(EXAMPLES / "dt.rnn"), "-"]) == 3
    out = capsys.readouterr().out
    assert out.startswith(f"not equivalent: {EXAMPLES / 'dt.rnn'}:") and " vs <stdin>:" in out
    assert main(["equiv", "-", "-"]) == 2
    assert capsys.readouterr().err == "equiv: standard input holds one spec: give A or B as a file\n"


def test_map_checkpoint_writes_its_run_whole_or_not_at_all(tmp_path, capsys, monkeypatch):
    """-o under a file is a usage error (was NotADirectoryError's traceback); Ctrl-C while the
    second checkpoint is written leaves no OUT and no temporary folder (was OUT with `last` alone)."""
    from rnnalg.train import checkpoint as ckpt

    programs(tmp_path, DOTS, DOTS_RENAMED)
    a = load_program(tmp_path / "a.rnn")
    _, params, *_ = random_setup(a)
    arrays = {**ckpt.with_prefix("param", params), **ckpt.with_prefix("best", params),
              **ckpt.with_prefix("opt", {f"m/{k}": v for k, v in params.items()}), "rng/data": np.zeros(6, np.uint64)}
    (tmp_path / "run").mkdir()
    for tag in ("last", "best"):
        ckpt.save(tmp_path / "run", tag, arrays, {"tag": tag}, a)
    argv = ["equiv", tmp_path / "a.rnn", tmp_path / "b.rnn", "--map-checkpoint", tmp_path / "run", "-o"]
    code, _, err = cli(capsys, *argv, tmp_path / "a.rnn" / "mapped")
    assert code == 2 and err == f"-o {tmp_path / 'a.rnn' / 'mapped'}: {tmp_path / 'a.rnn'} is not a folder\n"

    saved, real = [], ckpt.save

    def interrupted(*args, **kwargs):
        saved.append(real(*args, **kwargs))
        if len(saved) == 2:
            raise KeyboardInterrupt
        return saved[-1]

    monkeypatch.setattr(ckpt, "save", interrupted)
    before = sorted(tmp_path.iterdir())
    assert cli(capsys, *argv, tmp_path / "mapped")[0] == 130
    assert sorted(tmp_path.iterdir()) == before  # no mapped/, no .mapped.*.tmp
