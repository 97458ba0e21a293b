"""`rnnalg compile -o model.py`: a standalone numpy module that gives what training runs, bit for bit."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rnnalg
from rnnalg.cli import main
from rnnalg.lower import emit_module
from rnnalg.testing import random_batch

ROOT = Path(__file__).resolve().parents[1]

RUN_ALONE = """
import sys
for blocked in ("rnnalg", "autograd", "lark"):
    sys.modules[blocked] = None  # the emitted module may need numpy only
sys.path.insert(0, sys.argv[1])
import numpy as np, model
data = np.load(sys.argv[2])
batch = {k[6:]: data[k] for k in data.files if k.startswith("batch/")}
params = model.init(np.random.default_rng(7))
noise = model.draw_noise(np.random.default_rng(8), *batch["mask"].shape)
loss, grads, final = model.loss_and_grad(params, batch, None, noise)
np.savez(sys.argv[3], loss=loss, **{"grad/" + k: v for k, v in grads.items()},
         **{"final/" + k: v for k, v in final.items()})
"""


@pytest.mark.parametrize("example", ["dots_star", "char_srnn2", "deep_input"])
def test_emitted_module_runs_alone_and_matches_bit_for_bit(tmp_path, example, capsys):
    spec = ROOT / "examples" / f"{example}.rnn"
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

    model = rnnalg.compile(program)
    params = model.init_params(np.random.default_rng(7))
    noise = model.draw_noise(np.random.default_rng(8), 6, 3)
    loss, grads, final = model.loss_and_grad(params, batch, None, noise)
    assert float(alone["loss"]) == loss
    for k, v in grads.items():
        assert np.array_equal(alone["grad/" + k], v), k
    for k, v in final.items():
        assert np.array_equal(alone["final/" + k], v), k


def test_training_runs_the_emitted_text():
    program = rnnalg.load_program(ROOT / "examples/dots.rnn")
    assert rnnalg.compile(program).source == emit_module(program)


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
