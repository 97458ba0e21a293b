"""The JAX side of tests/test_export_jax.py, in a process of its own: importing JAX starts
threads, after which a fork() in the pytest process (tests/test_sweep.py starts workers with a
preexec_fn) could deadlock.  Reads one JSON request a line, [function, kwargs], and answers one
JSON line, {"value": ...} or {"error": traceback}."""
from __future__ import annotations

import json
import sys
import tempfile
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

import rnnalg  # noqa: E402
from _export import SMALL, load_generated, noise_summary, rel, rnnalg_result  # noqa: E402
from rnnalg.export.jax_ import jax_source  # noqa: E402

FOLDER = Path(tempfile.mkdtemp(prefix="rnnalg-jax-tests-"))


def program_of(path=None, text=None, file="random.rnn"):
    return rnnalg.load_program(path, SMALL) if path else rnnalg.check(rnnalg.parse(text, file))


def jax_errors(program, folder=FOLDER, jit=False, **setup):
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


def errors(path=None, text=None, file="random.rnn", jit=False, **setup):
    return jax_errors(program_of(path, text, file), jit=jit, **setup)


def step(path):
    """Worst errors of step-by-step probabilities and states vs apply and vs rnnalg's step."""
    program = program_of(path)
    params, batch, state, _, _, _, _ = rnnalg_result(program, T=4, B=2, mask=False, dropout=False)
    m = load_generated(jax_source(program), FOLDER)
    logits, final = m.apply(params, batch["x"], state)
    numpy_model = rnnalg.compile(program, np.float64)
    s, ref, worst = state, state, {"vs rnnalg step": 0.0, "vs apply": 0.0, "final": 0.0}
    for t in range(4):
        probs, s = m.step(params, batch["x"][t], s)
        ref_probs, ref = numpy_model.step(params, {"x": batch["x"][t]}, ref)
        worst["vs rnnalg step"] = max(worst["vs rnnalg step"], rel(probs["y"], ref_probs["y"]))
        worst["vs apply"] = max(worst["vs apply"], rel(probs["y"], m.probabilities({"y": logits["y"][t]})["y"]))
    for k in final:
        worst["final"] = max(worst["final"], rel(s[k], final[k]), rel(s[k], ref[k]))
    return worst


def dropout_and_init(path):
    """Losses without a key, with two keys, rnnalg's without dropout; what init returns."""
    program = program_of(path)
    params, batch, state, _, _, _, _ = rnnalg_result(program, dropout=False)
    without, _, _ = rnnalg.compile(program, np.float64).loss_and_grad(params, batch, state, None)
    m = load_generated(jax_source(program), FOLDER)
    fresh = m.init(jax.random.PRNGKey(0))
    bias = [p.name for p in program.params if p.role == "bias"][0]
    return {"rnnalg": without, "no key": float(m.loss(params, batch, state)),
            "key 0": float(m.loss(params, batch, state, key=jax.random.PRNGKey(0))),
            "key 1": float(m.loss(params, batch, state, key=jax.random.PRNGKey(1))),
            "init shapes": {name: list(v.shape) for name, v in fresh.items()},
            "shapes": {p.name: list(p.shape) for p in program.params},
            "init bias dtype": str(fresh[bias].dtype), "init bias max": float(np.abs(fresh[bias]).max()),
            "init loss": float(m.loss(fresh, batch))}


def noise_and_init(path):
    """What draw_noise draws (noise_summary, T = 60, B = 50); init's gains and tied embedding."""
    program = program_of(path)
    m = load_generated(jax_source(program), FOLDER)
    fresh = m.init(jax.random.PRNGKey(0))
    _, batch, *_ = rnnalg_result(program, dropout=False)
    return {"noise": noise_summary(m.draw_noise(jax.random.PRNGKey(1), 60, 50), m.DROPOUT),
            "init names": sorted(fresh), "names": sorted(p.name for p in program.params),
            "gains": [float(np.abs(fresh[p.name] - 1).max()) for p in program.params if p.role == "gain"],
            "tied std": [float(np.std(fresh[table])) for _, table in program.ties],
            "init loss": float(m.loss(fresh, batch))}


def static_step(path):
    """step with a static input given whole (B, D): shapes and the worst error vs apply."""
    program = program_of(path)
    params, batch, state, _, _, _, _ = rnnalg_result(program, T=4, B=2, mask=False, dropout=False)
    m = load_generated(jax_source(program), FOLDER)
    logits, final = m.apply(params, {"x": batch["x"], "key": batch["key"]}, state)
    s, worst, shapes = state, 0.0, set()
    for t in range(4):
        probs, s = m.step(params, {"x": batch["x"][t], "key": batch["key"]}, s)
        shapes |= {str(tuple(probs["y"].shape))} | {str(tuple(v.shape)) for v in s.values()}
        worst = max(worst, rel(probs["y"], m.probabilities({"y": logits["y"][t]})["y"]))
    worst = max([worst] + [rel(s[k], final[k]) for k in final])
    return {"worst": worst, "shapes": sorted(shapes)}


FUNCTIONS = {"errors": errors, "step": step, "dropout_and_init": dropout_and_init, "noise_and_init": noise_and_init,
             "static_step": static_step}


def main() -> int:
    for line in sys.stdin:
        name, kwargs = json.loads(line)
        try:
            answer = {"value": FUNCTIONS[name](**kwargs)}
        except Exception:  # noqa: BLE001 - reported to the test, which fails with it
            answer = {"error": traceback.format_exc()}
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
