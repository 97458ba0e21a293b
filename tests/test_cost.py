"""`rnnalg cost`: the formulas against compile's parameter count, bench/floor.py's traced
products and the measured growth of peak RSS; the CLI's text, JSON and errors."""
import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import sympy

from rnnalg import load_program
from rnnalg.algebra.cost import cost, sequential_depth
from rnnalg.algebra.kept import traced_bytes_per_step
from rnnalg.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.rnn"))


@pytest.fixture(scope="module")
def floor():
    spec = importlib.util.spec_from_file_location("bench_floor", ROOT / "bench" / "floor.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_floor"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bench_floor", None)


def random_sizes(path, rng):
    return {name: int(rng.integers(2, 40)) for name, _ in load_program(path).sizes}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_parameter_formula_equals_compiles_count_at_random_sizes(path):
    rng = np.random.default_rng(abs(hash(path.stem)) % 2**32)
    c = cost(load_program(path))  # the formula, found at the spec's own sizes
    formula = c.figure("parameters").formula
    assert formula.free_symbols <= set(c.symbols.values())
    for _ in range(3):
        sizes = random_sizes(path, rng)
        program = load_program(path, sizes)
        assert int(formula.subs({c.symbols[n]: v for n, v in sizes.items()})) == program.param_count
        sites = sum(c.sites.values()).subs({c.symbols[n]: v for n, v in sizes.items()})
        assert int(sites) == program.param_count  # the sites partition the parameters


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_multiply_adds_equal_the_products_floor_traces(floor, path):
    """forward + backward multiply-adds per batch = ½ the flops of every product traced in one loss_and_grad."""
    rng = np.random.default_rng(7)
    program = load_program(path, random_sizes(path, rng))
    T, B = 3, 2
    model, params, batch = floor.model_setup(program, T, B, np.float64)
    traced = floor.total_flops(floor.trace_products(model.source, params, batch))
    c = cost(program, batch=B, steps=T)
    assert 2 * c.values["macs_training_batch"] == traced
    forward = sum(c.values[k] for k in ("macs_pre_step", "macs_scan_step", "macs_post_step"))
    assert c.values["macs_forward_batch"] == T * forward + c.values["macs_static_batch"]


def test_rnn_figures_are_the_hand_derived_ones():
    """h' = tanh(x U + h W + b), y = σ(h' V + c), D = 88."""
    c = cost(load_program(ROOT / "examples" / "rnn.rnn"))
    H, B, T = sympy.symbols("H B T", positive=True, integer=True)
    f = {fig.key: fig.formula for fig in c.figures}
    assert f["parameters"] == H**2 + 177 * H + 88
    assert f["macs_pre_step"] == 88 * B * H  # x U, all steps at once
    assert f["macs_scan_step"] == B * H**2  # h W, step by step
    assert f["macs_post_step"] == 88 * B * H  # h' V
    assert f["macs_backward_sequential_step"] == B * H**2  # G_a Wᵀ per step
    assert f["bptt_floats_step"] == B * H  # h' (tanh's VJP reads its output; h_{t-1} is h'_{t-1})
    assert (c.depth, c.depth_products) == (2, 1)


def test_tied_model_counts_the_embedding_once():
    """word_lstm_tied: e = E[x] + b_e (V×H + H), four gates on (e, h) (8H² + 4H), the softmax's
    bias (V) and its weight Eᵀ, which is E: not counted again.  Its product h' Eᵀ is still work."""
    c = cost(load_program(ROOT / "examples" / "word_lstm_tied.rnn"))
    H, B = sympy.symbols("H B", positive=True, integer=True)
    f = {fig.key: fig.formula for fig in c.figures}
    assert f["parameters"] == 8 * H**2 + 10005 * H + 10000
    assert c.parameters == 2_331_000 == load_program(ROOT / "examples" / "word_lstm_tied.rnn").param_count
    assert c.sites["y.a"] == 10000  # the softmax site owns only its bias
    assert f["macs_post_step"] == 10000 * B * H  # h' Eᵀ: the embedding's transpose, a dense product


def test_layernorm_owns_a_gain_and_a_bias_per_unit():
    """ln_lstm = lstm (4H² + 4·88H + 4H gates, 88H + 88 output) plus 5 layernorms of 2H each."""
    c = cost(load_program(ROOT / "examples" / "ln_lstm.rnn"))
    lstm = cost(load_program(ROOT / "examples" / "lstm.rnn"))
    H = sympy.Symbol("H", positive=True, integer=True)
    assert sympy.expand(c.figure("parameters").formula - lstm.figure("parameters").formula) == 10 * H
    ln_sites = [s for s, e in ((e.out.name, e) for e in c.program.eqns) if e.op == "layernorm"]
    assert len(ln_sites) == 5 and all(c.sites[s] == 2 * H for s in ln_sites)


def test_static_work_runs_once_per_sequence():
    """lstm_conditioned: k = tanh(key W_k + b) and the gates' k W terms (4H² in all) run once per
    sequence, B rows, not T·B; the gradient reaching k is a product over all T·B positions."""
    c = cost(load_program(ROOT / "examples" / "lstm_conditioned.rnn"))
    H, B, T = sympy.symbols("H B T", positive=True, integer=True)
    f = {fig.key: fig.formula for fig in c.figures}
    assert f["macs_static_batch"] == sympy.expand(B * (12 * H + 4 * H**2))
    assert f["macs_pre_step"] == B * 88 * 4 * H  # x W_x only: k's terms are not per step
    assert f["macs_forward_batch"] == sympy.expand(T * B * (88 * 4 * H + 4 * H**2 + 88 * H) + B * (12 * H + 4 * H**2))
    assert f["macs_backward_static_batch"] == sympy.expand(B * (12 * H + 4 * H**2))  # the weight gradients of W_key, W_k
    # per step the same values as lstm.rnn (k is read by the gates' ⊕s, whose widths do not change);
    # key, k.1.a and k are held once per sequence, in the working set
    lstm = cost(load_program(ROOT / "examples" / "lstm.rnn"))
    assert f["values_floats_step"] == lstm.figure("values_floats_step").formula
    assert f["working_set_floats"] - lstm.figure("working_set_floats").formula == \
        sympy.expand(2 * (12 * H + H + 4 * H**2) + B * (12 + 2 * H))  # W_key, b_k, the four W_k; key, k.1.a, k


@pytest.mark.parametrize("stem, depth", [("rnn", (2, 1)), ("dt", (4, 2)), ("dts", (4, 2)), ("dots", (4, 2)),
                                         ("do", (2, 1)), ("srnn2", (4, 2)), ("deep_input", (2, 1))])
def test_sequential_depth(stem, depth):
    """The paper's deep transitions double the ops between h and h'; deep input and output do not."""
    assert sequential_depth(load_program(ROOT / "examples" / f"{stem}.rnn")) == depth


RSS_SCRIPT = textwrap.dedent("""
    import sys, numpy as np, rnnalg
    spec, H, B, T = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    program = rnnalg.load_program(spec, {"H": H})
    model = rnnalg.compile(program, np.float32, backend="numpy")
    params = model.init_params(np.random.default_rng(0))
    rng = np.random.default_rng(0)
    batch = {v.name: (rng.random((T, B, v.width), dtype=np.float32) < 0.3).astype(np.float32)
             for v in list(program.inputs) + [h.output for h in program.heads]}
    status = lambda key: [int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith(key)][0]
    before = status("VmRSS")  # the batch made: kept.py's baseline too
    model.loss_and_grad(params, batch)
    # VmHWM, the peak RSS of this process image: ru_maxrss would keep the forking parent's peak
    print(status("VmHWM") - before)
""")


def peak_rss(spec, H, B, T):
    out = subprocess.run([sys.executable, "-c", RSS_SCRIPT, str(spec), str(H), str(B), str(T)],
                         capture_output=True, text=True, check=True, cwd=ROOT,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"})
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc (Linux)")
@pytest.mark.parametrize("stem", [
    pytest.param("dots", marks=pytest.mark.xfail(strict=False, reason=(
        "open (issue 21): since the time-blocked backward, dots at H=64, B=4 traces 2,064 bytes per "
        "step (the minimum h, z: 2,048) while peak RSS grows less than the minimum itself, and by "
        "run: 1,754, 1,492, 1,491, 1,697 in four runs (traced/RSS 1.18, 1.38, 1.38, 1.22; the bound "
        "is 1.2), so it passes now and then; lstm agrees within 6 % (1.049-1.058)"))),
    "lstm"])
def test_traced_memory_is_within_20_percent_of_peak_rss_growth(stem):
    """Peak RSS per step above the batch (T = 1000 vs 4000, fresh processes) against what cost
    --measure traces; the minimum (bptt_floats_step) is at most both (issue 21: ≤ 2× it)."""
    spec, H, B = ROOT / "examples" / f"{stem}.rnn", 64, 4
    rss = (peak_rss(spec, H, B, 4000) - peak_rss(spec, H, B, 1000)) / 3000
    program = load_program(spec, {"H": H})
    traced = traced_bytes_per_step(program, B, 1000, 4000)
    assert abs(traced - rss) <= 0.2 * rss, (traced, rss)
    minimum = 4 * cost(program, batch=B).values["bptt_floats_step"]
    assert minimum <= traced <= 2 * minimum


def cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_text_and_json(capsys):
    code, out, _ = cli(capsys, "cost", str(ROOT / "examples" / "dots.rnn"), "--set", "H=100")
    assert code == 0
    assert "4·H² + 355·H + 88" in out and "75,588" in out  # 4·10⁴ + 35,500 + 88
    code, out, _ = cli(capsys, "cost", str(ROOT / "examples" / "dots.rnn"), "--format", "json", "-B", "2", "-T", "5")
    obj = json.loads(out)
    assert code == 0 and obj["parameters"] == load_program(ROOT / "examples" / "dots.rnn").param_count
    assert obj["formulas"]["parameters"] == "4*H**2 + 355*H + 88"
    assert obj["values"]["macs_training_batch"] == 2 * 5 * (12 * 200**2 + 880 * 200)
    assert obj["depth"] == {"ops": 4, "products": 2}
    assert set(obj["sites"]) == {"z.a", "h'.a", "o.a", "y.a"}


def test_cli_measure(capsys):
    code, out, _ = cli(capsys, "cost", str(ROOT / "examples" / "rnn.rnn"), "--set", "H=16", "-B", "2", "--measure")
    assert code == 0 and "the current lowering keeps" in out and "× the minimum" in out


def test_cli_errors(tmp_path, capsys):
    bad = tmp_path / "bad.rnn"
    bad.write_text("input x : binary[8]\noutput y : binary[8]\nstate h : 4\nh' = tanh(q ⊕ h)\ny = ▷ h'\n")
    code, _, err = cli(capsys, "cost", str(bad))
    assert code == 1 and f"{bad}:4:11: error: unbound name 'q'" in err
    code, _, err = cli(capsys, "cost", str(ROOT / "examples" / "rnn.rnn"), "-B", "0")
    assert code == 2 and "-B" in err
    code, _, err = cli(capsys, "cost", str(ROOT / "examples" / "rnn.rnn"), "--set", "Q=3")
    assert code == 2 and "unknown size 'Q'" in err
    code, out, _ = cli(capsys, "cost", "--help")
    assert code == 0 and "--format" in out


def test_cli_measure_of_a_batch_too_large_is_refused_with_its_size(capsys):
    """`--measure -B 10**8` would allocate 38 TiB of random batch: refused before, no MemoryError."""
    code, out, err = cli(capsys, "cost", str(ROOT / "examples" / "dots.rnn"), "-B", str(10**8), "--measure")
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.startswith(f"{ROOT / 'examples' / 'dots.rnn'}: error: to benchmark, this model needs at least ")
    assert "a smaller -B" in err


def test_a_binary_spec_is_named_without_its_control_bytes(tmp_path, capsys):
    """Not UTF-8, with an escape sequence and a NUL on the line: the error names the file and
    position, and the line it shows sends no control character to the terminal."""
    spec = tmp_path / "bin.rnn"
    spec.write_bytes(b"x\xff\x1b[2J\x00bad\n")
    code, out, err = cli(capsys, "cost", str(spec))
    assert code == 1 and out == ""
    assert err == f"{spec}:1:2: error: the spec is not valid UTF-8 (byte 0xff)\n    x\ufffd\ufffd[2J\ufffdbad\n     ^\n"
