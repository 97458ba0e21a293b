"""The ONNX target (rnnalg/export/onnx_.py): every example spec and random specs, run by
onnxruntime in float32, against rnnalg's numpy forward in float64 on the same (float32)
numbers: padded batches, a carried initial state; the one-step model, run step by step,
reproduces the sequence; onnx.checker passes; bad parameters and constructs are clear errors."""
import dataclasses
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnnalg
from rnnalg.errors import SpecError, UsageError
from rnnalg.model import Model
from rnnalg.testing import random_setup

onnx = pytest.importorskip("onnx", reason="the ONNX export needs onnx: pip install 'rnnalg[export-onnx]'")
ort = pytest.importorskip("onnxruntime", reason="running the ONNX export needs onnxruntime: pip install 'rnnalg[export-onnx]'")

from rnnalg.export.onnx_ import export_onnx, step_path  # noqa: E402
from rnnalg.export.walk import first_sequence_input  # noqa: E402
from test_lowering_random import random_specs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.rnn"))
TOL = 1e-5  # onnxruntime float32 vs numpy float64: |a − b| ≤ TOL (1 + |b|)

LINKS = {  # the output's meaning, written independently of the export
    "binary": lambda a: 1.0 / (1.0 + np.exp(-a)),
    "token": lambda a: np.exp(a - a.max(-1, keepdims=True)) / np.exp(a - a.max(-1, keepdims=True)).sum(-1, keepdims=True),
    "real": lambda a: a,
}


def setup(program, T=5, B=3, seed=0, mask=True, state=True):
    """(model, params, batch, state) in float64 holding float32 numbers (what the export gets)."""
    model, params, batch, init, _ = random_setup(program, T=T, B=B, seed=seed, mask=mask, state=state,
                                                 dropout=False, backend="numpy")
    as32 = lambda d: None if d is None else {k: np.asarray(v, np.float32).astype(np.float64) for k, v in d.items()}  # noqa: E731
    return model, as32(params), batch, as32(init)


def feed(program, batch, state, names, t=None):
    """onnxruntime's inputs: spec inputs (step t, or all steps), states, and the mask."""
    out = {}
    for v in program.inputs:  # a static input is (B, ·) at every step
        value = batch[v.name] if t is None or v.name in program.static_inputs else batch[v.name][t]
        out[v.name] = np.asarray(value, np.int64 if v.kind == "token" else np.float32)
    T, B = batch[first_sequence_input(program).name].shape[:2]
    for s in program.states:
        out[s.prev.name] = np.zeros((B, s.prev.width), np.float32) if state is None else state[s.prev.name].astype(np.float32)
    if t is None:
        out["mask"] = np.asarray(batch.get("mask", np.ones((T, B))), np.float32)
    return {k: v for k, v in out.items() if k in names}


def run(path, inputs):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    values = session.run(None, feed(*inputs, names) if isinstance(inputs, tuple) else inputs)
    return dict(zip([o.name for o in session.get_outputs()], values))


def assert_close(got, want, what):
    err = np.abs(np.asarray(got, np.float64) - want) / (1.0 + np.abs(want))
    assert err.max() <= TOL, f"{what}: max error {err.max():.2e} > {TOL}"


def check_export(program, tmp_path, mask=True, state=True, seed=0):
    """Export with random parameters; the sequence model and the step model against numpy."""
    model, params, batch, init = setup(program, seed=seed, mask=mask, state=state)
    seq, step = export_onnx(program, tmp_path / "m.onnx", params)
    assert (seq, step) == (tmp_path / "m.onnx", tmp_path / "m.step.onnx")
    for path in (seq, step):
        onnx.checker.check_model(str(path), full_check=True)
    _, _, final, logits = model.forward(params, batch, init)
    got = run(seq, (program, batch, init))
    for h in program.heads:
        name = h.output.name
        assert_close(got[f"{name}.logits"], logits[name], f"{name}.logits")
        assert_close(got[name], LINKS[h.output.kind](logits[name]), name)
    for s in program.states:
        assert_close(got[s.next.name], final[s.prev.name], s.next.name)

    # the step model, step by step; padding is applied outside (a padded step keeps the state)
    T, B = batch[first_sequence_input(program).name].shape[:2]
    m = batch.get("mask", np.ones((T, B)))
    carried = {s.prev.name: (np.zeros((B, s.prev.width)) if init is None else init[s.prev.name])
               for s in program.states}
    for t in range(T):
        out = run(step, feed(program, batch, carried, [v.name for v in program.inputs] + list(carried), t=t))
        real = m[t] > 0
        for h in program.heads:
            assert_close(out[f"{h.output.name}.logits"][real], logits[h.output.name][t][real], f"step {t} logits")
            assert_close(out[h.output.name], LINKS[h.output.kind](out[f"{h.output.name}.logits"]), f"step {t} link")
        for s in program.states:
            prev = carried[s.prev.name]
            carried[s.prev.name] = prev + m[t][:, None] * (out[s.next.name] - prev)
    for s in program.states:
        assert_close(carried[s.prev.name], final[s.prev.name], f"stepped {s.next.name}")


@pytest.mark.parametrize("spec", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_matches_numpy(spec, tmp_path):
    check_export(rnnalg.load_program(spec, {"H": 6}), tmp_path)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(random_specs(), st.booleans(), st.booleans(), st.integers(0, 3))
def test_random_spec_matches_numpy(tmp_path, text, mask, state, seed):
    check_export(rnnalg.check(rnnalg.parse(text, "random.rnn")), tmp_path, mask=mask, state=state, seed=seed)


def test_names_shapes_and_initialisers(tmp_path):
    program = rnnalg.load_program(ROOT / "examples" / "lstm.rnn", {"H": 4})
    model = rnnalg.compile(program, backend="numpy")
    seq, step = export_onnx(model, tmp_path / "lstm", None)  # a Model is accepted; no .onnx suffix
    assert step == tmp_path / "lstm.step.onnx"
    seq_model, step_model = onnx.load(str(seq)), onnx.load(str(step))
    states = [s.prev.name for s in program.states]
    assert [i.name for i in seq_model.graph.input] == ["x"] + states + ["mask"]
    assert [i.name for i in step_model.graph.input] == ["x"] + states
    for m in (seq_model, step_model):
        assert [o.name for o in m.graph.output] == ["y", "y.logits"] + [s + "'" for s in states]
        assert m.opset_import[0].version >= 17
    assert sum(n.op_type == "Scan" for n in seq_model.graph.node) == 1
    default = model.init_params(np.random.default_rng(0))  # params=None: rnnalg's init, seed 0
    for m in (seq_model, step_model):
        inits = {t.name: onnx.numpy_helper.to_array(t) for t in m.graph.initializer}
        assert sorted(inits) == sorted(default)
        for name, value in default.items():
            np.testing.assert_array_equal(inits[name], value)


def test_token_input_is_int64_and_mask_name_moves(tmp_path):
    seq, _ = export_onnx(rnnalg.load_program(ROOT / "examples" / "word_rnn.rnn", {"H": 3}), tmp_path / "w.onnx")
    x = onnx.load(str(seq)).graph.input[0]
    assert x.name == "x" and x.type.tensor_type.elem_type == onnx.TensorProto.INT64
    text = "input mask : real[2]\noutput y : binary[2]\nstate h : 3\nh' = tanh(mask ⊕ h)\ny = ▷ h'\n"
    seq, _ = export_onnx(rnnalg.check(rnnalg.parse(text, "m.rnn")), tmp_path / "m.onnx")
    assert [i.name for i in onnx.load(str(seq)).graph.input] == ["mask", "h", "mask_"]


@pytest.mark.parametrize("change, message", [
    (lambda p: p.pop("h'.W_x"), "lacks \"h'.W_x\""),
    (lambda p: p.update(extra=np.zeros(2)), "unknown 'extra'"),
    (lambda p: p.update({"y.b": np.zeros(5)}), "'y.b' has shape (5,), the spec"),
])
def test_bad_params_are_named_and_write_nothing(tmp_path, change, message):
    program = rnnalg.load_program(ROOT / "examples" / "rnn.rnn", {"H": 4})
    params = Model(program, backend="numpy").init_params(np.random.default_rng(0))
    change(params)
    with pytest.raises(UsageError, match="export onnx") as err:
        export_onnx(program, tmp_path / "r.onnx", params)
    assert message in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_construct_onnx_cannot_express_is_a_located_error(tmp_path):
    program = rnnalg.load_program(ROOT / "examples" / "rnn.rnn", {"H": 4})
    params = Model(program, backend="numpy").init_params(np.random.default_rng(0))
    eqns = tuple(dataclasses.replace(e, op="softsign") if e.op == "tanh" else e for e in program.eqns)
    with pytest.raises(SpecError, match=r"rnn\.rnn:\d+:\d+: error: the ONNX export cannot express 'softsign'"):
        export_onnx(dataclasses.replace(program, eqns=eqns), tmp_path / "r.onnx", params)
    assert list(tmp_path.iterdir()) == []


def test_missing_onnx_and_unwritable_folder_are_usage_errors(tmp_path, monkeypatch):
    program = rnnalg.load_program(ROOT / "examples" / "rnn.rnn", {"H": 4})
    with pytest.raises(UsageError, match="no such folder"):
        export_onnx(program, tmp_path / "absent" / "r.onnx")
    (tmp_path / "taken.onnx").mkdir()  # a folder where the file should go
    with pytest.raises(UsageError, match="taken.onnx: cannot write the ONNX model"):
        export_onnx(program, tmp_path / "taken.onnx")
    (tmp_path / "taken.onnx").rmdir()
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(UsageError, match=r"needs the onnx package .*rnnalg\[export-onnx\]"):
        export_onnx(program, tmp_path / "r.onnx")
    assert list(tmp_path.iterdir()) == []


def test_step_path():
    assert step_path("a/dots.onnx") == Path("a/dots.step.onnx")
    assert step_path("dots") == Path("dots.step.onnx")


CORNERS = {  # what the examples and random specs do not all reach
    "no state": "input x : token[5]\ninput w : real[2]\noutput y : real[2]\nu : 3 = relu(x ⊕ w)\ny = ▷ (u ⊕ x)\n",
    "pre value read by a scan op": ("input x : real[3]\ninput x2 : real[1]\noutput y : binary[2]\nstate h : 4\n"
                                    "u : 4 = sigmoid(x ⊕ x2)\nh' = u * tanh(x ⊕ h) + 0.5 * h - 1\ny = ▷ h'\n"),
    "previous state read after the scan": ("input x : binary[3]\noutput y : token[4]\nstate h : 4\n"
                                           "h' = lp[3, 2](x ⊕ h)\ny = ▷ MLP[maxout[2] 4](h ⊕ h' ⊕ x)\n"),
    "two outputs, a state read only by the next": ("input x : real[2]\noutput y : real[2]\noutput z : binary[3]\n"
                                                   "state a : 3\nstate b : 3\na' = tanh(x ⊕ a)\n"
                                                   "b' = dropout[0.5](relu(a' ⊕ b)) - a'\ny = ▷ b'\nz = ▷ (a' ⊕ x)\n"),
}


@pytest.mark.parametrize("text", CORNERS.values(), ids=CORNERS.keys())
def test_corner_specs_match_numpy(text, tmp_path):
    check_export(rnnalg.check(rnnalg.parse(text, "corner.rnn")), tmp_path)


def test_jsb_test_nll_matches_rnnalg(tmp_path):
    """Real data: JSB's test split (the copy shipped in the package), whole pieces in padded
    batches, rnnalg's default init (params=None): the NLL from the ONNX logits equals rnnalg's."""
    from rnnalg.data import load_dataset, music_batches
    from rnnalg.train.feed import evaluate_split

    program = rnnalg.load_program(ROOT / "examples" / "dots.rnn", {"H": 8})
    seq, _ = export_onnx(program, tmp_path / "dots.onnx")
    params = {k: v.astype(np.float64) for k, v in Model(program).init_params(np.random.default_rng(0)).items()}
    data = load_dataset("jsb")
    want, count = evaluate_split(Model(program, np.float64, "numpy"), params, data, "test", 32)
    session = ort.InferenceSession(str(seq), providers=["CPUExecutionProvider"])
    total = 0.0
    for b in music_batches(data.splits["test"], 32, None):
        zeros = np.zeros((b.inputs.shape[1], 8), np.float32)
        a = session.run(["y.logits"], {"x": b.inputs, "h": zeros, "mask": b.mask})[0].astype(np.float64)
        total += float(((np.logaddexp(0, a) - a * b.targets).sum(-1) * b.mask).sum())
    assert count > 4000
    assert abs(total - want) <= 1e-6 * abs(want), (total / count, want / count)


def sequence_error(program, folder) -> float:
    """The largest |onnxruntime − numpy| / (1 + |numpy|) of the sequence model's outputs, logits
    and final states (T = 5, B = 3, seed 0: `setup`'s batch)."""
    model, params, batch, init = setup(program)
    seq, _ = export_onnx(program, folder / "m.onnx", params)
    _, _, final, logits = model.forward(params, batch, init)
    got = run(seq, (program, batch, init))
    pairs = [(got[s.next.name], final[s.prev.name]) for s in program.states]
    for h in program.heads:
        name = h.output.name
        pairs += [(got[f"{name}.logits"], logits[name]), (got[name], LINKS[h.output.kind](logits[name]))]
    return max(float((np.abs(np.asarray(g, np.float64) - w) / (1.0 + np.abs(w))).max()) for g, w in pairs)


def test_the_readme_worst_error_is_the_examples_at_their_own_sizes(tmp_path):
    """README's Export section quotes the worst error over the examples at their own sizes."""
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    said = re.search(r"within 1e-5 of rnnalg's \(tests/test_export_onnx\.py; worst (\S+), `(\w+\.rnn)`", readme)
    assert said, "README.md's ONNX paragraph no longer quotes the worst error"
    errors = {spec.name: sequence_error(rnnalg.load_program(spec), tmp_path) for spec in EXAMPLES}
    worst = max(errors, key=errors.get)
    assert (float(f"{errors[worst]:.1e}"), worst) == (float(said.group(1)), said.group(2)), errors
