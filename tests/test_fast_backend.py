"""The fast backend (numba-compiled scan kernels) against the numpy backend and the autograd
reference: every example, every op, random specs; its on-disk cache; `rnnalg bench --backend`.

Skipped without numba (CI installs the extra `fast`, so it runs there)."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnnalg
from rnnalg import fast
from rnnalg.errors import UsageError
from rnnalg.testing import compare_with_reference, random_setup

pytestmark = pytest.mark.skipif(fast.unavailable_reason() is not None, reason="numba is not installed")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.rnn"))
VARIANTS = {"mask+state+dropout": dict(mask=True, state=True, dropout=True),
            "plain": dict(mask=False, state=False, dropout=False)}
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_lowering import OP_SPECS, program_of  # noqa: E402  (one spec per op)
from test_lowering_random import random_specs  # noqa: E402


def small(path):
    return rnnalg.load_program(path, {"H": 6})


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def fast_vs_numpy(program, dtype=np.float64, **setup):
    """Relative differences of loss, gradients and final states: fast backend vs numpy backend."""
    results = []
    for backend in ("fast", "numpy"):
        model, params, batch, state, noise = random_setup(program, backend=backend, **setup)
        assert model.backend == backend
        params = {k: v.astype(dtype) for k, v in params.items()}
        batch = {k: (v if v.dtype.kind in "iu" else v.astype(dtype)) for k, v in batch.items()}
        state = state and {k: v.astype(dtype) for k, v in state.items()}
        noise = noise and {k: v.astype(dtype) for k, v in noise.items()}
        model = rnnalg.compile(program, dtype, backend)
        results.append(model.loss_and_grad(params, batch, state, noise))
    (lf, gf, sf), (ln, gn, sn) = results
    errors = {"loss": _rel(lf, ln)}
    errors.update({name: _rel(gf[name], gn[name]) for name in gn})
    errors.update({f"final {name}": _rel(sf[name], sn[name]) for name in sn})
    return errors


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_example_fast_equals_numpy_in_float64(path, variant):
    errors = fast_vs_numpy(small(path), **VARIANTS[variant])
    assert max(errors.values()) <= 1e-12, errors


@pytest.mark.parametrize("path", ["rnn", "dots", "lstm", "dots_star", "char_dots"])
def test_example_fast_equals_numpy_in_float32_to_rounding(path):
    errors = fast_vs_numpy(small(ROOT / "examples" / f"{path}.rnn"), np.float32, **VARIANTS["mask+state+dropout"])
    assert max(errors.values()) <= 2e-5, errors


@pytest.mark.parametrize("op", OP_SPECS)
def test_every_op_fast_matches_autograd(op):
    text = "let H = 6\ninput x : binary[5]\noutput y : binary[5]\nstate h : H\n" + OP_SPECS[op]
    errors = compare_with_reference(program_of(text), backend="fast")
    assert max(errors.values()) < 1e-6, errors


# 3 examples (each compiles its own kernels, ~5 CPU s): every op and every example already runs
# through the kernels deterministically above; these add random combinations of them
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_specs(), st.booleans(), st.booleans(), st.booleans())
def test_random_spec_fast_matches_autograd_and_numpy(text, mask, state, dropout):
    program = rnnalg.check(rnnalg.parse(text, "random.rnn"))
    errors = compare_with_reference(program, T=3, B=2, mask=mask, state=state, dropout=dropout, backend="fast")
    assert max(errors.values()) < 1e-6, (text, errors)
    same = fast_vs_numpy(program, T=3, B=2, mask=mask, state=state, dropout=dropout)
    assert max(same.values()) <= 1e-12, (text, same)


def test_large_batches_run_the_numpy_kernels_bit_for_bit():
    program = small(ROOT / "examples" / "dots.rnn")
    B = fast.MAX_BATCH + 1
    errors = fast_vs_numpy(program, T=4, B=B, **{k: v for k, v in VARIANTS["plain"].items()})
    assert max(errors.values()) == 0.0, errors


def test_unknown_or_unavailable_backend_is_a_usage_error(monkeypatch):
    program = small(ROOT / "examples" / "rnn.rnn")
    with pytest.raises(UsageError, match="unknown backend 'jit'"):
        rnnalg.compile(program, backend="jit")
    for where in ("rnnalg.fast.backend.unavailable_reason", "rnnalg.fast.unavailable_reason"):
        monkeypatch.setattr(where, lambda: "numba is not installed (test)")
    with pytest.raises(UsageError, match="fast backend is not available: numba is not installed"):
        rnnalg.compile(program, backend="fast")
    monkeypatch.delenv("RNNALG_BACKEND")
    assert rnnalg.compile(program).backend == "numpy"  # auto without numba
    monkeypatch.setenv("RNNALG_BACKEND", "quick")
    with pytest.raises(UsageError, match="RNNALG_BACKEND='quick' is not a backend"):
        rnnalg.compile(program)


CACHE_PROBE = """
import numpy as np, rnnalg
model = rnnalg.compile(rnnalg.load_program({path!r}, {{"H": 5}}), np.float64, backend="fast")
params = model.init_params(np.random.default_rng(0))
batch = {{"x": np.ones((3, 2, 88)), "y": np.zeros((3, 2, 88))}}
model.loss_and_grad(params, batch)
from rnnalg.model import compile
k = model._module["_scan_forward"].compiled
print(sum(k.stats.cache_hits.values()), sum(k.stats.cache_misses.values()))
"""


def test_a_second_process_loads_the_kernels_from_the_disk_cache(tmp_path):
    env = dict(os.environ, RNNALG_CACHE=str(tmp_path))
    probe = CACHE_PROBE.format(path=str(ROOT / "examples" / "rnn.rnn"))
    runs = [subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300)
            for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr
    (hits1, misses1), (hits2, misses2) = [tuple(map(int, r.stdout.split())) for r in runs]
    assert (hits1, misses1) == (0, 1)  # compiled in the first process
    assert (hits2, misses2) == (1, 0)  # loaded in the second
    assert list((tmp_path / "kernels").glob("kernels_*.py"))  # keyed by the kernel text's hash


def test_cache_folder_that_cannot_be_written_is_a_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("RNNALG_CACHE", str(blocker))
    with pytest.raises(UsageError, match="cannot write the kernel cache .*RNNALG_CACHE"):
        rnnalg.compile(small(ROOT / "examples" / "rnn.rnn"), backend="fast")


@pytest.mark.parametrize("backend", ["numpy", "fast"])
def test_bench_command_runs_either_backend(backend, capsys):
    from rnnalg.cli import main
    assert main(["bench", str(ROOT / "examples" / "rnn.rnn"), "-B", "2", "-T", "5", "--repeats", "2",
                 "--set", "H=8", "--backend", backend]) == 0
    first, timed = capsys.readouterr().out.strip().splitlines()
    assert first.startswith(f"rnn.rnn  B=2 T=5 float32 {backend}, unsplit, BLAS on 1 thread  first call ")
    assert "forward+backward:" in timed and f" {backend}, " in timed


def test_by_batch_runs_the_compiled_kernel_up_to_max_batch_with_its_blas_on_one_thread():
    class FakeBlas:
        num_threads = 2

        def set_num_threads(self, n):
            self.num_threads = n

    blas, seen = FakeBlas(), []
    kernel = fast.by_batch(lambda T, B: seen.append(("compiled", B, blas.num_threads)),
                           lambda T, B: seen.append(("numpy", B, blas.num_threads)), max_batch=4, blas=[blas])
    for B in (1, 4, 5):
        kernel(10, B)
    assert seen == [("compiled", 1, 1), ("compiled", 4, 1), ("numpy", 5, 2)]
    assert blas.num_threads == 2  # restored


def test_a_kernel_numba_cannot_compile_falls_back_to_numpy_with_one_note(capsys, monkeypatch):
    """A typing error comes before the kernel runs: numpy does the call, and every later one."""
    import numba
    monkeypatch.delenv("RNNALG_FAST_STRICT")  # the suite's strict mode (conftest.py) aside

    @numba.njit
    def untypable(T, B, x):
        return x.no_such_attribute

    kernel = fast.by_batch(untypable, lambda T, B, x: ("numpy", B), name="_scan_forward")
    assert kernel(3, 1, np.zeros(2)) == ("numpy", 1)
    assert kernel(3, 2, np.zeros(2)) == ("numpy", 2)
    err = capsys.readouterr().err
    assert err.count("note: the fast backend could not compile _scan_forward (") == 1
    assert "running it with numpy" in err and "Traceback" not in err


def test_the_kernels_blas_is_scipys_not_numpys():
    libs = fast.kernel_blas()
    pytest.importorskip("threadpoolctl")
    assert libs and all("numpy" not in Path(lib.filepath).parent.name for lib in libs)


def test_crossover_script_prints_fast_over_numpy_per_batch_size():
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "crossover.py"), "--models", "rnn",
                          "--batch-sizes", "1,5", "-H", "8"], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["rnn B=1", "rnn B=5"]
    assert all(" fast/numpy " in line for line in lines)
