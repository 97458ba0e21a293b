"""`rnnalg export --to jax`: the generated pure functions give rnnalg's float64 loss, every
gradient and the final states (padded batches, carried state, dropout masks) for every example
spec and for random specs, under jit too; `step` reproduces the sequence forward."""
import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnnalg

if "jax" not in sys.modules:  # compile time is the cost of these tests: XLA's quick settings
    os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true")
jax = pytest.importorskip("jax", reason="jax is not installed (pip install 'rnnalg[export-jax]')")
jax.config.update("jax_enable_x64", True)

from _export import (EXAMPLES, TOL, all_constructs, clashing_names, example, load_generated,  # noqa: E402
                     rel, rnnalg_result)
from rnnalg.export.jax_ import jax_source  # noqa: E402
from test_lowering_random import random_specs  # noqa: E402


def jax_errors(program, folder, jit=False, **setup):
    """Relative errors of the jax module's loss, gradients and final states vs rnnalg's."""
    params, batch, state, noise, loss, grads, final = rnnalg_result(program, **setup)
    m = load_generated(jax_source(program), folder, "jax_model")
    fn = jax.value_and_grad(lambda p: m.loss(p, batch, state, noise, with_state=True), has_aux=True)
    (value, final_j), grads_j = (jax.jit(fn) if jit else fn)(params)
    errors = {"loss": rel(value, loss)}
    errors.update({name: rel(grads_j[name], grads[name]) for name in grads})
    errors.update({f"final {k}": rel(v, final[k]) for k, v in final_j.items()})
    assert set(errors) == {"loss"} | set(grads) | {f"final {s.prev.name}" for s in program.states}
    return errors


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_matches_rnnalg_loss_and_gradients(path, tmp_path):
    errors = jax_errors(example(path), tmp_path)
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("name", ["dots_star", "word_lstm"])
def test_jit_gives_the_same(name, tmp_path):
    errors = jax_errors(rnnalg.load_program(f"examples/{name}.rnn", {"H": 4}), tmp_path, jit=True)
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("mask, state", [(True, True), (False, False)])
def test_every_construct_of_the_language_exports(mask, state, tmp_path):
    errors = jax_errors(all_constructs(), tmp_path, mask=mask, state=state)
    assert max(errors.values()) < TOL, errors


def test_spec_names_that_the_generated_code_also_uses(tmp_path):
    errors = jax_errors(clashing_names(), tmp_path)  # states `steps`, `carry`; values `target`, `body`
    assert max(errors.values()) < TOL, errors


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(random_specs(), st.booleans(), st.booleans())
def test_random_specs_match_rnnalg(tmp_path, text, mask, state):
    program = rnnalg.check(rnnalg.parse(text, "random.rnn"))
    errors = jax_errors(program, tmp_path, T=3, B=2, mask=mask, state=state)
    assert max(errors.values()) < TOL, (text, errors)


@pytest.mark.parametrize("name", ["dots", "word_lstm"])
def test_step_reproduces_the_sequence_forward(name, tmp_path):
    program = rnnalg.load_program(f"examples/{name}.rnn", {"H": 4})
    params, batch, state, _, _, _, _ = rnnalg_result(program, T=4, B=2, mask=False, dropout=False)
    m = load_generated(jax_source(program), tmp_path)
    logits, final = m.apply(params, {"x": batch["x"]}, state)
    numpy_model = rnnalg.compile(program, np.float64)
    s, ref = state, state
    for t in range(4):
        probs, s = m.step(params, batch["x"][t], s)
        ref_probs, ref = numpy_model.step(params, {"x": batch["x"][t]}, ref)
        assert rel(probs["y"], ref_probs["y"]) < TOL
        assert rel(probs["y"], m.probabilities({"y": logits["y"][t]})["y"]) < TOL
    for k in final:
        assert rel(s[k], final[k]) < TOL and rel(s[k], ref[k]) < TOL


def test_dropout_with_a_key_and_init(tmp_path):
    program = rnnalg.load_program("examples/dots_star.rnn", {"H": 4})
    params, batch, state, _, _, _, _ = rnnalg_result(program, dropout=False)
    loss_without, _, _ = rnnalg.compile(program, np.float64).loss_and_grad(params, batch, state, None)
    m = load_generated(jax_source(program), tmp_path)
    assert rel(m.loss(params, batch, state), loss_without) < TOL  # no key, no noise: evaluation
    first = float(m.loss(params, batch, state, key=jax.random.PRNGKey(0)))
    second = float(m.loss(params, batch, state, key=jax.random.PRNGKey(1)))
    assert first != second and abs(first - loss_without) > 1e-6
    fresh = m.init(jax.random.PRNGKey(0))
    assert {name: tuple(v.shape) for name, v in fresh.items()} == {p.name: p.shape for p in program.params}
    assert fresh["z.b"].dtype == np.float32 and float(np.abs(fresh["z.b"]).max()) == 0.0
    assert np.isfinite(float(m.loss(fresh, batch)))
