"""`rnnalg export --to torch`: the generated nn.Module gives rnnalg's float64 loss, every gradient
and the final states (padded batches, carried state, dropout masks) for every example spec and
for random specs; `step` reproduces the sequence forward; dropout follows train()/eval()."""
import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnnalg
from rnnalg.errors import UsageError
from rnnalg.export.walk import Walk

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'rnnalg[export-torch]')")

from _export import (EXAMPLES, TOL, all_constructs, check_noise_summary, clashing_names, example,  # noqa: E402
                     load_generated, noise_summary, rel, rnnalg_result)
from rnnalg.export.torch_ import RULES, torch_source  # noqa: E402
from test_lowering_random import random_specs  # noqa: E402


def torch_errors(program, folder, **setup):
    """Relative errors of the torch module's loss, gradients and final states vs rnnalg's."""
    params, batch, state, noise, loss, grads, final = rnnalg_result(program, **setup)
    m = load_generated(torch_source(program), folder, "torch_model")
    net = m.Model(params)
    value, final_t = net.loss(batch, state, noise, with_state=True)
    value.backward()
    errors = {"loss": rel(value.item(), loss)}
    for name, attr in m.PARAM_NAMES.items():  # torch leaves None where the loss does not reach
        grad = getattr(net, attr).grad
        errors[name] = rel(np.zeros_like(grads[name]) if grad is None else grad.numpy(), grads[name])
    errors.update({f"final {k}": rel(v.detach().numpy(), final[k]) for k, v in final_t.items()})
    assert set(errors) == {"loss"} | set(grads) | {f"final {s.prev.name}" for s in program.states}
    return errors


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_matches_rnnalg_loss_and_gradients(path, tmp_path):
    errors = torch_errors(example(path), tmp_path)
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("mask, state", [(True, True), (False, False)])
def test_every_construct_of_the_language_exports(mask, state, tmp_path):
    errors = torch_errors(all_constructs(), tmp_path, mask=mask, state=state)
    assert max(errors.values()) < TOL, errors


def test_spec_names_that_the_generated_code_also_uses(tmp_path):
    errors = torch_errors(clashing_names(), tmp_path)  # states `steps`, `carry`; values `target`, `body`
    assert max(errors.values()) < TOL, errors


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(random_specs(), st.booleans(), st.booleans())
def test_random_specs_match_rnnalg(tmp_path, text, mask, state):
    program = rnnalg.check(rnnalg.parse(text, "random.rnn"))
    errors = torch_errors(program, tmp_path, T=3, B=2, mask=mask, state=state)
    assert max(errors.values()) < TOL, (text, errors)


@pytest.mark.parametrize("name", ["dots", "word_lstm", "srnn2"])
def test_step_reproduces_the_sequence_forward(name, tmp_path):
    program = rnnalg.load_program(f"examples/{name}.rnn", {"H": 4})
    params, batch, state, _, _, _, _ = rnnalg_result(program, T=5, B=2, mask=False, dropout=False)
    net = load_generated(torch_source(program), tmp_path).Model(params).eval()
    logits, final = net(batch["x"], state)
    numpy_model = rnnalg.compile(program, np.float64)
    s, ref = state, state
    for t in range(5):
        probs, s = net.step(batch["x"][t], s)
        ref_probs, ref = numpy_model.step(params, {"x": batch["x"][t]}, ref)
        assert rel(probs["y"].detach().numpy(), ref_probs["y"]) < TOL
        binary = program.heads[0].output.kind == "binary"
        link = torch.sigmoid(logits["y"][t]) if binary else torch.softmax(logits["y"][t], -1)
        assert rel(probs["y"].detach().numpy(), link.detach().numpy()) < TOL
    for k in final:
        assert rel(s[k].detach().numpy(), final[k].detach().numpy()) < TOL
        assert rel(s[k].detach().numpy(), ref[k]) < TOL


def test_step_takes_a_static_input_whole(tmp_path):
    program = rnnalg.load_program("examples/lstm_conditioned.rnn", {"H": 4})  # key: real[12] static, (B, 12)
    params, batch, state, _, _, _, _ = rnnalg_result(program, T=4, B=2, mask=False, dropout=False)
    net = load_generated(torch_source(program), tmp_path).Model(params).eval()
    logits, final = net.run({"x": batch["x"], "key": batch["key"]}, state)
    s = state
    for t in range(4):
        probs, s = net.step({"x": batch["x"][t], "key": batch["key"]}, s)
        assert tuple(probs["y"].shape) == (2, 88) and {tuple(v.shape) for v in s.values()} == {(2, 4)}
        assert rel(probs["y"].detach().numpy(), torch.sigmoid(logits["y"][t]).detach().numpy()) < TOL
    for k in final:
        assert rel(s[k].detach().numpy(), final[k].detach().numpy()) < TOL


def test_dropout_is_on_in_training_mode_and_off_in_eval(tmp_path):
    program = example(EXAMPLES[[p.stem for p in EXAMPLES].index("dots_star")])
    params, batch, state, _, _, _, _ = rnnalg_result(program, dropout=False)
    loss_without, _, _ = rnnalg.compile(program, np.float64).loss_and_grad(params, batch, state, None)
    net = load_generated(torch_source(program), tmp_path).Model(params)
    assert net.training  # a fresh Module trains: its masks are drawn, two draws differ
    torch.manual_seed(0)
    first, second = net.loss(batch, state).item(), net.loss(batch, state).item()
    assert first != second and abs(first - loss_without) > 1e-6
    assert rel(net.eval().loss(batch, state).item(), loss_without) < TOL


def test_default_init_is_rnnalg_gaussian_in_float32(tmp_path):
    program = rnnalg.load_program("examples/dots.rnn")  # H = 200: z's ⊕ reads x (88) and h (200)
    m = load_generated(torch_source(program), tmp_path)
    net = m.Model(generator=torch.Generator().manual_seed(0))
    params = net.rnnalg_params()
    assert params["z.W_x"].dtype == torch.float32
    weights = torch.cat([params["z.W_x"].flatten(), params["z.W_h"].flatten()]).detach()
    assert abs(float(weights.std()) * np.sqrt(288) - 1) < 0.02
    assert float(params["z.b"].detach().abs().max()) == 0.0
    assert set(dict(net.named_parameters())) == set(m.PARAM_NAMES.values())
    assert len(set(m.PARAM_NAMES.values())) == len(m.PARAM_NAMES)  # the map inverts
    assert m.PARAM_NAMES["h'.W_z"] == "h_next_W_z"


@pytest.mark.parametrize("name, ops", [("lstm_zoneout", {"vdropout", "zoneout"}), ("dots_star", {"dropout"})])
def test_draw_noise_follows_rnnalgs_rule_for_each_op(name, ops, tmp_path):
    m = load_generated(torch_source(rnnalg.load_program(f"examples/{name}.rnn", {"H": 4})), tmp_path)
    net = m.Model(generator=torch.Generator().manual_seed(0))
    summary = noise_summary(net.draw_noise(60, 50, torch.Generator().manual_seed(1)), m.DROPOUT)
    assert {s["op"] for s in summary.values()} == ops
    check_noise_summary(summary)


def test_default_init_of_gains_and_a_tied_embedding(tmp_path):
    ln = rnnalg.load_program("examples/ln_lstm.rnn", {"H": 4})
    params = load_generated(torch_source(ln), tmp_path).Model().rnnalg_params()
    gains = [p.name for p in ln.params if p.role == "gain"]
    assert gains and all(bool((params[g] == 1).all()) for g in gains)
    tied = rnnalg.load_program("examples/word_lstm_tied.rnn", {"H": 4})
    m = load_generated(torch_source(tied), tmp_path)
    net = m.Model(generator=torch.Generator().manual_seed(0))
    assert set(m.PARAM_NAMES) == {p.name for p in tied.params}  # the tied softmax weight is no parameter
    (_, table), = tied.ties
    assert abs(float(net.rnnalg_params()[table].detach().std()) * np.sqrt(4) - 1) < 0.02  # N(0, 1/width)
    _, batch, *_ = rnnalg_result(tied, dropout=False)
    assert np.isfinite(net.eval().loss(batch).item())


def test_a_construct_the_target_cannot_spell_is_an_error_naming_it():
    program = rnnalg.load_program("examples/dots_star.rnn")
    without_lp = dataclasses.replace(RULES, ops={k: v for k, v in RULES.ops.items() if k != "lp"})
    with pytest.raises(UsageError, match=r"dots_star.rnn:\d+:\d+: export --to torch: the op 'lp'"):
        Walk(program).code(without_lp)


def test_bad_params_are_named(tmp_path):
    program = example(EXAMPLES[0])
    m = load_generated(torch_source(program), tmp_path)
    params, *_ = rnnalg_result(program)
    name = program.params[0].name
    with pytest.raises(KeyError, match=name):
        m.Model({k: v for k, v in params.items() if k != name})
    with pytest.raises(ValueError, match="expected"):
        m.Model({**params, name: np.zeros((1, 1))})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_runs_on_cuda(tmp_path):  # pragma: no cover - GPU machines only
    program = example(EXAMPLES[0])
    params, batch, state, noise, loss, _, _ = rnnalg_result(program)
    net = load_generated(torch_source(program), tmp_path).Model(params, device="cuda")
    value = net.loss({k: torch.as_tensor(v, device="cuda") for k, v in batch.items()},
                     {k: torch.as_tensor(v, device="cuda") for k, v in state.items()}, noise and
                     {k: torch.as_tensor(v, device="cuda") for k, v in noise.items()})
    assert rel(value.item(), loss) < 1e-10
