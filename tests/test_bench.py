"""`rnnalg bench` and bench/compare.py: output format, usage errors, timing blocks, torch and JAX models."""
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnalg.cli import main
from rnnalg.commands.bench import format_ms, format_rate, time_block

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

LINE = re.compile(r"rnn\.rnn  B=2 T=3 (float32|float64) numpy  forward\+backward: ([\d.]+) ms median "
                  r"\(([\d.]+)–([\d.]+) over 4 runs\), ([\d.]+)(k|M)? frames/s( \(CPU time\))?")


@pytest.mark.parametrize("dtype, clock", [("float32", "wall"), ("float64", "wall"), ("float32", "cpu")])
def test_bench_prints_median_and_spread(capsys, dtype, clock):
    rc = main(["bench", str(EXAMPLES / "rnn.rnn"), "--set", "H=8", "-B", "2", "-T", "3",
               "--repeats", "4", "--dtype", dtype, "--clock", clock])
    first, out = capsys.readouterr().out.strip().splitlines()
    assert rc == 0
    assert re.fullmatch(r"rnn\.rnn  B=2 T=3 float(32|64) numpy  first call [\d.]+ ms", first), first
    m = LINE.fullmatch(out)
    assert m, out
    assert m.group(1) == dtype
    assert (m.group(7) is not None) == (clock == "cpu")
    median, lo, hi = (float(m.group(i)) for i in (2, 3, 4))
    assert 0 < lo <= median <= hi
    rate = float(m.group(5)) * {"k": 1e3, "M": 1e6, None: 1}[m.group(6)]
    assert rate == pytest.approx(2 * 3 / (median * 1e-3), rel=0.02)  # frames = T·B per call


@pytest.mark.parametrize("flags, word", [(["-B", "0"], "-B"), (["-T", "-1"], "-T"), (["--repeats", "0"], "--repeats"),
                                         (["--dtype", "float16"], "float16"), (["-B", "two"], "two")])
def test_bench_bad_values_are_usage_errors(capsys, flags, word):
    rc = main(["bench", str(EXAMPLES / "rnn.rnn"), "--set", "H=8"] + flags)
    err = capsys.readouterr().err
    assert rc == 2
    assert word in err and "Traceback" not in err


def test_bench_missing_spec_is_an_error_not_a_traceback(capsys, tmp_path):
    rc = main(["bench", str(tmp_path / "missing.rnn")])
    assert rc != 0
    assert "missing.rnn" in capsys.readouterr().err


def test_time_block_counts_warmup_and_respects_budget():
    calls = []
    times = time_block(lambda: calls.append(1), repeats=5, warmup=2)
    assert len(calls) == 7 and len(times) == 5 and np.all(times >= 0)

    import time
    calls.clear()
    times = time_block(lambda: (calls.append(1), time.sleep(0.01)), repeats=50, warmup=0, budget=0.0)
    assert len(times) == 3 and len(calls) == 3  # the budget is spent: stop after the minimum of 3
    assert np.all(times >= 0.009)

    cpu = time_block(lambda: time.sleep(0.01), repeats=3, warmup=0, clock="cpu")
    assert np.all(cpu < 0.005)  # CPU time does not count sleeping (or waiting for other processes)


def test_format_rate_and_ms():
    assert [format_rate(x) for x in (812.0, 130456.0, 2.5e6)] == ["812", "130k", "2.5M"]
    assert [format_ms(s) for s in (0.000123, 0.01234, 0.1234, 2.5)] == ["0.123", "12.3", "123", "2500"]


# ---- bench/compare.py ------------------------------------------------------------------------

@pytest.fixture
def compare(monkeypatch):
    """bench/compare.py as a module; sys.path and the bench helper modules are restored after."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    spec = importlib.util.spec_from_file_location("bench_compare", ROOT / "bench" / "compare.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_compare"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    yield module
    for name in ("bench_compare", "report", "torch_models", "jax_models", "compare"):
        sys.modules.pop(name, None)


def test_compare_quick_without_torch(compare, monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    monkeypatch.setitem(sys.modules, "jax", None)
    out = tmp_path / "results.md"
    assert compare.main(["--quick", "--quiet", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert out.read_text(encoding="utf-8") == text  # print added the final newline
    rows = [line for line in text.splitlines() if re.match(r"\| (RNN|DT\(S\)|DOT\(S\)|sRNN-2) \|", line)]
    assert len(rows) == 4 * len(compare.QUICK.batch_sizes)
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        model, B, ours, jax_ms, torch_ms, ref_ms, vs_jax, vs_torch, vs_ref = cells
        assert re.fullmatch(r"[\d.]+ \([\d.]+–[\d.]+\)", ours)
        assert torch_ms == "—" and vs_torch == "—" and jax_ms == "—" and vs_jax == "—"
        if int(B) == 1:  # the reference runs at B=1 only, with a ratio against its target
            assert re.fullmatch(r"[\d.]+ \([\d.]+–[\d.]+\)", ref_ms)
            assert re.fullmatch(r"[\d.e-]+ [✓✗] \(≤ 0.05\)", vs_ref)
        else:
            assert ref_ms == "—"
    assert "PyTorch: not available" in text and "JAX: not available" in text


def test_compare_no_torch_env_and_unknown_model(compare, monkeypatch):
    monkeypatch.setenv(compare.NO_TORCH_ENV, "1")
    monkeypatch.setenv(compare.NO_JAX_ENV, "1")
    assert compare.import_torch(disabled=False) is None
    assert compare.import_jax(disabled=False) is None
    with pytest.raises(SystemExit):
        compare.main(["--quick", "--models", "LSTM"])


def test_compare_refuses_disagreeing_losses(compare):
    compare.check_loss("RNN", "PyTorch", 1.0 + 5e-5, 1.0)  # within 1e-4 relative: fine
    with pytest.raises(SystemExit, match="not be honest"):
        compare.check_loss("RNN", "PyTorch", 1.001, 1.0)


@pytest.mark.parametrize("stem", ["rnn", "dts", "dots", "srnn2", "lstm"])
def test_torch_models_match_rnnalg(compare, stem):
    """The hand-written torch models compute rnnalg's loss and gradients (float64, exact to rounding)."""
    torch = pytest.importorskip("torch")
    import torch_models

    from rnnalg import load_program
    from rnnalg.testing import random_setup

    program = load_program(EXAMPLES / f"{stem}.rnn", {"H": 7})
    model, params, batch, _, _ = random_setup(program, T=6, B=3, mask=False, state=False, dropout=False)
    loss, grads, _ = model.loss_and_grad(params, batch)
    tparams = torch_models.to_torch(params, torch.float64)
    call = torch_models.loss_and_grad_call(stem, tparams, torch.tensor(batch["x"]), torch.tensor(batch["y"]))
    assert call().item() == pytest.approx(loss, rel=1e-12)
    assert set(tparams) == set(grads)
    for name, g in grads.items():
        np.testing.assert_allclose(tparams[name].grad.numpy(), g, rtol=1e-9, atol=1e-12, err_msg=name)


# Run in a child process: importing JAX starts threads, after which a fork() in this process
# (tests/test_cli_check.py starts a child under a memory limit) could deadlock.
JAX_CHECK = """
import json, sys
import jax
jax.config.update("jax_enable_x64", True)
import numpy as np
sys.path.insert(0, "bench")
import jax_models
from rnnalg import load_program
from rnnalg.testing import random_setup

out = {}
for stem in sys.argv[1:]:
    program = load_program(f"examples/{stem}.rnn", {"H": 7})
    model, params, batch, _, _ = random_setup(program, T=6, B=3, mask=False, state=False, dropout=False)
    loss, grads, _ = model.loss_and_grad(params, batch)
    jloss, jgrads = jax_models.loss_and_grad_call(stem, params, batch["x"], batch["y"])()
    errors = {"loss": abs(float(jloss) - loss) / abs(loss)}
    for name, g in grads.items():
        if name in jgrads:
            errors[name] = float(np.max(np.abs(np.asarray(jgrads[name]) - g)) / np.max(np.abs(g)))
    out[stem] = {"errors": errors, "same names": sorted(jgrads) == sorted(grads)}
print(json.dumps(out))
"""


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_jax_models_match_rnnalg():
    """The JAX scan models compute rnnalg's loss and every gradient (float64, exact to rounding)."""
    stems = ["rnn", "dts", "dots", "srnn2", "word_rnn"]
    run = subprocess.run([sys.executable, "-c", JAX_CHECK, *stems], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout.strip().splitlines()[-1])
    assert sorted(results) == sorted(stems)
    for stem, result in results.items():
        assert result["same names"], stem
        assert max(result["errors"].values()) < 1e-12, (stem, result["errors"])


def test_torch_nn_lstm_baseline_gives_rnnalg_loss(compare):
    """bench/lstm.py's torch.nn.LSTM column computes the loss of examples/lstm.rnn (float64)."""
    torch = pytest.importorskip("torch")
    import torch_models

    from rnnalg import load_program
    from rnnalg.testing import random_setup

    program = load_program(EXAMPLES / "lstm.rnn", {"H": 7})
    model, params, batch, _, _ = random_setup(program, T=6, B=3, mask=False, state=False, dropout=False)
    loss, grads, _ = model.loss_and_grad(params, batch)
    call = torch_models.fused_lstm_call(params, torch.tensor(batch["x"]), torch.tensor(batch["y"]))
    assert call().item() == pytest.approx(loss, rel=1e-12)


def test_lstm_bench_quick_run(compare, capsys):
    spec = importlib.util.spec_from_file_location("lstm_bench", ROOT / "bench" / "lstm.py")
    lstm_bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lstm_bench)
    assert lstm_bench.main(["--quick", "--quiet", "--no-torch", "--clock", "cpu"]) == 0
    text = capsys.readouterr().out
    rows = [line for line in text.splitlines() if re.match(r"\| \d+ \|", line)]
    assert [row.split(" | ")[0] for row in rows] == ["| 1", "| 4"]
    assert all(row.count("—") == 4 for row in rows)  # no torch: its two columns and ratios stay empty


# ---- bench/word_head.py ----------------------------------------------------------------------

@pytest.fixture
def word_head(monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    spec = importlib.util.spec_from_file_location("bench_word_head", ROOT / "bench" / "word_head.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("jax_models", None)


def test_word_head_floor_is_the_output_layer_products(word_head):
    from rnnalg import load_program

    rnn = load_program(EXAMPLES / "word_rnn.rnn")
    assert word_head.head_products(rnn, 6400) == [(6400, 200, 10000)]
    dots = load_program(EXAMPLES / "word_dots.rnn", {"H": 8})  # y = ▷ (o ⊕ h'): two operands
    assert sorted(word_head.head_products(dots, 10)) == [(10, 8, 10000), (10, 8, 10000)]
    assert word_head.head_products(load_program(EXAMPLES / "rnn.rnn"), 10) == []  # binary output: no softmax


def test_word_head_prints_model_floor_and_ratio(word_head, capsys):
    assert word_head.main(["-B", "2", "-T", "3", "--rounds", "1", "--repeats", "1", "--no-jax"]) == 0
    out = capsys.readouterr().out
    model = float(re.search(r"forward\+backward +([\d.]+) ms", out).group(1))
    floor = float(re.search(r"floor: 3 × \(6×200\)·\(200×10000\): ([\d.]+) ms", out).group(1))
    assert float(re.search(r"model / floor +([\d.]+)", out).group(1)) == pytest.approx(model / floor, rel=0.02, abs=0.01)
    assert "JAX" not in out
