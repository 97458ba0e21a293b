"""Long scan kernels (a chain of many gates) compile in seconds, not minutes (issue 17, item 9):
kernels past `fast.backend.OPTIMISE_UP_TO` statements compile without LLVM's -O3 (module docstring
of rnnalg/fast/backend.py has the measurements)."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rnnalg
from rnnalg import fast
from rnnalg.fast import backend
from rnnalg.testing import random_setup

pytestmark = pytest.mark.skipif(fast.unavailable_reason() is not None, reason="numba is not installed")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.rnn"))


def gate_chain(n: int) -> str:
    """h' = g0 * g1 * … * g_{n-1} * tanh(x ⊕ h), each gate a sigmoid of its own ⊕."""
    gates = [f"g{i} : 16 = sigmoid(x ⊕ h)" for i in range(n)]
    product = " * ".join(f"g{i}" for i in range(n))
    return "\n".join(["input x : binary[8]", "output y : binary[8]", "state h : 16", *gates,
                      f"h' = {product} * tanh(x ⊕ h)", "y = ▷ h'"]) + "\n"


def lengths(program) -> dict:
    import ast
    source = rnnalg.compile(program, backend="numpy").source
    return {node.name: backend.kernel_length(node) for node in ast.parse(source).body
            if isinstance(node, ast.FunctionDef) and node.name.startswith(backend.KERNEL_PREFIX)}


def test_every_example_is_optimised_and_a_long_gate_chain_is_not():
    for path in EXAMPLES:
        assert max(lengths(rnnalg.load_program(path)).values(), default=0) <= backend.OPTIMISE_UP_TO, path.name  # mingru: no step loop
    chain = rnnalg.check(rnnalg.parse(gate_chain(20), "chain.rnn"))
    assert lengths(chain) == {"_scan_forward": 95, "_scan_backward": 178}  # + `return carry_h,` (time blocks)
    text = backend.kernel_module_text(rnnalg.compile(chain, backend="numpy").source)
    assert "@_long_kernel\ndef _scan_forward(" in text and "@_long_kernel\ndef _scan_backward(" in text


@pytest.mark.parametrize("n", [14, 16])
def test_a_chain_of_14_to_16_gates_gets_its_fused_kernel_text(n):
    """Its forward kernel is short enough to be optimised, so fused: its run's guard has ~400
    pairwise checks, once one `&` chain nested ~400 deep (RecursionError in ast.unparse); now
    they come in statements of at most fusion.CHECKS_PER_LINE checks."""
    import ast
    from rnnalg.fast import fusion

    chain = rnnalg.check(rnnalg.parse(gate_chain(n), "chain.rnn"))
    text = backend.kernel_module_text(rnnalg.compile(chain, backend="numpy").source)
    assert "@_kernel\ndef _scan_forward(" in text
    guards = [node for node in ast.walk(ast.parse(text))
              if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
              and node.targets[0].id.startswith("_ok")]
    assert len(guards) > 1 and all(ast.unparse(g.value).count(" & ") < fusion.CHECKS_PER_LINE for g in guards)


def test_a_long_kernel_calling_the_prelude_can_be_cached_and_matches_numpy(monkeypatch, tmp_path):
    """An optnone kernel keeps what LLVM's -O3 drops: numba's reference to a called dispatcher
    (`_layernorm(…)`, `_layernorm_grad(…)`) stayed in its code as this process's address, and numba
    would not cache it ("uses dynamic globals"), so it compiled again in every process.  The
    prelude's helpers are called through intrinsics (numba_direct.py): nothing to keep.
    (One layernorm op, not ln_lstm: the same calls, in 0.7 of the CPU time.)"""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_fast_compiles import OP_HEADER, uncachable
    from test_lowering import OP_SPECS, program_of
    monkeypatch.setenv(backend.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(backend, "OPTIMISE_UP_TO", 0)  # both kernels optnone
    program = program_of(OP_HEADER + OP_SPECS["layernorm-scan"])
    text = backend.kernel_module_text(rnnalg.compile(program, backend="numpy").source)
    assert "@_long_kernel\ndef _scan_forward(" in text and "@_long_kernel\ndef _scan_backward(" in text
    assert "_layernorm(" in text and "_layernorm_grad(" in text
    results = []
    for name in ("fast", "numpy"):
        model, params, batch, state, noise = random_setup(program, T=4, B=3, backend=name)
        results.append(model.loss_and_grad(params, batch, state, noise))
        if name == "fast":
            for kernel in ("_scan_forward", "_scan_backward"):
                assert not uncachable(model._module[kernel].compiled), (kernel, uncachable(model._module[kernel].compiled))
    (lf, gf, _), (ln, gn, _) = results
    assert abs(lf - ln) <= 1e-12 * abs(ln)
    assert all(np.allclose(gf[k], gn[k], rtol=1e-10, atol=1e-14) for k in gn)


FIRST_CALL = """
import time, numpy as np, rnnalg
from rnnalg.testing import random_setup
program = rnnalg.check(rnnalg.parse({text!r}, "chain.rnn"))
model, params, batch, state, noise = random_setup(program, T=6, B=3, backend="fast")
start = time.process_time()
model.loss_and_grad(params, batch, state, noise)
print(time.process_time() - start)
"""


def test_a_twenty_gate_chain_compiles_in_seconds_and_matches_numpy(tmp_path, monkeypatch):
    """The first call compiles both kernels: 98 CPU seconds before (88 s in LLVM for the backward
    kernel alone), about 11 s with the long kernels compiled optnone.  Bound: 45 CPU seconds, at
    numba's own optimisation level (conftest.py lowers it for the suite)."""
    env = dict(os.environ, RNNALG_CACHE=str(tmp_path), PYTHONPATH=str(ROOT))
    env.pop("NUMBA_OPT", None)
    run = subprocess.run([sys.executable, "-c", FIRST_CALL.format(text=gate_chain(20))], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert float(run.stdout) < 45, f"the first call took {float(run.stdout):.1f} CPU seconds"
    program = rnnalg.check(rnnalg.parse(gate_chain(20), "chain.rnn"))
    results = []
    monkeypatch.setenv(backend.CACHE_ENV, str(tmp_path))  # the kernels compiled above
    for name in ("fast", "numpy"):
        model, params, batch, state, noise = random_setup(program, T=6, B=3, backend=name)
        results.append(model.loss_and_grad(params, batch, state, noise))
    (lf, gf, _), (ln, gn, _) = results
    assert abs(lf - ln) <= 1e-12 * abs(ln)
    assert all(np.allclose(gf[k], gn[k], rtol=1e-10, atol=1e-14) for k in gn)


def test_without_optnone_a_long_kernel_runs_numpy_with_a_note(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv(backend.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(backend, "optnone_supported", lambda: False)
    program = rnnalg.check(rnnalg.parse(gate_chain(20), "chain.rnn"))  # both kernels are long
    model, params, batch, state, noise = random_setup(program, T=6, B=3, backend="fast")
    numpy_model = rnnalg.compile(program, np.float64, backend="numpy")
    assert model.loss_and_grad(params, batch, state, noise)[0] == numpy_model.loss_and_grad(
        params, batch, state, noise)[0]
    err = capsys.readouterr().err
    assert ("note: the fast backend runs _scan_backward with numpy: it has 178 statements, more than the "
            "80 LLVM optimises in reasonable time") in err
    assert "_scan_forward with numpy: it has 95 statements" in err
