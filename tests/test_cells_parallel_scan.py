"""Linear recurrences as a parallel scan (issue 20, item 5): the compiler proves h' = a ⊙ h + b
with a, b free of every state, runs it as an associative scan over all T steps, and the results
equal the step loop (float64, ≤ 1e-10) and the autograd reference, with masks and carried state."""
import builtins
from pathlib import Path

import numpy as np
import pytest

import rnnalg
from rnnalg import fast
from rnnalg.cli import main
from rnnalg.lower import prelude
from rnnalg.lower.emit import emit_module
from rnnalg.lower.linear import describe, linear_state, parallel_states
from rnnalg.testing import compare_with_reference, finite_difference_errors, random_setup

ROOT = Path(__file__).resolve().parents[1]
HEAD = "input x : real[3]\noutput y : binary[2]\nstate h : 4\n"
BACKENDS = ["numpy"] + (["fast"] if fast.unavailable_reason() is None else [])

LINEAR = {
    "mingru": "z : 4 = MLP[sigmoid](x)\ng : 4 = MLP[linear](x)\nh' = (1 - z) * h + z * g\ny = ▷ h'",
    "constant-decay": "h' = 0.9 * h + MLP[tanh](x)\ny = ▷ (h' ⊕ x)",
    "no-input-term": "u : 4 = MLP[sigmoid](x)\nh' = u * h - h * 0.5\ny = ▷ MLP[tanh 3](h' ⊕ h)",
    "two-states": "state c : 3\nu : 4 = MLP[sigmoid](x)\nh' = u * h + u\nc' = c * MLP[sigmoid](x) + 1\n"
                  "y = ▷ (h' ⊕ c')",
    "copies-input": "u : 4 = MLP[tanh](x)\nh' = u\ny = ▷ (h' ⊕ h)",
}
NOT_LINEAR = {
    "state-times-state": "h' = h * h\ny = ▷ h'",
    "gate-reads-state": "z = sigmoid(x ⊕ h)\nh' = (1 - z) * h + z\ny = ▷ h'",
    "function-of-state": "h' = tanh(0.5 * h + MLP[tanh](x))\ny = ▷ h'",
    "dropout-on-chain": "h' = dropout[0.2](0.5 * h)\ny = ▷ h'",
}


def program_of(body):
    return rnnalg.check(rnnalg.parse(HEAD + body, "lin.rnn"))


def module_of(program, parallel):
    namespace = {}
    exec(builtins.compile(emit_module(program, parallel), "<model>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("name", LINEAR)
def test_linear_updates_are_proved_and_run_as_a_parallel_scan(name):
    program = program_of(LINEAR[name])
    found = parallel_states(program)
    assert set(found) == {s.prev.name for s in program.states}
    assert all(line.split("   ")[0].endswith("parallel scan or step loop by size (_use_scan)")
               for line in describe(program))
    scan, steps = emit_module(program, parallel=True), emit_module(program, parallel=False)
    assert "= _linear_scan(" in scan and "_scan_linear_forward(" not in scan and "for t in range(" not in scan
    assert "= _linear_scan(" in emit_module(program) and "_scan_linear_forward(" in emit_module(program)  # 'auto': both
    assert "= _linear_scan(" not in steps and "_scan_linear_backward(" in steps
    assert "_scan_forward(" not in steps  # the linear recursion's kernels, not the generic step loop's


@pytest.mark.parametrize("name", NOT_LINEAR)
def test_nonlinear_updates_keep_the_step_loop(name):
    program = program_of(NOT_LINEAR[name])
    assert parallel_states(program) == {} and linear_state(program, program.states[0]) is None
    assert describe(program) == ["h: step loop"]
    assert "= _linear_scan(" not in emit_module(program)


def test_one_nonlinear_state_keeps_the_linear_one_in_the_step_loop():
    program = program_of("state c : 4\nh' = 0.5 * h + MLP[tanh](x)\nc' = tanh(h' ⊕ c)\ny = ▷ c'")
    assert parallel_states(program) == {}
    assert describe(program) == ["h: linear in h, step loop (another state is not linear)", "c: step loop"]


def test_the_proof_names_a_and_b():
    lin = parallel_states(program_of(LINEAR["constant-decay"]))["h"]
    assert str(lin.a) == "0.9" and str(lin.b) == "h'.2"


@pytest.mark.parametrize("T", [1, 2, 7, 64, 1000])
@pytest.mark.parametrize("name", LINEAR)
def test_parallel_scan_equals_the_step_loop(name, T):
    """float64, with padded sequences (a padded step is a = 1, b = 0) and a carried state."""
    program = program_of(LINEAR[name])
    B = 3
    _, params, batch, state, _ = random_setup(program, T=T, B=B, seed=T, mask=False)
    lengths = np.array([T, max(T // 2, 1), max(T - 3, 1)])
    batch["mask"] = (np.arange(T)[:, None] < lengths[None, :]).astype(float)
    par, seq = module_of(program, True), module_of(program, False)
    loss_p, grads_p, final_p = par["loss_and_grad"](params, batch, state)
    loss_s, grads_s, final_s = seq["loss_and_grad"](params, batch, state)
    assert abs(loss_p - loss_s) <= 1e-10 * abs(loss_s)
    for k in grads_s:
        assert np.max(np.abs(grads_p[k] - grads_s[k])) <= 1e-10 * max(np.max(np.abs(grads_s[k])), 1e-12), k
    for k in final_s:
        assert np.max(np.abs(final_p[k] - final_s[k])) <= 1e-10 * np.max(np.abs(final_s[k])), k


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", LINEAR)
def test_parallel_scan_matches_autograd(name, backend):
    program = program_of(LINEAR[name])
    errors = compare_with_reference(program, T=6, B=3, mask=True, state=True, backend=backend)
    assert max(errors.values()) < 1e-10, errors


def test_mingru_example_matches_finite_differences_and_compiles_to_a_scan(capsys):
    program = rnnalg.load_program(ROOT / "examples" / "mingru.rnn", {"H": 3})
    assert max(finite_difference_errors(program, probes=2, T=5, B=2)) < 1e-6
    assert main(["compile", str(ROOT / "examples" / "mingru.rnn"), "--set", "H=3"]) == 0
    assert "  h: linear in h, parallel scan or step loop by size (_use_scan)" in capsys.readouterr().out


def test_linear_scan_is_the_recurrence():
    rng = np.random.default_rng(0)
    a, b, h0 = rng.uniform(0.5, 1.0, (37, 2, 3)), rng.normal(size=(37, 2, 3)), rng.normal(size=(2, 3))
    h, expect = h0, []
    for t in range(37):
        h = a[t] * h + b[t]
        expect.append(h)
    assert np.allclose(prelude._linear_scan(a, b, h0), expect, rtol=1e-13, atol=1e-13)
    lam, carry = [], np.zeros((2, 3))
    for t in range(36, -1, -1):
        carry = b[t] + (a[t + 1] * carry if t + 1 < 37 else 0)
        lam.append(carry)
    assert np.allclose(prelude._linear_scan_reverse(a, b), lam[::-1], rtol=1e-13, atol=1e-13)
