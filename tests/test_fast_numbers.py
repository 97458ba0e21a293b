"""A Python number beside a float32 array in a compiled kernel is float32, as numpy computes it
(NEP 50; rnnalg/fast/numba_weak.py): every operator and form, in an optimised kernel and in a long
(optnone) one, which calls no row-loop helper; numba's own operations computed them in float64."""
import numpy as np
import pytest

import rnnalg
from rnnalg import fast
from rnnalg.fast import backend
from rnnalg.testing import random_setup

pytestmark = pytest.mark.skipif(fast.unavailable_reason() is not None, reason="numba is not installed")

# each form a number takes beside an array that the row-loop helpers do not cover (/ // % ** and
# comparisons, x /= c, X[t] /= c, a tuple index, np.divide), and in a long kernel all of them:
# + − * in a chain, a negative number, an int, a rebinding of an argument (`h = h * 0.95 + …`:
# float64 there, which numba could not unify with the float32 argument)
NUMBER_FORMS_KERNEL = '''
def _scan_k(T, B, X, a, b, o, h):
    u = a / 0.3
    v = 0.3 / a
    w = np.abs(a) ** 1.7
    f = a // 0.3
    r = a % 0.3
    m = a > 0.1
    q = (1 - a) * b + 0.7 * a - -0.9
    np.divide(a, 0.3, o)
    for t in range(T):
        X[t] /= 0.3
        X[t, 0] -= 0.1
        h /= 0.3
        h = h * 0.95 + X[t]
    return u, v, w, f, r, m, q, h
'''


@pytest.mark.parametrize("long", [False, True], ids=["optimised", "long"])
def test_numbers_beside_float32_arrays_are_float32_as_numpys(long, monkeypatch):
    if long:
        monkeypatch.setattr(backend, "OPTIMISE_UP_TO", 0)
    as_numpy = {"np": np}
    exec(NUMBER_FORMS_KERNEL, as_numpy)
    T, shape = 3, (4, 257)
    rng = np.random.default_rng(5)
    X, a, b, h = (rng.standard_normal(s).astype(np.float32) for s in ((T, *shape), shape, shape, shape))
    a[0, :2] = 0.1, 0.3  # float32(0.1) > 0.1 in float64, not in float32
    kernel = fast.load_kernels(NUMBER_FORMS_KERNEL)["_scan_k"]
    decorator = "@_long_kernel" if long else "@_kernel"
    assert f"{decorator}\ndef _scan_k" in backend.kernel_module_text(NUMBER_FORMS_KERNEL)
    results = []
    for run in (kernel, as_numpy["_scan_k"]):
        X_, h_, o = X.copy(), h.copy(), np.empty(shape, np.float32)
        results.append((*run(T, 1, X_, a, b, o, h_), X_, o))
    for name, got, want in zip("u v w f r m q h X o".split(), *results):
        assert got.dtype == want.dtype, name
        if name == "w":  # numpy's float32 power is its own SIMD loop, not libm's powf: within 1 ulp
            np.testing.assert_array_max_ulp(got, want, maxulp=1)
        else:
            np.testing.assert_array_equal(got, want, err_msg=name)


def test_a_long_float32_kernel_with_numbers_compiles_and_equals_numpy(monkeypatch):
    """A spec's numbers (0.3 *, 1 −, the mask's 1 − mk[t], a negation) in kernels compiled long:
    before, the backward kernel did not type in float32 (a float64 carry) and the forward's final
    state differed from numpy's; now loss, gradients and final states are numpy's bit for bit."""
    monkeypatch.setattr(backend, "OPTIMISE_UP_TO", 0)  # every kernel long, as a 20-gate chain's are
    text = ("input x : binary[5]\noutput y : binary[5]\nstate h : 6\n"
            "h' = relu(x ⊕ h) * 0.3 + (1 - h) * 0.7 - -h\ny = ▷ h'\n")
    program = rnnalg.check(rnnalg.parse(text, "numbers.rnn"))
    _, params, batch, state, noise = random_setup(program, T=4, B=3, backend="numpy")

    def f32(arrays):
        return arrays and {k: (v if v.dtype.kind in "iu" else v.astype(np.float32)) for k, v in arrays.items()}
    results = []
    for name in ("fast", "numpy"):
        model = rnnalg.compile(program, np.float32, name)
        results.append(model.loss_and_grad(*map(f32, (params, batch, state, noise))))
        if name == "fast":
            assert "@_long_kernel" in backend.kernel_module_text(model.source)
    (loss, grads, final), (loss_np, grads_np, final_np) = results
    assert loss == loss_np
    for got, want in [(grads[k], grads_np[k]) for k in grads_np] + [(final[k], final_np[k]) for k in final_np]:
        assert got.dtype == want.dtype == np.float32
        np.testing.assert_array_equal(got, want)
