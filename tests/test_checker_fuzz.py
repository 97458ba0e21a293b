"""Property: on any spec the checker returns a well-formed Program or raises SpecError.

Specs are drawn from small pools of names, functions and sizes so that they are often
right and often wrong in every way the checker knows (unbound, cycles, widths, tokens…).
"""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnalg.checking import check
from rnnalg.errors import SpecError
from rnnalg.front.syntax import (MLP, BinOp, Call, Const, Decl, Equation, Layer, Let, Name, Neg, Plus, Predict, Spec,
                           Type)

NAMES = ["x", "c", "h", "h'", "g", "g'", "z", "o", "y", "q", "H"]
FUNCS = [("tanh", ()), ("relu", ()), ("maxout", (2,)), ("lp", (2, 2)), ("dropout", (0.5,)),
         ("maxout", (0,)), ("tanh", (1,)), ("sofplus", ())]
SIZES = st.sampled_from([1, 2, 3, 4, 6, 8, "H", "Q", 0])

names = st.sampled_from(NAMES).map(Name)
numbers = st.sampled_from([0, 1, -2, 0.5]).map(Const)
expr = st.recursive(
    names | numbers,
    lambda inner: st.one_of(
        st.builds(BinOp, st.sampled_from(["*", "+", "-", "/"]), inner, inner),
        inner.map(Neg),
        st.lists(inner, min_size=2, max_size=3).map(lambda ops: Plus(tuple(ops))),
        st.tuples(st.sampled_from(FUNCS), inner).map(lambda t: Call(t[0][0], t[0][1], t[1])),
        st.tuples(st.none() | st.lists(st.tuples(st.sampled_from(FUNCS), st.none() | SIZES), min_size=1,
                                        max_size=2), inner).map(
            lambda t: MLP(None if t[0] is None else tuple(Layer(f, a, w) for (f, a), w in t[0]), t[1])),
        inner.map(Predict),
    ),
    max_leaves=6,
)
equation = st.tuples(st.sampled_from(["h'", "g'", "z", "o", "y", "x", "q'"]), st.none() | SIZES, expr).map(
    lambda t: Equation(t[0], t[1], Predict(t[2]) if t[0] == "y" and not isinstance(t[2], Predict) else t[2]))
decls = st.just((
    Let("H", 4),
    Decl("input", "x", Type("binary", 4)),
    Decl("input", "c", Type("token", 5)),
    Decl("output", "y", Type("token", 5)),
    Decl("state", "h", Type("real", "H")),
    Decl("state", "g", Type("real", 6)),
))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(decls, st.lists(equation, min_size=0, max_size=6))
def test_check_returns_a_program_or_raises_spec_error(head, eqs):
    spec = Spec(head + tuple(eqs))
    try:
        program = check(spec)
    except SpecError as err:
        assert err.diagnostics and all(d.severity == "error" for d in err.diagnostics)
        assert all(d.code and d.message for d in err.diagnostics)
        return
    assert_well_formed(program)


def assert_well_formed(program):
    """Eqns in dependency order, unique names, tokens only read by affines."""
    defined = {v.name for v in program.inputs} | {s.prev.name for s in program.states}
    for e in program.eqns:
        assert all(a.name in defined for a in e.args)
        assert e.out.name not in defined
        defined.add(e.out.name)
        assert all(a.kind != "token" for a in e.args) or e.op == "affine"
    assert {s.next.name for s in program.states} <= defined
    assert len({p.name for p in program.params}) == len(program.params)


VALID_FUNCS = [("tanh", ()), ("relu", ()), ("maxout", (2,)), ("lp", (2, 2)), ("dropout", (0.5,))]


def valid_expr(pool):
    return st.recursive(
        st.sampled_from(pool).map(Name),
        lambda inner: st.one_of(
            st.lists(st.sampled_from(pool), min_size=2, max_size=3, unique=True).map(
                lambda ops: Plus(tuple(map(Name, ops)))),
            st.tuples(st.sampled_from(VALID_FUNCS), inner).map(lambda t: Call(t[0][0], t[0][1], t[1])),
            st.tuples(st.none() | st.lists(st.tuples(st.sampled_from(VALID_FUNCS), st.none() | st.just(4)),
                                            min_size=1, max_size=2), inner).map(
                lambda t: MLP(None if t[0] is None else tuple(Layer(f, a, w) for (f, a), w in t[0]), t[1])),
            # elementwise: two values, or a value and a number (either side)
            st.builds(BinOp, st.sampled_from(["*", "+", "-"]), inner, inner | st.just(Const(1))),
            st.builds(BinOp, st.sampled_from(["*", "-"]), st.just(Const(0.5)), inner),
            inner.map(Neg),
        ),
        max_leaves=4,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_expr(["x", "c", "h", "g"]), valid_expr(["x", "h'", "g"]),
       valid_expr(["h'", "g'", "x"]), st.permutations(range(3)))
def test_mostly_valid_specs(e1, e2, e3, order):
    eqs = [Equation("h'", None, e1), Equation("g'", None, e2), Equation("y", None, Predict(e3))]
    spec = Spec((Let("H", 4), Decl("input", "x", Type("binary", 4)), Decl("input", "c", Type("token", 5)),
                 Decl("output", "y", Type("token", 5)), Decl("state", "h", Type("real", "H")),
                 Decl("state", "g", Type("real", 6))) + tuple(eqs[i] for i in order))
    try:
        program = check(spec)
    except SpecError as err:
        allowed = {"width-mismatch", "width-not-inferable", "group-size", "token-as-dense", "cycle"}
        assert {d.code for d in err.diagnostics} <= allowed, err
        return
    assert_well_formed(program)
    assert program.heads[0].logits.width == 5
    assert [e.out.width for e in program.eqns if e.out.name in ("h'", "g'")] in ([4, 6], [6, 4])
