"""The fast backend's kernels run compiled, not as numpy: for every example and every op spec, in
float32 and float64, masked and not, a call leaves no "could not compile" note and every scan
kernel still compiled (`by_batch`'s fallback to the numpy kernel gives numpy's results, so the
tests that compare fast with numpy cannot see it); and $RNNALG_FAST_STRICT (set for the whole
suite by conftest.py) turns such a fallback into an error.  Every compiled kernel can go to
numba's disk cache (no process-bound address in its code), so a second process loads it.

Small models (H=6, the size of test_fast_backend.py's: the same kernels, from the disk cache)."""
import os
import sys
from pathlib import Path

import numpy as np
import pytest

import rnnalg
from rnnalg import fast
from rnnalg.fast.backend import STRICT_ENV
from rnnalg.testing import random_setup

pytestmark = pytest.mark.skipif(fast.unavailable_reason() is not None, reason="numba is not installed")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.rnn"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_lowering import OP_SPECS, program_of  # noqa: E402  (one spec per op)

OP_HEADER = "let H = 6\ninput x : binary[5]\noutput y : binary[5]\nstate h : H\n"


def _cast(arrays, dtype):
    return arrays and {k: (v if v.dtype.kind in "iu" else v.astype(dtype)) for k, v in arrays.items()}


def assert_kernels_run_compiled(program, capsys, monkeypatch):
    """loss_and_grad in float32 and float64, masked and not (a linear program's both sides, the
    associative scan and the steps: scan_choice.py): no fallback note, every kernel compiled."""
    monkeypatch.delenv(STRICT_ENV, raising=False)  # the note, not the error: what a user would see
    for dtype in (np.float32, np.float64):
        model = rnnalg.compile(program, dtype, "fast")
        sides = (True, False) if "_by_scan" in model._module else (None,)
        for by_scan in sides:
            if by_scan is not None:
                monkeypatch.setitem(model._module, "_by_scan", lambda params, batch, by=by_scan: by)
            for mask in (True, False):
                _, params, batch, state, noise = random_setup(program, T=3, B=2, mask=mask, backend="numpy")
                model.loss_and_grad(*(_cast(a, dtype) for a in (params, batch, state, noise)))
        err = capsys.readouterr().err
        assert "could not compile" not in err, (np.dtype(dtype).name, err)
        kernels = {name: k for name, k in model._module.items() if name.startswith("_scan_")}
        assert kernels
        for name, kernel in kernels.items():  # each ran (has a signature) and did not fall back
            assert kernel.compiled is not None and kernel.compiled.signatures, (np.dtype(dtype).name, name)
            assert not uncachable(kernel.compiled), (np.dtype(dtype).name, name, uncachable(kernel.compiled))


def uncachable(dispatcher) -> list:
    """Why numba would not write `dispatcher`'s compiled signatures to its disk cache (its own test,
    numba.core.caching.CompileResultCacheImpl.check_cachable, without the warning): a kernel that
    cannot be cached compiles again in every process (tens of seconds for a long optnone one)."""
    reasons = []
    for signature, result in dispatcher.overloads.items():
        if result.library.has_dynamic_globals:  # an address of this process in the machine code
            reasons.append(f"{signature}: dynamic globals {result.library._dynamic_globals}")
        if any(not lifted.can_cache for lifted in result.lifted):
            reasons.append(f"{signature}: lifted loops")
    return reasons


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_runs_its_kernels_compiled(path, capsys, monkeypatch):
    assert_kernels_run_compiled(rnnalg.load_program(path, {"H": 6}), capsys, monkeypatch)


@pytest.mark.parametrize("op", OP_SPECS)
def test_every_op_runs_its_kernels_compiled(op, capsys, monkeypatch):
    assert_kernels_run_compiled(program_of(OP_HEADER + OP_SPECS[op]), capsys, monkeypatch)


def test_the_suite_is_strict_and_a_strict_fallback_is_an_error_naming_the_kernel(monkeypatch):
    import numba

    assert os.environ.get(STRICT_ENV)  # conftest.py: every test of the fast backend is strict

    @numba.njit
    def untypable(T, B, x):
        return x.no_such_attribute

    kernel = fast.by_batch(untypable, lambda T, B, x: ("numpy", B), name="_scan_forward")
    with pytest.raises(RuntimeError, match=f"could not compile _scan_forward .*{STRICT_ENV} is set"):
        kernel(3, 1, np.zeros(2))
    monkeypatch.delenv(STRICT_ENV)
    assert kernel(3, 1, np.zeros(2)) == ("numpy", 1)
    assert kernel.compiled is None  # fell back: every later call runs numpy


def test_the_suite_compiles_at_o1_into_caches_of_its_own():
    """conftest.py: NUMBA_OPT=1 for the suite, so its kernels (and the package's helpers that numba
    caches) go to the suite's own folders, never where a user's rnnalg or numba would load them
    (numba's cache does not tell -O1 code from -O3 code)."""
    import numba

    from rnnalg.fast import numba_prelude

    if not os.environ.get("RNNALG_TESTS_OWN_CACHES") and any(
            os.environ.get(name) for name in ("RNNALG_CACHE", "NUMBA_CACHE_DIR", "NUMBA_OPT")):
        pytest.skip("RNNALG_CACHE, NUMBA_CACHE_DIR or NUMBA_OPT set by hand: the suite keeps them")
    assert numba.config.OPT == 1
    own = Path(os.environ["RNNALG_CACHE"])
    assert own.parent.name == "rnnalg-tests" and fast.cache_dir() == own / "kernels"
    users = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rnnalg" / "kernels"
    assert fast.cache_dir() != users
    kernels = rnnalg.compile(program_of(OP_HEADER + OP_SPECS["tanh"]), np.float64, "fast")._module
    for dispatcher in (numba_prelude._sigmoid, kernels["_scan_forward"].compiled):
        assert Path(dispatcher._cache._cache_path).is_relative_to(own / "numba"), dispatcher._cache._cache_path
