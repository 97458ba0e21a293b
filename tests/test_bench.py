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

LINE = re.compile(r"rnn\.rnn  B=2 T=3 (float32|float64) numpy, unsplit, BLAS on \d+ threads?  forward\+backward: ([\d.]+) ms median "
                  r"\(([\d.]+)–([\d.]+) over 4 runs\), ([\d.]+)(k|M)? frames/s( \(CPU time\))?")


@pytest.mark.parametrize("dtype, clock", [("float32", "wall"), ("float64", "wall"), ("float32", "cpu")])
def test_bench_prints_median_and_spread(capsys, dtype, clock):
    rc = main(["bench", str(EXAMPLES / "rnn.rnn"), "--set", "H=8", "-B", "2", "-T", "3",
               "--repeats", "4", "--dtype", dtype, "--clock", clock])
    first, out = capsys.readouterr().out.strip().splitlines()
    assert rc == 0
    assert re.fullmatch(r"rnn\.rnn  B=2 T=3 float(32|64) numpy, unsplit, BLAS on \d+ threads?  first call [\d.]+ ms",
                        first), first
    m = LINE.fullmatch(out)
    assert m, out
    assert m.group(1) == dtype
    assert (m.group(7) is not None) == (clock == "cpu")
    median, lo, hi = (float(m.group(i)) for i in (2, 3, 4))
    assert 0 < lo <= median <= hi
    rate = float(m.group(5)) * {"k": 1e3, "M": 1e6, None: 1}[m.group(6)]
    assert rate == pytest.approx(2 * 3 / (median * 1e-3), rel=0.02)  # frames = T·B per call


def test_bench_says_whether_the_batch_ran_in_parts_on_threads_and_how_many(capsys, monkeypatch):
    """The split of rnnalg/batch_threads.py (Model.split_parts; here forced, as the fast backend
    with a 2-thread BLAS at B >= 16 would), and an unsplit call's BLAS thread count."""
    from threadpoolctl import threadpool_limits

    from rnnalg import batch_threads

    flags = ["bench", str(EXAMPLES / "rnn.rnn"), "--set", "H=8", "-B", "4", "-T", "3", "--repeats", "2"]
    with threadpool_limits(1, user_api="blas"):
        assert main(flags) == 0
    assert capsys.readouterr().out.count("float32 numpy, unsplit, BLAS on 1 thread  ") == 2
    split = []
    real = batch_threads.loss_and_grad
    monkeypatch.setattr(batch_threads, "parts", lambda B, *a, **k: 2)
    monkeypatch.setattr(batch_threads, "loss_and_grad", lambda run, n, *a, **k: split.append(n) or real(run, n, *a, **k))
    assert main(flags) == 0
    assert capsys.readouterr().out.count("float32 numpy, batch in 2 parts on 2 threads, BLAS on 1 each  ") == 2
    assert split and set(split) == {2}  # and the call did run in 2 parts


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
    for name in ("bench_compare", "report", "torch_models", "jax_models", "compare", "peers", "floor"):
        sys.modules.pop(name, None)


MS = r"[\d.]+ \([\d.]+–[\d.]+\)"  # median (min–max) milliseconds


def table_rows(text, labels):
    """The cells of each results-table row (not the per-call table's) whose model is one of labels."""
    pattern = re.compile(r"\| (" + "|".join(map(re.escape, labels)) + r") \|")
    text = text.split("Per call:")[0]
    return [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if pattern.match(line)]


def test_compare_quick_without_torch(compare, monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    monkeypatch.setitem(sys.modules, "jax", None)
    out = tmp_path / "results.md"
    assert compare.main(["--quick", "--quiet", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert out.read_text(encoding="utf-8") == text  # print added the final newline
    rows = table_rows(text, ["RNN", "DT(S)", "DOT(S)", "sRNN-2"])
    assert len(rows) == 4 * len(compare.QUICK.batch_sizes)
    for cells in rows:
        (model, B, ours, fast, jax_ms, compiled, torch_ms, ref_ms, floor_ms, floor_torch_ms,
         vs_jax, vs_floor, vs_torch, vs_ref) = cells
        assert re.fullmatch(MS, ours.strip("*")) and re.fullmatch(MS, floor_ms)
        assert jax_ms == compiled == torch_ms == floor_torch_ms == vs_torch == vs_jax == "—"
        best = min(float(ms.split()[0].strip("*")) for ms in (ours, fast) if ms != "—")  # the faster backend
        assert float(vs_floor.split()[0]) == pytest.approx(best / float(floor_ms.split()[0]), rel=0.01)
        if int(B) == 1:  # the reference runs at B=1 only, with a ratio against its target
            assert re.fullmatch(MS, ref_ms)
            assert re.fullmatch(r"[\d.e-]+ [✓✗] \(≤ 0.05\)", vs_ref)
        else:
            assert ref_ms == "—"
    [word] = table_rows(text, ["word"])  # a table of its own, at its own sizes
    assert word[1] == str(compare.QUICK.word_batch_sizes[0])
    assert re.fullmatch(MS, word[2].strip("*")) and re.fullmatch(MS, word[8]) and word[7] == "—"
    assert "PyTorch: not available" in text and "JAX: not available" in text
    per_call = [line for line in text.split("Per call:")[1].splitlines() if line.startswith("| RNN | 1 |")]
    assert len(per_call) == 1 and per_call[0].startswith(f"| RNN | 1 | {2 * 8 + 6} | ")  # 2T + 6 products, traced


# --batch-sizes: only the chosen batch sizes of the plain models are timed
def test_batch_sizes_subset(compare, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "jax", None)
    assert compare.main(["--quick", "--quiet", "--models", "RNN", "--batch-sizes", "4"]) == 0
    table = capsys.readouterr().out.split("Per call:")[0]
    rows = [line for line in table.splitlines() if line.startswith("| RNN |")]
    assert [row.split("|")[2].strip() for row in rows] == ["4"]  # QUICK's B=1 row is not run


@pytest.mark.parametrize("value", ["4,x", "0"])
def test_batch_sizes_refused(compare, capsys, value):
    with pytest.raises(SystemExit) as exit_:
        compare.main(["--quick", "--quiet", "--no-torch", "--no-jax", "--batch-sizes", value])
    assert exit_.value.code == 2 and "--batch-sizes" in capsys.readouterr().err


def test_report_ratios_use_the_faster_backend_and_targets(compare):
    """rnnalg / X is the faster of numpy and fast over the faster of eager and torch.compile; targets by B."""
    import report

    def row(model, B, **ms):
        return {"model": model, "B": B, **{k: (np.array([v / 1e3]) if v else None) for k, v in ms.items()}}
    music = report.results_table([row("RNN", 1, rnnalg=2.0, fast=1.0, jax=1.5, compiled=4.0, torch=8.0, floor=0.5),
                                  row("RNN", 64, rnnalg=26.0, fast=None, jax=None, compiled=None, torch=20.0,
                                      floor=20.0)])
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in music[2:]]
    assert cells[0][2].startswith("2 ") and cells[0][3].startswith("**1 ")  # the faster backend in bold
    assert cells[0][5].startswith("**4 ") and not cells[0][6].startswith("**")
    assert cells[0][10:14] == ["0.667 ✓ (≤ 0.8)", "2", "0.25", "—"]
    assert cells[1][10:13] == ["—", "1.3 ✗ (≤ 1.2)", "1.3 ✗ (≤ 1)"]  # issue 21: B=64 ≤ 1.2× the floor
    word = report.results_table([row("word", 64, rnnalg=900.0, floor=400.0)])
    assert word[2].split(" | ")[11] == "2.25 ✗ (≤ 2)"


def test_report_per_call_table(compare):
    """The floor's products, GFLOP and rate, and the first calls of the compiling implementations that ran."""
    import report

    rows = [{"model": "RNN", "B": 1, "first": {"jax": 1.234, "compiled": 20.5}, "products": 206,
             "flops": 2.5e9, "floor": np.array([0.02, 0.025, 0.03])},
            {"model": "RNN", "B": 16, "first": {}, "products": 0, "flops": 0, "floor": None}]
    assert report.per_call_table(rows)[2:] == [
        "| model | B | products | GFLOP | floor GFLOP/s | first call JAX s | first call torch.compile s |",
        "|---|---:|---:|---:|---:|---:|---:|", "| RNN | 1 | 206 | 2.5 | 100 | 1.23 | 20.50 |",
        "| RNN | 16 | — | — | — | — | — |"]
    assert report.per_call_table([{"model": "RNN", "B": 1, "first": {}}]) == []  # nothing to say


def test_compare_no_torch_env_and_unknown_model(compare, monkeypatch):
    monkeypatch.setenv(compare.NO_TORCH_ENV, "1")
    monkeypatch.setenv(compare.NO_JAX_ENV, "1")
    assert compare.import_torch(disabled=False) is None
    assert compare.import_jax(disabled=False) is None
    with pytest.raises(SystemExit):
        compare.main(["--quick", "--models", "LSTM"])


def test_compare_fast_column_empty_without_the_backend(compare, monkeypatch):
    """Until rnnalg.compile takes backend=, or when the backend cannot run, the column stays empty."""
    import peers

    def no_backend(program, dtype):
        return None
    monkeypatch.setattr(peers.rnnalg, "compile", no_backend)  # no backend= argument: TypeError
    logged = []
    case = peers.Case("RNN", "rnn", None, None, {}, {"x": np.zeros((2, 3, 4))}, 1.0, log=logged.append)
    assert peers.rnnalg_fast(case) is None

    def unavailable(program, dtype, backend):
        raise peers.rnnalg.RnnalgError("numba is not installed")
    monkeypatch.setattr(peers.rnnalg, "compile", unavailable)
    assert peers.rnnalg_fast(case) is None
    assert any("numba is not installed" in line and "B=3" in line for line in logged)


class FakeTorchModels:
    """GeneratedPeers stand-in: torch_call -> a call whose result's .item() is `loss`, or raises."""

    def __init__(self, loss, fail_compiled=False):
        self.loss, self.fail_compiled = loss, fail_compiled

    def torch_call(self, program, params, batch, compiled=False):
        def call():
            if compiled and self.fail_compiled:
                raise RuntimeError("inductor: no C compiler\nmore lines")
            return np.float64(self.loss)
        return call


def test_torch_columns_check_losses_and_report_compile_failures(compare):
    import peers

    fake_torch = type("FakeTorch", (), {})
    logged = []
    batch = {"x": np.zeros((2, 3, 4)), "y": np.zeros((2, 3, 4))}

    def case(tm):
        return peers.Case("RNN", "rnn", None, None, {}, batch, 1.0, (fake_torch, tm), None, logged.append)
    assert peers.torch_eager(case(FakeTorchModels(1.0 + 1e-5))) is not None
    assert peers.torch_compiled(case(FakeTorchModels(1.0 + 1e-5))) is not None
    with pytest.raises(SystemExit, match="torch.compile loss .* not be honest"):
        peers.torch_compiled(case(FakeTorchModels(1.01)))
    assert peers.torch_compiled(case(FakeTorchModels(1.0, fail_compiled=True))) is None
    assert logged == ["RNN B=3: torch.compile failed, column left empty: RuntimeError: inductor: no C compiler"]
    assert peers.torch_eager(case(FakeTorchModels(1.0, fail_compiled=True))) is not None  # eager unaffected


@pytest.mark.parametrize("stem", ["rnn", "word_rnn"])
def test_the_generated_peers_compute_rnnalgs_loss(compare, stem):
    """compare.py's PyTorch and JAX columns run `rnnalg export`'s code (float32, within LOSS_RTOL)."""
    import peers

    from rnnalg import load_program
    from rnnalg.testing import random_setup

    program = load_program(EXAMPLES / f"{stem}.rnn", {"H": 7})
    model, params, batch, _, _ = random_setup(program, T=6, B=3, mask=False, state=False, dropout=False)
    loss = model.loss_and_grad(params, batch)[0]
    params = {k: v.astype(np.float32) for k, v in params.items()}
    batch = {k: (v if v.dtype.kind in "iu" else v.astype(np.float32)) for k, v in batch.items()}
    if importlib.util.find_spec("torch"):
        assert peers.GeneratedPeers.torch_call(program, params, batch)().item() == pytest.approx(loss, rel=1e-5)


def test_compare_refuses_disagreeing_losses(compare):
    compare.check_loss("RNN", "PyTorch", 1.0 + 5e-5, 1.0)  # within 1e-4 relative: fine
    with pytest.raises(SystemExit, match="not be honest"):
        compare.check_loss("RNN", "PyTorch", 1.001, 1.0)


@pytest.mark.parametrize("stem", ["rnn", "dts", "dots", "srnn2", "lstm", "gru", "word_rnn"])
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
    stems = ["rnn", "dts", "dots", "srnn2", "word_rnn", "lstm"]
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


def test_torch_nn_gru_baseline_maps_rnnalgs_gru_weights(compare):
    """bench/lstm.py's torch.nn.GRU column: with the reset gate held open (r ≡ 1), where the two
    cells are one function, nn.GRU with the mapped weights gives examples/gru.rnn's loss and
    gradients (float64); with r as it is, the cells differ (nn.GRU resets after the product)."""
    torch = pytest.importorskip("torch")
    import torch_models

    from rnnalg import load_program
    from rnnalg.testing import random_setup

    program = load_program(EXAMPLES / "gru.rnn", {"H": 7})
    model, params, batch, _, _ = random_setup(program, T=6, B=3, mask=False, state=False, dropout=False)
    xs, ys = torch.tensor(batch["x"]), torch.tensor(batch["y"])
    opened = torch_models.reset_open(params)
    loss, grads, _ = model.loss_and_grad(opened, batch)
    fused = torch_models.GRUFused(opened, torch.float64)
    fused.loss(xs, ys).backward()
    assert fused.loss(xs, ys).item() == pytest.approx(loss, rel=1e-12)
    H = 7
    gru = fused.lstm  # weights stacked r, z, n; z negated
    np.testing.assert_allclose(-gru.weight_hh_l0.grad[H:2 * H].numpy().T, grads["z.W_h"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gru.weight_hh_l0.grad[2 * H:].numpy().T, grads["n.W_n.1"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gru.weight_ih_l0.grad[2 * H:].numpy().T, grads["n.W_x"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fused.V.grad.numpy(), grads["y.W_h'"], rtol=1e-9, atol=1e-12)
    plain = torch_models.fused_lstm_call(params, xs, ys, torch_models.GRUFused)().item()
    assert plain != pytest.approx(model.loss_and_grad(params, batch)[0], rel=1e-6)


def _lstm_bench():
    spec = importlib.util.spec_from_file_location("lstm_bench", ROOT / "bench" / "lstm.py")
    lstm_bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lstm_bench)
    return lstm_bench


def _gated_bench_text(argv, capsys):
    assert _lstm_bench().main(["--quick", "--quiet", "--clock", "cpu", *argv]) == 0
    return capsys.readouterr().out


def _gated_bench_rows(argv, capsys):
    text = _gated_bench_text(argv, capsys)
    return [line for line in text.splitlines() if re.match(r"\| (LSTM|GRU) \| \d+ \|", line)]


def test_lstm_bench_quick_run(compare, capsys):
    rows = _gated_bench_rows(["--no-torch"], capsys)
    assert [" | ".join(row.split(" | ")[:2]) for row in rows] == ["| LSTM | 1", "| LSTM | 4", "| GRU | 1", "| GRU | 4"]
    assert all(row.count("—") == 5 for row in rows)  # no torch: its two columns, their ratios and floor / fused
    for row in rows:  # the floor is timed without torch, and rnnalg − floor is their medians' difference
        ours, products, excess = row.strip("|").split("|")[2], row.strip("|").split("|")[3], row.split("|")[-2]
        assert re.fullmatch(MS, ours.strip()) and re.fullmatch(MS, products.strip()), row
        medians = [float(cell.split()[0]) for cell in (ours, products)]
        assert float(excess) == pytest.approx(medians[0] - medians[1], rel=0.02, abs=0.002), row


def test_lstm_bench_quick_run_with_torch_fills_every_column(compare, capsys):
    """Both cells against their PyTorch baselines, each loss checked before timing."""
    pytest.importorskip("torch")
    text = _gated_bench_text(["--torch-threads", "1", "--cells", "gru,lstm"], capsys)
    rows = [line for line in text.splitlines() if re.match(r"\| (LSTM|GRU) \| \d+ \|", line)]
    assert [" | ".join(row.split(" | ")[:2]) for row in rows] == ["| GRU | 1", "| GRU | 4", "| LSTM | 1", "| LSTM | 4"]
    for row in rows:
        assert "—" not in row and row.count("(≤ 1)") == 1 and row.count("(≤ 0.5)") == 1, row
        assert re.search(r"\| [\d.]+ (reachable|out of reach) \|", row), row
    verdicts = re.findall(r"^- (GRU|LSTM) B=(\d+): the products alone take", text, re.M)
    assert verdicts == [("GRU", "1"), ("GRU", "4"), ("LSTM", "1"), ("LSTM", "4")]
    assert re.search(r"^- OpenBLAS kernels: ", text, re.M)


@pytest.mark.parametrize("stem", ["lstm", "gru"])
def test_gated_bench_floor_is_the_cells_products(compare, stem):
    """The floor column times exactly the products of one forward+backward: their multiply-adds are
    `rnnalg cost`'s, and for the LSTM (D = 88 inputs and outputs) the hand count
    T·B·(12 H² + 968 H): per step the input product x [U_i … U_g] (88·4H), h [W_i … W_g] (4H²), the
    head h′ V (88 H); backward its transposes (88 H twice), G [W_i … W_g]ᵀ (4H²), and the weight
    gradients xᵀ G (88·4H), hᵀ G (4H²)."""
    from rnnalg import load_program
    from rnnalg.algebra.cost import cost

    lstm_bench = _lstm_bench()
    H, T, B = 24, 7, 3
    program = load_program(EXAMPLES / f"{stem}.rnn", {"H": H})
    model, params, batch = lstm_bench.floor.model_setup(program, T, B, np.float32)
    products = lstm_bench.floor_products(model, params, batch)
    macs = lstm_bench.floor.total_flops(products) // 2
    assert macs == cost(program, batch=B, steps=T).values["macs_training_batch"]
    if stem == "lstm":
        assert macs == T * B * (12 * H**2 + 968 * H)
        shapes = [(p.a.shape, p.b.shape, p.b.layout) for p in products]
        assert shapes.count(((B, H), (H, 4 * H), "N")) == T  # the forward step product, once a step
        assert shapes.count(((B, 4 * H), (4 * H, H), "T")) == T  # the backward one, Wᵀ a transposed view


def test_gated_bench_verdicts_say_when_the_products_alone_are_slower(compare):
    lstm_bench = _lstm_bench()
    ms = lambda x: np.array([x / 1e3])  # noqa: E731
    rows = [{"cell": "LSTM", "B": 16, "rnnalg": ms(28.0), "floor": ms(22.0), "fused": ms(17.0)},
            {"cell": "GRU", "B": 1, "rnnalg": ms(2.0), "floor": ms(1.5), "fused": ms(10.0)},
            {"cell": "LSTM", "B": 64, "rnnalg": ms(90.0), "floor": ms(70.0), "fused": None}]
    out_of_reach, reachable = lstm_bench.verdicts(rows)
    assert out_of_reach.startswith("LSTM B=16: the products alone take 22 ms, more than torch.nn.LSTM's whole 17 ms: "
                                   "≤ 1.0× is out of reach with this BLAS (OpenBLAS ")
    assert reachable == ("GRU B=1: the products alone take 1.5 ms of torch.nn.GRU's 10 ms, leaving 8.5 ms for "
                         "everything else; rnnalg spends 0.5 ms there.")
    assert lstm_bench._floor_ratio(ms(22.0), ms(17.0)) == "1.29 out of reach"
    assert lstm_bench._floor_ratio(ms(1.5), ms(10.0)) == "0.15 reachable"


def test_gated_bench_says_which_rows_rnnalg_ran_split(compare):
    """A user's call at ≥ 2 BLAS threads and B ≥ 16 runs as parts of the batch on threads
    (rnnalg/batch_threads.py): the report says which rows did, and an unsplit floor above the fused
    kernel is no verdict on them."""
    lstm_bench = _lstm_bench()
    ms = lambda x: np.array([x / 1e3])  # noqa: E731
    rows = [{"cell": "LSTM", "B": 1, "rnnalg": ms(2.0), "floor": ms(1.5), "fused": ms(3.0), "parts": 1},
            {"cell": "LSTM", "B": 16, "rnnalg": ms(19.0), "floor": ms(22.0), "fused": ms(17.0), "parts": 2}]
    assert lstm_bench.split_line(rows) == (
        "rnnalg ran parts of the batch on threads, each with a one-thread BLAS (rnnalg/batch_threads.py): "
        "LSTM B=16 in 2 parts; the other rows unsplit")
    assert lstm_bench.verdicts(rows)[1] == (
        "LSTM B=16: the products alone take 22 ms, more than torch.nn.LSTM's whole 17 ms, unsplit: rnnalg ran 2 "
        "parts of the batch on 2 threads, each with a one-thread BLAS, in 19 ms.")
    assert lstm_bench.split_line(rows[:1]).startswith("rnnalg ran every call unsplit")
    assert lstm_bench.split_line(rows[1:]).endswith("LSTM B=16 in 2 parts")


def test_gated_bench_quick_run_reports_the_split(compare, capsys):
    """The bench runs the model's own call, split as `Model.batch_threads` says (by default as a
    user's call: rnnalg/batch_threads.py; --batch-threads N sets it), and reports which rows split."""
    text = _gated_bench_text(["--no-torch", "--cells", "lstm", "--repeats", "1", "--batch-threads", "2"], capsys)
    assert "- rnnalg ran parts of the batch on threads, each with a one-thread BLAS (rnnalg/batch_threads.py): " \
           "LSTM B=4 in 2 parts; the other rows unsplit" in text
    with pytest.raises(SystemExit):
        _lstm_bench().main(["--quick", "--batch-threads", "0"])
    assert "--batch-threads must be at least 1" in capsys.readouterr().err


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
    head = re.escape("(6×200)·(200×10000)")
    floor = float(re.search(r"floor: 10 products, [\d.]+ GFLOP \(\d+ % in the head's 3 × " + head + r"\): ([\d.]+) ms",
                            out).group(1))
    ratio = float(re.search(r"model / floor +([\d.]+)", out).group(1))
    assert ratio == pytest.approx(model / floor, rel=0.02, abs=0.01)
    assert "JAX" not in out
