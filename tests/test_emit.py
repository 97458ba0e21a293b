"""`rnnalg compile -o model.py`: a standalone numpy module, what training runs."""
import linecache
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rnnalg
from rnnalg.cli import main
from rnnalg.lower import emit_module
from rnnalg.reference import reference_forward, reference_loss_and_grad
from rnnalg.testing import random_batch
from rnnalg.train.runs import compile_model

ROOT = Path(__file__).resolve().parents[1]

RUN_ALONE = """
import sys
for blocked in ("rnnalg", "autograd", "lark"):
    sys.modules[blocked] = None  # the emitted module may need numpy only
sys.path.insert(0, sys.argv[1])
import numpy as np, model
data = np.load(sys.argv[2])
batch = {k[6:]: data[k] for k in data.files if k.startswith("batch/")}
params = model.init(np.random.default_rng(7), dtype=np.float64)
noise = model.draw_noise(np.random.default_rng(8), *batch["mask"].shape, dtype=np.float64)
loss, grads, final = model.loss_and_grad(params, batch, None, noise)
np.savez(sys.argv[3], loss=loss, **{"param/" + k: v for k, v in params.items()},
         **{"noise/" + k: v for k, v in (noise or {}).items()},
         **{"grad/" + k: v for k, v in grads.items()}, **{"final/" + k: v for k, v in final.items()})
"""


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))


# every op: the examples, and a spec with the elementwise ops the examples do not use (sub, -h)
ELEMENTWISE = """let H = 4
input x : token[5]
output y : real[3]
state h : H
g = sigmoid(x ⊕ h)
u : H = MLP[tanh](x) - 0.5
h' = g * h - (1 - g) * -tanh(u ⊕ h)
y = ▷ ((h' - h) ⊕ x)
"""


@pytest.mark.parametrize("example", ["dots_star", "char_srnn2", "deep_input", "lstm", "gru", "elementwise"])
def test_emitted_module_runs_alone_and_matches_the_reference(tmp_path, example, capsys):
    """The written module, with rnnalg, autograd and lark unimportable, against the autograd
    reference (float64) on its own parameters and dropout masks."""
    spec = ROOT / "examples" / f"{example}.rnn"
    if example == "elementwise":
        spec = tmp_path / "elementwise.rnn"
        spec.write_text(ELEMENTWISE, encoding="utf-8")
    assert main(["compile", str(spec), "--set", "H=12", "-o", str(tmp_path / "model.py")]) == 0
    assert "wrote" in capsys.readouterr().err
    program = rnnalg.load_program(spec, {"H": 12})
    batch = random_batch(program, 6, 3, np.random.default_rng(0))
    np.savez(tmp_path / "batch.npz", **{"batch/" + k: v for k, v in batch.items()})
    script = tmp_path / "run.py"
    script.write_text(RUN_ALONE)
    subprocess.run([sys.executable, str(script), str(tmp_path), str(tmp_path / "batch.npz"),
                    str(tmp_path / "out.npz")], check=True, cwd=tmp_path)
    alone = np.load(tmp_path / "out.npz")

    def part(prefix):
        return {k[len(prefix):]: alone[k] for k in alone.files if k.startswith(prefix)}

    params, noise = part("param/"), part("noise/") or None
    assert (noise is not None) == (example == "dots_star")
    ref_loss, ref_grads = reference_loss_and_grad(program, params, batch, None, noise)
    _, ref_final = reference_forward(program, params, batch, None, noise)
    assert abs(float(alone["loss"]) - ref_loss) < 1e-9 * abs(ref_loss)
    grads, final = part("grad/"), part("final/")
    assert set(grads) == set(ref_grads) and set(final) == set(ref_final)
    for k, g in ref_grads.items():
        assert _rel(grads[k], g) < 1e-6, k
    for k, v in ref_final.items():
        assert _rel(final[k], v) < 1e-9, k


def _trainer_functions(model):
    namespace = model._module
    return [namespace[name] for name in ("init", "initial_state", "draw_noise", "forward", "loss_and_grad",
                                         "probabilities")]


def test_training_runs_the_emitted_text(tmp_path, capsys):
    """The code objects `rnnalg train` executes (its model from `compile_model`, sizes from --set)
    were compiled from exactly the text `rnnalg compile -o` writes, line for line."""
    spec = ROOT / "examples" / "dots.rnn"
    written = tmp_path / "model.py"
    assert main(["compile", str(spec), "--set", "H=9", "-o", str(written)]) == 0
    capsys.readouterr()
    model = compile_model(rnnalg.load_program(spec, {"H": 9}))
    for function in _trainer_functions(model):
        lines = linecache.getlines(function.__code__.co_filename)
        assert "".join(lines) == written.read_text(encoding="utf-8"), function.__name__
    other = compile_model(rnnalg.load_program(spec, {"H": 10}))  # the check can fail: other sizes, other text
    assert "".join(linecache.getlines(_trainer_functions(other)[0].__code__.co_filename)) != written.read_text()


def test_spec_text_and_file_name_cannot_inject_code():
    text = (ROOT / "examples/rnn.rnn").read_text() + '\n# """ ; import os ; os.system("x")\n# \r evil = 1\n'
    program = rnnalg.check(rnnalg.parse(text, 'we"""ird\nname.rnn'))
    source = emit_module(program)
    namespace = {}
    exec(compile(source, "m", "exec"), namespace)
    assert "evil" not in namespace and "os" not in namespace
    assert sorted(n for n, *_ in namespace["PARAMS"]) == sorted(p.name for p in program.params)


def test_emitted_code_names_come_from_identifiers_only():
    program = rnnalg.load_program(ROOT / "examples/dots.rnn")
    source = emit_module(program)
    for p in program.params:  # spec names appear only as string literals
        assert repr(p.name) in source
    compile(source, "m", "exec")
