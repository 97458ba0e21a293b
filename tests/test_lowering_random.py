"""Hypothesis: random valid specs (stacked states, deep transitions, pre and post values,
gated updates, every op and input kind) compile to gradients equal to the autograd reference."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnnalg
from rnnalg.testing import compare_with_reference

FUNCTIONS = [
    lambda a: f"tanh({a})", lambda a: f"sigmoid({a})", lambda a: f"relu({a})", lambda a: f"linear({a})",
    lambda a: f"maxout[2]({a})", lambda a: f"lp[2, 2]({a})", lambda a: f"lp[3, 3]({a})",
    lambda a: f"dropout[0.25](tanh({a}))", lambda a: f"MLP[tanh 3, sigmoid]({a})", lambda a: f"MLP({a})",
    # elementwise: mul, add, sub, and numbers (scale, shift); the two affines share their operands
    lambda a: f"sigmoid({a}) * tanh({a})", lambda a: f"tanh(({a}) + 1) - 0.5 * relu({a})",
    lambda a: f"1 - -sigmoid({a}) * 2",
    # layernorm: a gain and a bias per unit (issue 20)
    lambda a: f"tanh(layernorm({a}))", lambda a: f"MLP[layernorm 3, tanh]({a})",
    lambda a: f"vdropout[0.25](tanh({a}))",
]


@st.composite
def random_specs(draw):
    """Spec text: inputs, 1-2 states with optional intermediate layers, a pre and a post value."""
    kind = draw(st.sampled_from(["binary", "real", "token"]))
    lines = [f"input x : {kind}[{draw(st.integers(2, 5))}]",
             f"output y : {draw(st.sampled_from(['binary', 'real', 'token']))}[{draw(st.integers(2, 4))}]"]
    n_states = draw(st.integers(1, 2))
    known = ["x"]  # values an equation may read so far

    def summary(extra=()):
        pool = sorted(set(known) | set(extra))
        ops = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))
        if len(ops) == 1:  # a one-operand summary: `f(a)` alone would keep a's width
            return f"MLP[{draw(st.sampled_from(['tanh', 'relu', 'maxout[2]']))}]({ops[0]})"
        return draw(st.sampled_from(FUNCTIONS))(" ⊕ ".join(ops))

    if draw(st.booleans()):  # a pre value: reads inputs only
        lines.append(f"u : {draw(st.integers(2, 4))} = {summary()}")
        known.append("u")
    states = [f"h{i}" for i in range(n_states)]
    for s in states:
        lines.append(f"state {s} : {draw(st.integers(2, 4))}")
    known += states
    for i, s in enumerate(states):
        if draw(st.booleans()):  # a deep transition layer
            lines.append(f"z{i} : {draw(st.integers(2, 4))} = {summary()}")
            known.append(f"z{i}")
        extra = [f"z{i}"] if f"z{i}" in known else []
        update = draw(st.sampled_from(["gated", "linear", "zoneout", "plain"]))
        if update == "gated":  # a gated update: a gate mixes the state and a candidate
            lines.append(f"g{i} = sigmoid({' ⊕ '.join(sorted(set(known) | set(extra)))})")
            lines.append(f"{s}' = g{i} * {s} + (1 - g{i}) * {summary(extra)}")
        elif update == "linear":  # h' = a ⊙ h + b from the inputs only: a parallel scan (issue 20)
            lines.append(f"{s}' = (1 - MLP[sigmoid](x)) * {s} + 0.5 * MLP[tanh](x)")
        elif update == "zoneout":  # each unit keeps its previous value with probability 0.3 (training)
            lines.append(f"{s}' = zoneout[0.3]({summary(extra)})")
        else:
            lines.append(f"{s}' = {summary(extra)}")
        known.append(f"{s}'")
    if draw(st.booleans()):  # a post value: a deep output layer
        lines.append(f"o : {draw(st.integers(2, 4))} = {summary()}")
        known.append("o")
    ops = draw(st.lists(st.sampled_from(known), min_size=1, max_size=3, unique=True))
    deep = draw(st.booleans())
    rhs = f"MLP[tanh 3]({' ⊕ '.join(ops)})" if deep else f"({' ⊕ '.join(ops)})"
    lines.append(f"y = ▷ {rhs}")
    return "\n".join(lines) + "\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_specs(), st.booleans(), st.booleans(), st.booleans())
def test_random_spec_matches_autograd(text, mask, state, dropout):
    program = rnnalg.check(rnnalg.parse(text, "random.rnn"))
    errors = compare_with_reference(program, T=3, B=2, mask=mask, state=state, dropout=dropout)
    assert max(errors.values()) < 1e-6, (text, errors)
