"""The checker's IR conventions, on specs built directly from syntax records.

These are the conventions the lowering relies on: var and parameter names, shapes,
roles, equation order and width inference.
"""
import pytest

from rnnalg.checking import check
from rnnalg.errors import SpecError, UsageError
from rnnalg.ir import Eqn, Head, Param, State, Var
from rnnalg.front.syntax import MLP, Call, Decl, Equation, Layer, Let, Name, Plus, Predict, Spec, Type


def P(*ops):
    return Plus(tuple(Name(o) if isinstance(o, str) else o for o in ops))


def f(fn, e, *args):
    return Call(fn, tuple(args), Name(e) if isinstance(e, str) else e)


def music(*items, H=200):
    return Spec((
        Let("H", H),
        Decl("input", "x", Type("binary", 88)),
        Decl("output", "y", Type("binary", 88)),
        Decl("state", "h", Type("real", "H")),
    ) + items)


RNN = music(Equation("h'", None, f("tanh", P("x", "h"))), Equation("y", None, Predict(Name("h'"))))


def eqn_lines(program):
    return [f"{e.out.name}:{e.out.width}={e.op}({','.join(a.name for a in e.args)})" for e in program.eqns]


def test_rnn_program_records():
    p = check(RNN)
    x, h, hn = Var("x", 88, "binary"), Var("h", 200), Var("h'", 200)
    assert p.inputs == (x,)
    assert p.states == (State(h, hn),)
    assert p.eqns == (
        Eqn(Var("h'.a", 200), "affine", (x, h), ("h'.W_x", "h'.W_h", "h'.b")),
        Eqn(hn, "tanh", (Var("h'.a", 200),)),
        Eqn(Var("y.a", 88), "affine", (hn,), ("y.W_h'", "y.b")),
    )
    assert p.heads == (Head(Var("y", 88, "binary"), Var("y.a", 88)),)
    assert p.params == (
        Param("h'.W_x", (88, 200), "weight"), Param("h'.W_h", (200, 200), "weight"),
        Param("h'.b", (200,), "bias"), Param("y.W_h'", (200, 88), "weight"), Param("y.b", (88,), "bias"),
    )
    # 88·200 + 200·200 + 200 + 200·88 + 88
    assert p.param_count == 17600 + 40000 + 200 + 17600 + 88 == 75488
    assert p.sizes == (("H", 200),)
    assert p.warnings == ()


def test_equations_in_any_order_are_sorted():
    spec = music(
        Equation("y", None, Predict(P("o", "h'"))),
        Equation("o", "H", f("tanh", P("h'", "x"))),
        Equation("h'", None, f("tanh", P("z", "h"))),
        Equation("z", "H", f("tanh", P("x", "h"))),
    )
    assert eqn_lines(check(spec)) == [
        "z.a:200=affine(x,h)", "z:200=tanh(z.a)",
        "h'.a:200=affine(z,h)", "h':200=tanh(h'.a)",
        "o.a:200=affine(h',x)", "o:200=tanh(o.a)",
        "y.a:88=affine(o,h')",
    ]


def test_sizes_override_and_unknown_size():
    p = check(RNN, {"H": 600})
    assert p.sizes == (("H", 600),)
    assert p.param("h'.W_h").shape == (600, 600)
    with pytest.raises(UsageError, match=r"unknown size 'Q' in sizes \(the spec defines: H\)") as info:
        check(RNN, {"Q": 3})
    assert "--set" not in str(info.value)  # the Python API speaks Python, not flags
    with pytest.raises(UsageError, match=r"sizes\['H'\] = 2.5: a size must be a positive integer"):
        check(RNN, {"H": 2.5})


def test_mlp_transition_layers_and_params():
    spec = music(Equation("h'", None, MLP((Layer("tanh", (), 400), Layer("tanh")), P("x", "h"))),
                 Equation("y", None, Predict(Name("h'"))))
    p = check(spec)
    assert eqn_lines(p) == [
        "h'.1.a:400=affine(x,h)", "h'.1:400=tanh(h'.1.a)",
        "h'.2.a:200=affine(h'.1)", "h':200=tanh(h'.2.a)",
        "y.a:88=affine(h')",
    ]
    assert [p_.name for p_ in p.params] == ["h'.1.W_x", "h'.1.W_h", "h'.1.b", "h'.2.W_h'.1", "h'.2.b",
                                            "y.W_h'", "y.b"]
    assert p.param("h'.2.W_h'.1").shape == (400, 200)


def test_plain_mlp_is_tanh_w_tanh_with_result_width():
    plain = music(Equation("h'", None, MLP(None, P("x", "h"))), Equation("y", None, Predict(Name("h'"))))
    explicit = music(Equation("h'", None, MLP((Layer("tanh", (), 200), Layer("tanh")), P("x", "h"))),
                     Equation("y", None, Predict(Name("h'"))))
    assert check(plain) == check(explicit)


def test_deep_output_names_and_logits():
    spec = music(Equation("h'", None, f("tanh", P("x", "h"))),
                 Equation("y", None, Predict(MLP((Layer("tanh", (), 400),), Name("h'")))))
    p = check(spec)
    assert eqn_lines(p)[2:] == ["y.1.a:400=affine(h')", "y.1:400=tanh(y.1.a)", "y.a:88=affine(y.1)"]
    assert [q.name for q in p.params][3:] == ["y.1.W_h'", "y.1.b", "y.W_y.1", "y.b"]
    assert p.heads[0].logits == Var("y.a", 88)


def test_plain_mlp_under_predict_takes_input_width():
    # nothing fixes the layer width under ▷: it is the MLP input's dense width, 200 + 88
    spec = music(Equation("h'", None, f("tanh", P("x", "h"))),
                 Equation("y", None, Predict(MLP(None, P("h'", "x")))))
    p = check(spec)
    assert eqn_lines(p)[2:] == ["y.1.a:288=affine(h',x)", "y.1:288=tanh(y.1.a)",
                                "y.2.a:288=affine(y.1)", "y.2:288=tanh(y.2.a)", "y.a:88=affine(y.2)"]


def test_maxout_and_lp_need_k_times_width():
    spec = music(Equation("h'", None, f("lp", P("x", "h"), 2, 3)),
                 Equation("y", None, Predict(MLP((Layer("maxout", (2,), 100), Layer("dropout", (0.5,), 50)),
                                                 Name("h'")))))
    p = check(spec)
    assert eqn_lines(p) == [
        "h'.a:600=affine(x,h)", "h':200=lp(h'.a)",
        "y.1.a:200=affine(h')", "y.1:100=maxout(y.1.a)",
        "y.2.a:50=affine(y.1)", "y.2:50=dropout(y.2.a)", "y.a:88=affine(y.2)",
    ]
    assert p.eqns[1].attrs == (("p", 2.0), ("k", 3))
    assert p.eqns[3].attrs == (("k", 2),)
    assert p.eqns[5].attrs == (("rate", 0.5),)


def test_maxout_width_inferred_forward_from_its_argument():
    spec = music(Equation("z", 300, P("x", "h")), Equation("u", None, f("maxout", "z", 3)),
                 Equation("h'", None, f("tanh", P("u", "h"))), Equation("y", None, Predict(Name("h'"))))
    p = check(spec)
    assert eqn_lines(p)[:2] == ["z:300=affine(x,h)", "u:100=maxout(z)"]
    assert [q.name for q in p.params][:3] == ["z.W_x", "z.W_h", "z.b"]


def test_token_operand_is_an_embedding():
    spec = Spec((
        Decl("input", "c", Type("token", 50)), Decl("output", "y", Type("token", 50)),
        Decl("state", "h", Type("real", 100)),
        Equation("h'", None, f("tanh", P("c", "h"))), Equation("y", None, Predict(Name("h'"))),
    ))
    p = check(spec)
    assert p.inputs == (Var("c", 50, "token"),)
    assert p.param("h'.W_c") == Param("h'.W_c", (50, 100), "embedding")
    assert p.heads[0].output == Var("y", 50, "token")
    # 50·100 + 100·100 + 100 + 100·50 + 50
    assert p.param_count == 5000 + 10000 + 100 + 5000 + 50


def test_stacked_rnn_reads_h_prime_of_lower_level():
    spec = Spec((
        Decl("input", "x", Type("binary", 88)), Decl("output", "y", Type("binary", 88)),
        Decl("state", "h1", Type("real", 100)), Decl("state", "h2", Type("real", 50)),
        Equation("y", None, Predict(Name("h2'"))),
        Equation("h2'", None, f("tanh", P("h1'", "h2"))),
        Equation("h1'", None, f("tanh", P("x", "h1"))),
    ))
    p = check(spec)
    assert [s.next.name for s in p.states] == ["h1'", "h2'"]
    assert eqn_lines(p) == ["h1'.a:100=affine(x,h1)", "h1':100=tanh(h1'.a)",
                            "h2'.a:50=affine(h1',h2)", "h2':50=tanh(h2'.a)", "y.a:88=affine(h2')"]


def test_nested_plus_is_flattened_into_one_affine():
    spec = music(Equation("z", "H", f("tanh", P("x", "h"))),
                 Equation("h'", None, f("tanh", Plus((Name("x"), P("h", "z"))))),
                 Equation("y", None, Predict(Name("h'"))))
    p = check(spec)
    assert eqn_lines(p)[2] == "h'.a:200=affine(x,h,z)"
    assert p.producer("h'.a").params == ("h'.W_x", "h'.W_h", "h'.W_z", "h'.b")


def test_operand_expression_without_width_is_not_inferable():
    # relu(x ⊕ h) as an operand: nothing fixes the width of its ⊕
    spec = music(Equation("h'", None, f("tanh", Plus((f("relu", P("x", "h")), Name("h"))))),
                 Equation("y", None, Predict(Name("h'"))))
    with pytest.raises(SpecError) as err:
        check(spec)
    assert [d.code for d in err.value.diagnostics] == ["width-not-inferable"]


def test_nested_call_operand_gets_counter_name():
    spec = music(Equation("h'", None, f("tanh", Plus((f("relu", "h"), Name("x"))))),
                 Equation("y", None, Predict(Name("h'"))))
    p = check(spec)
    assert eqn_lines(p)[:3] == ["h'.1:200=relu(h)", "h'.a:200=affine(h'.1,x)", "h':200=tanh(h'.a)"]
    assert [q.name for q in p.params][:3] == ["h'.W_h'.1", "h'.W_x", "h'.b"]


def test_counter_names_skip_mlp_layer_sites():
    # layers reserve h'.1 and h'.2; the operand relu(h) becomes h'.3
    spec = music(Equation("h'", None, MLP((Layer("tanh", (), 30), Layer("tanh")),
                                          Plus((f("relu", "h"), Name("x"))))),
                 Equation("y", None, Predict(Name("h'"))))
    p = check(spec)
    assert eqn_lines(p)[:3] == ["h'.3:200=relu(h)", "h'.1.a:30=affine(h'.3,x)", "h'.1:30=tanh(h'.1.a)"]
    names = [e.out.name for e in p.eqns] + [q.name for q in p.params]
    assert len(names) == len(set(names))


def test_alias_is_linear_and_width_checked():
    spec = music(Equation("z", None, Name("h")), Equation("h'", None, f("tanh", P("x", "z"))),
                 Equation("y", None, Predict(Name("h'"))))
    assert eqn_lines(check(spec))[0] == "z:200=linear(h)"
    bad = music(Equation("z", 100, Name("h")), Equation("h'", None, f("tanh", P("x", "z"))),
                Equation("y", None, Predict(Name("h'"))))
    with pytest.raises(SpecError) as err:
        check(bad)
    assert [d.code for d in err.value.diagnostics] == ["width-mismatch"]
    assert "'h' has width 200, but 100 is needed (z : 100)" in err.value.diagnostics[0].message


def test_unused_declarations_are_warnings():
    spec = Spec((Let("H", 10), Let("E", 5),
                 Decl("input", "x", Type("binary", 8)), Decl("input", "u", Type("real", 3)),
                 Decl("output", "y", Type("binary", 8)), Decl("state", "h", Type("real", "H")),
                 Equation("h'", None, f("tanh", P("x", "h"))), Equation("z", 4, f("tanh", P("h'",))),
                 Equation("y", None, Predict(Name("h'")))))
    p = check(spec)
    assert [(w.code, w.severity) for w in p.warnings] == [("unused", "warning")] * 3
    messages = " | ".join(w.message for w in p.warnings)
    assert "size 'E' is never used" in messages
    assert "input 'u' is never read" in messages
    assert "'z' is computed but never read" in messages
