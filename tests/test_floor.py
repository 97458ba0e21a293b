"""bench/floor.py: the traced matrix products of a compiled model, and the floor that replays them (numpy only)."""
import collections
import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnalg import load_program

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
T, B, H, D = 5, 4, 8, 88  # D: the binary[88] input and output of the piano-roll examples


@pytest.fixture(scope="module")
def floor():
    spec = importlib.util.spec_from_file_location("bench_floor", ROOT / "bench" / "floor.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_floor"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bench_floor", None)


def traced(floor, stem, dtype=np.float32):
    model, params, batch = floor.model_setup(load_program(EXAMPLES / f"{stem}.rnn", {"H": H}), T, B, dtype)
    return floor.trace_products(model.source, params, batch)


def shapes(products):
    """Counter of the products as BLAS sees them, whichever numpy function (matmul, dot) ran each."""
    import dataclasses
    return collections.Counter(dataclasses.replace(p, fn="matmul") for p in products)


def counts(floor, *entries, dtype="float32"):
    """entries: (count, a shape, a layout, b shape, b layout) -> Counter of Products."""
    out = collections.Counter()
    for n, a, la, b, lb in entries:
        ld = {"N": lambda s: s[1], "T": lambda s: s[0]}
        p = floor.Product(floor.Operand(a, la, ld[la](a)), floor.Operand(b, lb, ld[lb](b)), (a[0], b[1]), dtype)
        out[p] += n
    return out


def test_rnn_products_are_the_hand_derived_list(floor):
    """h' = tanh(x U + h W + b), y = σ(h' V + c): forward, BPTT and weight-gradient products."""
    N = T * B
    expected = counts(
        floor,
        (1, (N, D), "N", (D, H), "N"),   # pre: x U over all T·B rows
        (T, (B, H), "N", (H, H), "N"),   # scan: h W per step
        (1, (N, H), "N", (H, D), "N"),   # post: h' V
        (1, (H, N), "T", (N, D), "N"),   # dV = h'ᵀ G_y
        (1, (N, D), "N", (D, H), "T"),   # G_y Vᵀ, into the post gradient of h'
        (T, (B, H), "N", (H, H), "T"),   # BPTT: G_a[t] Wᵀ per step
        (1, (D, N), "T", (N, H), "N"),   # dU = xᵀ G_a
        (1, (H, N), "T", (N, H), "N"),   # dW = h_{t-1}ᵀ G_a
    )
    products = traced(floor, "rnn")
    assert shapes(products) == expected
    assert len(products) == 2 * T + 6
    assert floor.total_flops(products) == 2 * (5 * N * D * H + 2 * T * B * H * H + N * H * H)  # 2·M·K·N each


def test_dots_products_include_the_fused_step_product_and_out_argument(floor):
    """DOT(S): h is read by two scan affines, one `np.matmul(h, [W_1 | W_s], out=joint)` per step;
    backward one `G @ [W_2; W_s]ᵀ` (a transposed concatenation) per step."""
    N = T * B
    expected = counts(
        floor,
        (2, (N, D), "N", (D, H), "N"),       # pre: x z.W_x and x o.W_x
        (T, (B, H), "N", (H, 2 * H), "N"),   # scan: h [z.W_h | h'.W_h], out= a joint buffer
        (T, (B, H), "N", (H, H), "N"),       # scan: z h'.W_z
        (1, (N, H), "N", (H, H), "N"),       # post: o.a = h' o.W_h'
        (2, (N, H), "N", (H, D), "N"),       # post: y.a = o y.W_o + h' y.W_h'
        (2, (H, N), "T", (N, D), "N"),       # dy.W_o, dy.W_h'
        (2, (N, D), "N", (D, H), "T"),       # G_y y.W_oᵀ, G_y y.W_h'ᵀ
        (1, (N, H), "N", (H, H), "T"),       # G_o o.W_h'ᵀ
        (2, (D, N), "T", (N, H), "N"),       # do.W_x, dz.W_x
        (4, (H, N), "T", (N, H), "N"),       # do.W_h', dz.W_h, dh'.W_z, dh'.W_h
        (T, (B, H), "N", (H, 2 * H), "T"),   # BPTT: G_h'[t] [h'.W_z; h'.W_h]ᵀ, both at once
        (T, (B, H), "N", (H, H), "T"),       # BPTT: G_z[t] z.W_hᵀ
    )
    assert shapes(traced(floor, "dots")) == expected


def test_products_of_fresh_arrays_are_traced(floor):
    """Arrays the module allocates itself (np.empty, np.zeros, …) are traced too, whatever
    multiplies them: `@`, np.matmul(out=), np.dot with a positional out, ndarray.dot, a transpose."""
    source = (
        "import numpy as np\n"
        "def loss_and_grad(params, batch, state, noise):\n"
        "    a = np.ones((3, 4)); b = np.zeros((4, 5)); c = np.empty((3, 5))\n"
        "    np.matmul(a, b, out=c)\n"
        "    d = c.reshape(-1, 5).T @ a\n"
        "    np.dot(a, b, c)\n"
        "    e = d.dot(b)\n"
        "    return float(e.sum()) + float(np.concatenate([a, a]).sum()), {}, {}\n")
    products = floor.trace_products(source, {}, {})
    assert [(p.fn, p.a.shape, p.a.layout, p.b.shape, p.out) for p in products] == [
        ("matmul", (3, 4), "N", (4, 5), (3, 5)), ("matmul", (5, 3), "T", (3, 4), (5, 4)),
        ("dot", (3, 4), "N", (4, 5), (3, 5)), ("dot", (5, 4), "N", (4, 5), (5, 5))]
    call = floor.floor_call(products)
    call()  # replays np.matmul and np.dot, each with out=


def test_sums_by_a_vector_of_ones_are_not_in_the_floor(floor):
    """The prelude's _row_sums and _bias_grad are products with a vector: reductions, not GEMMs."""
    source = (
        "import numpy as np\n"
        "def loss_and_grad(params, batch, state, noise):\n"
        "    a = np.ones((6, 4)); b = np.ones((4, 5))\n"
        "    c = a @ b\n"
        "    rows = c @ np.ones(5)\n"
        "    cols = np.ones(6) @ c\n"
        "    return float(rows.sum() + cols.sum()), {}, {}\n")
    products = floor.trace_products(source, {}, {})
    assert [(p.a.shape, p.b.shape) for p in products] == [((6, 4), (4, 5))]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.rnn")), ids=lambda p: p.stem)
def test_tracing_every_example_computes_what_the_model_does(floor, path):
    """The traced run returns the model's loss and gradients (tracing changes no arithmetic),
    and its floor replays."""
    model, params, batch = floor.model_setup(load_program(path, {"H": H}), T, B, np.float64)
    products, (loss, grads, _) = floor.trace(model.source, params, batch)
    expected, expected_grads, _ = model.loss_and_grad(params, batch)
    assert float(loss) == expected
    for name, g in expected_grads.items():
        np.testing.assert_array_equal(grads[name], g, err_msg=name)
    assert products and all(p.flops > 0 for p in products)
    floor.floor_call(products)()


@pytest.mark.parametrize("op", [((6, 4), "N", 4), ((6, 4), "N", 9), ((6, 4), "T", 6), ((6, 4), "T", 10),
                                ((6, 4), "copy", 0), ((1, 4), "N", 4), ((4,), "N", 4)])
def test_floor_arrays_have_the_traced_layout(floor, op):
    operand = floor.Operand(*op)
    x = floor._realise(operand, np.float32, np.random.default_rng(0))
    assert x.dtype == np.float32 and floor.operand(x) == operand


def test_floor_call_runs_the_products(floor):
    products = traced(floor, "dots")
    call = floor.floor_call(products, np.float64)
    assert call() is None  # it runs; a second call reuses the same arrays
    call()
    lines = floor.summary(products)
    assert lines[-1].split()[:2] == [str(len(products)), "products"]
    assert float(lines[-1].split()[-2]) == pytest.approx(floor.total_flops(products) / 1e9, rel=1e-3)


def test_floor_cli(floor, capsys):
    assert floor.main([str(EXAMPLES / "rnn.rnn"), "-B", "2", "-T", "3", "--set", "H=8", "--time",
                       "--rounds", "1", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "3 × (2×8)·(8×8)ᵀ" in out and "12 products in all" in out
    assert "model / floor" in out
    assert floor.main([str(EXAMPLES / "missing.rnn")]) == 1
    assert "missing.rnn" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit:
        floor.main([str(EXAMPLES / "rnn.rnn"), "-B", "0"])
    assert exit.value.code == 2


def test_torch_floor_runs_the_same_products_on_the_same_arrays(floor, monkeypatch):
    """The torch.matmul column: each traced product once, in order, on tensors with the numpy
    floor's shapes and strides (a transposed operand stays transposed), computing a @ b."""
    torch = pytest.importorskip("torch")
    products = traced(floor, "dots")
    seen, matmul = [], torch.matmul

    def recording(a, b, out):
        result = matmul(a, b, out=out)
        seen.append((a, b, out.clone()))  # outputs of one shape share a tensor: keep this one's
        return result
    monkeypatch.setattr(torch, "matmul", recording)
    floor.torch_floor_call(products, torch, np.float64)()
    assert len(seen) == len(products)
    for p, (a, b, c) in zip(products, seen):
        assert (floor.operand(a.numpy()), floor.operand(b.numpy())) == (p.a, p.b)
        assert tuple(c.shape) == p.out and c.dtype == torch.float64
        np.testing.assert_allclose(c.numpy(), a.numpy() @ b.numpy(), rtol=1e-12, atol=1e-12)


def test_floor_cli_times_the_torch_floor(floor, capsys):
    pytest.importorskip("torch")
    args = [str(EXAMPLES / "rnn.rnn"), "-B", "2", "-T", "3", "--set", "H=8", "--time", "--rounds", "1",
            "--repeats", "1", "--torch-threads", "1"]
    assert floor.main(args) == 0
    assert "numpy floor / torch floor" in capsys.readouterr().out
    assert floor.main(args + ["--no-torch"]) == 0
    assert "torch" not in capsys.readouterr().out.split("model / floor")[1]


@pytest.fixture(scope="module")
def lines():
    sys.path.insert(0, str(ROOT / "bench"))  # bench/lines.py imports bench/floor.py as `floor`
    spec = importlib.util.spec_from_file_location("bench_lines", ROOT / "bench" / "lines.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.path.remove(str(ROOT / "bench"))
    sys.modules.pop("floor", None)


def test_lines_instruments_without_changing_the_result(floor, lines):
    """bench/lines.py's timed copy of the module computes what the module does, and times every
    statement of loss_and_grad and of both scan loops."""
    model, params, batch = floor.model_setup(load_program(EXAMPLES / "dots.rnn", {"H": H}), T, B, np.float64)
    namespace = lines.instrumented(model.source)
    namespace["_L"], namespace["_N"], namespace["_clk"] = collections.Counter(), collections.Counter(), lambda: 0
    loss, grads, _ = namespace["loss_and_grad"](params, batch)
    expected = model.loss_and_grad(params, batch)
    assert loss == expected[0] and all(np.array_equal(grads[k], expected[1][k]) for k in grads)
    source = model.source.splitlines()
    timed = {source[n - 1].strip() for n in namespace["_N"]}
    assert "np.dot(h, Wjoint_h, joint_h)" in timed and any(s.startswith("carry_h, = _scan_backward") for s in timed)
    assert namespace["_N"][next(n for n in namespace["_N"] if "np.dot(h, Wjoint_h" in source[n - 1])] == T
    assert lines.category("g_h = g_h_next_a @ W.T") == "product" and lines.category("o = np.tanh(o_a)") == "tanh/sigmoid"


def test_lines_cli(lines, capsys):
    assert lines.main([str(EXAMPLES / "rnn.rnn"), "-B", "2", "-T", "3", "--set", "H=8", "--calls", "2", "--top", "3"]) == 0
    out = capsys.readouterr().out
    shares = [float(x) for x in re.findall(r"(-?[\d.]+) %", out)]
    assert "product" in out and "scan loop" in out and sum(shares) == pytest.approx(100, abs=0.5)
    assert len(re.findall(r"ms +\d+× ", out)) == 3
