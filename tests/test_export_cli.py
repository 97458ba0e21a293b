"""`rnnalg export` from the command line and `rnnalg.export` from Python: the files it writes
import with their framework alone; the core never imports a framework; a trained checkpoint
exported to torch and jax gives `rnnalg eval`'s test NLL on JSB; bad command lines are named."""
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rnnalg
from rnnalg.cli import main

ROOT = Path(__file__).resolve().parents[1]
HAS = {name: importlib.util.find_spec(name) is not None for name in ("torch", "jax")}
FRAMEWORKS = ("torch", "jax", "jaxlib", "onnx", "onnxruntime")


def needs(name):
    return pytest.mark.skipif(not HAS[name], reason=f"{name} is not installed (pip install 'rnnalg[export-{name}]')")


def python(code, cwd, *args, timeout=240):
    """Run `code` in a fresh interpreter; -> its last stdout line parsed as JSON."""
    run = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                         timeout=timeout)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


# check, compile, train and export --to torch (no checkpoint) in one process: no framework imported
CORE = f"""
import json, sys
import rnnalg, rnnalg.cli, rnnalg.export, rnnalg.commands.export
from rnnalg.cli import main
folder = sys.argv[1]
assert main(["check", "examples/rnn.rnn"]) == 0
assert main(["compile", "examples/rnn.rnn", "-o", folder + "/rnn_numpy.py"]) == 0
assert main(["export", "examples/rnn.rnn", "--set", "H=6", "--to", "torch", "-o", folder + "/rnn_torch.py"]) == 0
assert main(["train", "examples/rnn.rnn", "--set", "H=6", "--epochs", "2", "--quiet", "--seed", "3",
             "--out", folder + "/run"]) == 0
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {FRAMEWORKS!r})))
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 2-epoch run of examples/rnn.rnn (H=6) on JSB, made by a process that must not import
    any framework along the way (check, compile -o, export --to torch, train)."""
    folder = tmp_path_factory.mktemp("export_core")
    imported = python(CORE, ROOT, folder)
    return folder, imported


def test_the_core_imports_no_framework(trained):
    folder, imported = trained
    assert imported == []
    assert (folder / "rnn_torch.py").exists() and (folder / "run" / "best.json").exists()


IMPORT_ALONE = """
import json, sys
sys.path[:] = [p for p in sys.path if "rnnalg" not in p and p not in ("", ".")] + [sys.argv[1]]
module = __import__(sys.argv[2])
print(json.dumps({"rnnalg": sorted(m for m in sys.modules if m.startswith("rnnalg")),
                  "names": sorted(n for n in ("Model", "PARAM_NAMES", "init", "apply", "loss", "step")
                                  if hasattr(module, n))}))
"""


@pytest.mark.parametrize("target", ["torch", "jax"])
def test_the_exported_file_imports_with_its_framework_alone(target, tmp_path, capsys):
    if not HAS[target]:
        pytest.skip(f"{target} is not installed")
    out = tmp_path / f"dots_{target}.py"
    assert main(["export", "examples/dots.rnn", "--to", target, "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"wrote {out}" in err and re.search(r"exported .*dots.rnn to \w+ in [\d.]+ s", err)
    result = python(IMPORT_ALONE, tmp_path, tmp_path, out.stem)
    assert result["rnnalg"] == []
    want = ["Model", "PARAM_NAMES"] if target == "torch" else ["apply", "init", "loss", "step"]
    assert set(want) <= set(result["names"])
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary files left


@pytest.mark.parametrize("argv, message", [
    (["--to", "torch", "-o", "m.onnx"], "-o m.onnx: --to torch writes a .py file"),
    (["--to", "onnx", "-o", "m.py"], "-o m.py: --to onnx writes a .onnx file"),
    (["--to", "torch", "-o", "m.py", "--which", "last"], "--which needs --checkpoint"),
    (["--to", "mxnet", "-o", "m.py"], "invalid choice: 'mxnet'"),
    (["--to", "torch", "-o", "no/such/folder/m.py"], "cannot write no/such/folder/m.py"),
])
def test_bad_command_lines_are_named(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(ROOT / "examples" / "dots.rnn"), *argv]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_missing_checkpoint_is_a_checkpoint_error(tmp_path, capsys):
    code = main(["export", "examples/rnn.rnn", "--to", "torch", "-o", str(tmp_path / "m.py"),
                 "--checkpoint", str(tmp_path / "nothing")])
    assert code == 1 and "Traceback" not in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


TABLES = ("PARAMS", "SUMMARIES", "TIED", "STATES", "INPUTS", "HEADS", "DROPOUT")


@pytest.mark.parametrize("spec", sorted(p.name for p in (ROOT / "examples").glob("*.rnn")))
def test_the_exports_layout_tables_are_the_numpy_modules(spec):
    """One function writes them (lower/module_text.layout_tables; export/walk.py had its own copy):
    the table literals of the numpy module and of the torch and jax modules hold the same rows."""
    import ast

    from rnnalg.export.jax_ import jax_source
    from rnnalg.export.torch_ import torch_source
    from rnnalg.lower.emit import emit_module
    from rnnalg.lower.module_text import layout_tables

    program = rnnalg.check(rnnalg.load(ROOT / "examples" / spec))

    def tables_of(text):
        found = {}
        for node in ast.parse(text).body:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) in TABLES:
                found[node.targets[0].id] = ast.literal_eval(node.value)
        return found

    expected = {name.upper(): ast.literal_eval(text) for name, text in layout_tables(program).items()}
    expected["TIED"] = expected.pop("TIES")
    assert set(expected) == set(TABLES) and expected["PARAMS"]
    for text in (emit_module(program), torch_source(program), jax_source(program)):
        assert tables_of(text) == expected


def test_the_python_api_dispatches_and_refuses_unknown_targets(tmp_path):
    program = rnnalg.load_program("examples/rnn.rnn", {"H": 3})
    assert callable(rnnalg.export)  # the package is callable: rnnalg.export(program, target, path)
    assert rnnalg.export(program, "jax", tmp_path / "rnn_jax.py") == [tmp_path / "rnn_jax.py"]
    with pytest.raises(rnnalg.UsageError, match="unknown target 'tf'"):
        rnnalg.export(program, "tf", tmp_path / "x.py")


# The checkpoint's parameters exported, then the JSB test split scored by the exported code
# in float64, batch by batch as `rnnalg eval` does (64 whole pieces a batch).
EVAL = """
import json, sys
import numpy as np
import rnnalg
from rnnalg.data import load_dataset
from rnnalg.train.feed import batches, carried_state, model_batch
target, folder = sys.argv[1], sys.argv[2]
program = rnnalg.load_program("examples/rnn.rnn", {"H": 6})
sys.path.insert(0, folder)
module = __import__("rnn_" + target)
if target == "torch":
    import torch
    net = module.load(folder + "/rnn_torch.pt")
    net = module.Model({k: v.double() for k, v in net.rnnalg_params().items()})
    evaluate = lambda batch, state: net.evaluate(batch, state)
else:
    import jax
    jax.config.update("jax_enable_x64", True)
    params = {k: np.asarray(v, dtype=np.float64) for k, v in module.load_params(folder + "/rnn_jax.npz").items()}
    run = jax.jit(module.evaluate)
    evaluate = lambda batch, state: run(params, batch, state)
total, count, state = 0.0, 0, None
for batch in batches(load_dataset("jsb"), "test", 64, None):
    nll, n, state = evaluate(model_batch(program, batch), carried_state(batch, state))
    total, count = total + float(nll), count + int(n)
print(json.dumps({"nll": total / count, "count": count}))
"""


@pytest.mark.parametrize("target", ["torch", "jax"])
def test_an_exported_checkpoint_gives_rnnalg_evals_test_nll(target, trained, tmp_path, capsys):
    if not HAS[target]:
        pytest.skip(f"{target} is not installed")
    from rnnalg.data import load_dataset
    from rnnalg.train import checkpoint as ckpt
    from rnnalg.train.feed import evaluate_split

    folder, _ = trained
    run = folder / "run"
    out = tmp_path / f"rnn_{target}.py"
    assert main(["export", "examples/rnn.rnn", "--to", target, "-o", str(out), "--checkpoint", str(run)]) == 0
    params_file = out.stem + (".pt" if target == "torch" else ".npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, params_file])
    capsys.readouterr()
    assert main(["eval", "examples/rnn.rnn", "--checkpoint", str(run)]) == 0
    printed = float(re.search(r"test NLL per frame: ([\d.]+)", capsys.readouterr().out).group(1))

    program = rnnalg.load_program("examples/rnn.rnn", {"H": 6})  # the sizes the run was trained with
    arrays, _ = ckpt.load(run, "best", program=program)
    params = {k: v.astype(np.float64) for k, v in ckpt.split_prefix(arrays, "param").items()}
    nll, count = evaluate_split(rnnalg.compile(program, np.float64), params, load_dataset("jsb"), "test", 64)
    exported = python(EVAL, ROOT, target, tmp_path)
    assert exported["count"] == count
    assert abs(exported["nll"] - nll / count) <= 1e-6 * (nll / count)
    assert abs(exported["nll"] - printed) <= 6e-5  # `rnnalg eval` prints 4 decimals (float32)


def test_the_readme_export_example_runs(tmp_path, monkeypatch):
    if not HAS["torch"]:
        pytest.skip("torch is not installed")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Export", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "dots.rnn").write_text((ROOT / "examples" / "dots.rnn").read_text(encoding="utf-8"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    namespace = {}
    exec(compile(block, "README.md", "exec"), namespace)
    sys.modules.pop("dots_torch", None)
    assert np.isfinite(namespace["nll"].item()) and tuple(namespace["p_next"]["y"].shape) == (4, 88)
    assert tuple(namespace["state"]["h"].shape) == (4, 32)


# ---- bench/gpu_check.py: prepared for a GPU machine; here it says "no CUDA", and its checks run on the CPU

def test_gpu_check_without_cuda_says_so_and_exits_0():
    run = subprocess.run([sys.executable, "bench/gpu_check.py"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    if "no CUDA" not in run.stdout:  # a machine with a GPU: the table instead
        assert "| model | B |" in run.stdout
    else:
        assert run.stdout.startswith("no CUDA: nothing to check on a GPU here (")


@pytest.mark.skipif(not (HAS["torch"] and HAS["jax"]), reason="needs torch and jax")
def test_gpu_check_runs_its_checks_on_the_cpu():
    run = subprocess.run([sys.executable, "bench/gpu_check.py", "--device", "cpu", "--quick", "--quiet",
                          "--models", "lstm"], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [line.strip("|").split("|") for line in run.stdout.splitlines() if line.startswith("| lstm |")]
    assert [int(r[1]) for r in rows] == [1, 4]
    for r in rows:
        assert all(float(cell) > 0 for cell in r[2:6])  # every column ran (cuDNN's stand-in on the CPU)
        assert all(float(e) < 1e-4 for e in r[6].split("/"))


# ---- examples/train_torch.py: the exported DOT(S) trained by PyTorch's Adam on JSB

@needs("torch")
def test_train_torch_example_lowers_the_validation_nll():
    run = subprocess.run([sys.executable, "examples/train_torch.py", "--epochs", "1", "--max-batches", "20",
                          "--set", "H=16"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    nll = [float(x) for x in re.findall(r"^epoch \d+  valid NLL per frame ([\d.]+)", run.stdout, re.M)]
    assert len(nll) == 2 and nll[1] < nll[0] - 1.0, run.stdout
    assert len((ROOT / "examples" / "train_torch.py").read_text(encoding="utf-8").splitlines()) <= 80


def small_params(spec="rnn.rnn"):
    program = rnnalg.load_program(ROOT / "examples" / spec, {"H": 3})
    return program, rnnalg.compile(program, backend="numpy").init_params(np.random.default_rng(0))


def test_without_torch_an_export_with_parameters_writes_nothing(tmp_path, monkeypatch):
    """`import torch` failing (the extra not installed): the error names the extra, and no module
    is left behind without the state_dict it would load."""
    program, params = small_params()
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    with pytest.raises(rnnalg.errors.UsageError, match=r"rnnalg\[export-torch\]"):
        rnnalg.export(program, "torch", tmp_path / "m.py", params=params)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("target, suffix, second", [("jax", ".py", "m.npz"), ("onnx", ".onnx", "m.step.onnx")])
def test_a_second_file_that_cannot_be_written_leaves_neither(target, suffix, second, tmp_path):
    """The module and its parameters (jax), the sequence and the step model (onnx): both or none."""
    if target == "onnx":
        pytest.importorskip("onnx")
    program, params = small_params()
    (tmp_path / second).mkdir()  # a folder where the second file goes
    with pytest.raises(rnnalg.errors.UsageError, match=re.escape(second)):
        rnnalg.export(program, target, tmp_path / f"m{suffix}", params=params)
    assert sorted(p.name for p in tmp_path.iterdir()) == [second]


def test_ctrl_c_while_the_files_are_written_leaves_none(tmp_path, monkeypatch):
    """A KeyboardInterrupt while the second file (the parameters) is written: no module is left
    without them, and no temporary file."""
    import rnnalg.atomic as atomic

    program, params = small_params()
    real, calls = atomic.os.fsync, []

    def interrupted(fd):
        calls.append(fd)
        real(fd)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        rnnalg.export(program, "jax", tmp_path / "m.py", params=params)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["dots.rnn", "last-0123abcd.npz"])
def test_a_checkpoint_that_is_another_file_is_named_as_such(name, tmp_path, capsys):
    """--checkpoint given a file that is no checkpoint's .json (a spec, the .npz): the error names
    that file, not `<file>/best.json` as a missing run directory."""
    given = tmp_path / name
    given.write_bytes(b"x")
    code = main(["export", "examples/rnn.rnn", "--to", "torch", "-o", str(tmp_path / "m.py"), "--checkpoint", str(given)])
    err = capsys.readouterr().err
    assert code == 1 and err == f"{given}: error: not a checkpoint: give a run directory or its best.json or last.json\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_which_best_of_a_run_without_one_is_refused_not_replaced(tmp_path, monkeypatch, capsys):
    """A run stopped before its first validation has only `last`: the default falls back to it
    with a note, but `--which best` asked for what is not there."""
    monkeypatch.setenv("RNNALG_BACKEND", "numpy")
    run = tmp_path / "run"
    assert main(["train", "examples/rnn.rnn", "--set", "H=3", "--time-limit", "1e-9", "--quiet", "--out", str(run)]) == 0
    capsys.readouterr()
    argv = ["export", "examples/rnn.rnn", "--to", "jax", "-o", str(tmp_path / "m.py"), "--checkpoint", str(run)]
    assert main([*argv, "--which", "best"]) == 1
    assert capsys.readouterr().err == f"{run / 'best.json'}: error: no checkpoint found\n"
    assert not (tmp_path / "m.py").exists()
    assert main(argv) == 0
    assert "no best checkpoint yet; using the last one" in capsys.readouterr().err
