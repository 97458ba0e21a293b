"""`rnnalg export --to jax`: the generated pure functions give rnnalg's float64 loss, every
gradient and the final states (padded batches, carried state, dropout masks) for every example
spec and for random specs, under jit too; `step` reproduces the sequence forward.

JAX runs in a worker process (tests/_export_jax_worker.py): this process never imports it."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _export import ALL_CONSTRUCTS, CLASHING_NAMES, EXAMPLES, TOL, check_noise_summary
from test_lowering_random import random_specs

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                                reason="jax is not installed (pip install 'rnnalg[export-jax]')")


@pytest.fixture(scope="module")
def jax_worker():
    """worker(function, **kwargs) -> the value the worker's function returns."""
    env = dict(os.environ)
    # compile time is the cost of these tests: XLA's quick settings (the results are the same)
    env.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true")
    proc = subprocess.Popen([sys.executable, str(HERE / "_export_jax_worker.py")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=HERE.parent, env=env)

    def call(function, **kwargs):
        proc.stdin.write(json.dumps([function, kwargs]) + "\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        assert line, "the JAX worker ended"
        answer = json.loads(line)
        assert "error" not in answer, answer.get("error")
        return answer["value"]

    yield call
    proc.stdin.close()
    proc.wait(timeout=60)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_matches_rnnalg_loss_and_gradients(path, jax_worker):
    errors = jax_worker("errors", path=str(path))
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("name", ["dots_star", "word_lstm"])
def test_jit_gives_the_same(name, jax_worker):
    errors = jax_worker("errors", path=f"examples/{name}.rnn", jit=True)
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("mask, state", [(True, True), (False, False)])
def test_every_construct_of_the_language_exports(mask, state, jax_worker):
    errors = jax_worker("errors", text=ALL_CONSTRUCTS, file="all_constructs.rnn", mask=mask, state=state)
    assert max(errors.values()) < TOL, errors


def test_spec_names_that_the_generated_code_also_uses(jax_worker):
    errors = jax_worker("errors", text=CLASHING_NAMES, file="names.rnn")  # states `steps`, `carry`; `body`
    assert max(errors.values()) < TOL, errors


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(random_specs(), st.booleans(), st.booleans())
def test_random_specs_match_rnnalg(jax_worker, text, mask, state):
    errors = jax_worker("errors", text=text, T=3, B=2, mask=mask, state=state)
    assert max(errors.values()) < TOL, (text, errors)


@pytest.mark.parametrize("name", ["dots", "word_lstm"])
def test_step_reproduces_the_sequence_forward(name, jax_worker):
    worst = jax_worker("step", path=f"examples/{name}.rnn")
    assert max(worst.values()) < TOL, worst


def test_dropout_with_a_key_and_init(jax_worker):
    got = jax_worker("dropout_and_init", path="examples/dots_star.rnn")
    assert abs(got["no key"] - got["rnnalg"]) < TOL * got["rnnalg"]  # no key, no noise: evaluation
    assert got["key 0"] != got["key 1"] and abs(got["key 0"] - got["rnnalg"]) > 1e-6
    assert got["init shapes"] == got["shapes"]
    assert got["init bias dtype"] == "float32" and got["init bias max"] == 0.0
    assert got["init loss"] == got["init loss"] and got["init loss"] < float("inf")


@pytest.mark.parametrize("name, ops", [("lstm_zoneout", {"vdropout", "zoneout"}), ("dots_star", {"dropout"})])
def test_draw_noise_follows_rnnalgs_rule_for_each_op(name, ops, jax_worker):
    got = jax_worker("noise_and_init", path=f"examples/{name}.rnn")
    assert {s["op"] for s in got["noise"].values()} == ops
    check_noise_summary(got["noise"])


def test_default_init_of_gains_and_a_tied_embedding(jax_worker):
    ln = jax_worker("noise_and_init", path="examples/ln_lstm.rnn")
    assert ln["gains"] and max(ln["gains"]) == 0.0  # every gain starts at 1
    tied = jax_worker("noise_and_init", path="examples/word_lstm_tied.rnn")
    assert tied["init names"] == tied["names"]  # the tied softmax weight is no parameter
    assert abs(tied["tied std"][0] * 2 - 1) < 0.02  # N(0, 1/width), width H = 4
    assert tied["init loss"] < float("inf")


def test_step_takes_a_static_input_whole(jax_worker):
    got = jax_worker("static_step", path="examples/lstm_conditioned.rnn")  # key: real[12] static, (B, 12)
    assert got["shapes"] == ["(2, 4)", "(2, 88)"] and got["worst"] < TOL, got
