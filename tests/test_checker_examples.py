"""Every example spec checks cleanly; `rnnalg compile` totals match hand counts."""
from pathlib import Path

import pytest

from rnnalg.checking import check
from rnnalg.cli import main
from rnnalg.front.parser import load

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.rnn"))


def example(name: str) -> str:
    return str(EXAMPLES[0].parent / name)


def test_examples_exist():
    assert len(EXAMPLES) >= 9  # every variant of the paper's table


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_checks_without_warnings(path, capsys):
    program = check(load(path))
    assert program.warnings == ()
    assert program.heads and program.states and program.eqns
    assert main(["check", str(path)]) == 0
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_ir_is_well_formed(path):
    """Eqns read only what is defined before them; names are unique; params match their use."""
    program = check(load(path))
    defined = {v.name for v in program.inputs} | {s.prev.name for s in program.states}
    for e in program.eqns:
        assert all(a.name in defined for a in e.args), e
        assert e.out.name not in defined
        defined.add(e.out.name)
        if e.op == "affine":
            assert len(e.params) == len(e.args) + 1
            for a, p in zip(e.args, e.params):
                assert program.param(p).shape == (a.width, e.out.width)
            assert program.param(e.params[-1]).shape == (e.out.width,)
    assert {s.next.name for s in program.states} <= defined
    assert all(h.logits.name in defined and h.logits.width == h.output.width for h in program.heads)
    assert len({p.name for p in program.params}) == len(program.params)


# (example, hand count of its parameters at the default sizes)
HAND_COUNTS = [
    # H = 200: W_x 88·200 + W_h 200·200 + b 200; predict 200·88 + 88
    ("rnn.rnn", 88 * 200 + 200 * 200 + 200 + 200 * 88 + 88),
    # z: 88·200 + 200·200 + 200; h': 200·200 + 200·200 + 200; o: 200·200 + 88·200 + 200;
    # y: 200·88 + 200·88 + 88
    ("dots.rnn", (88 * 200 + 200 * 200 + 200) + (200 * 200 + 200 * 200 + 200)
     + (200 * 200 + 88 * 200 + 200) + (200 * 88 + 200 * 88 + 88)),
    # lp[2, 2] and maxout[2] double each ⊕ to 400: z: 88·400 + 200·400 + 400;
    # h': 200·400 + 200·400 + 400; o: 200·400 + 88·400 + 400; y: 200·88 + 200·88 + 88
    ("dots_star.rnn", (88 * 400 + 200 * 400 + 400) + (200 * 400 + 200 * 400 + 400)
     + (200 * 400 + 88 * 400 + 400) + (200 * 88 + 200 * 88 + 88)),
    # 10k-word embedding 10000·200 + W_h 200·200 + b 200; softmax 200·10000 + 10000
    ("word_rnn.rnn", 10000 * 200 + 200 * 200 + 200 + 200 * 10000 + 10000),
]


@pytest.mark.parametrize("name, total", HAND_COUNTS, ids=[n for n, _ in HAND_COUNTS])
def test_compile_total_matches_hand_count(name, total, capsys):
    assert main(["compile", example(name)]) == 0
    out = capsys.readouterr().out
    assert f"total parameters: {total}\n" in out
    assert check(load(example(name))).param_count == total


def test_compile_dots_prints_widths_shapes_total_and_phases(capsys):
    assert main(["compile", example("dots.rnn"), "--set", "H=400"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()]
    assert ["sizes", "H", "=", "400"] in rows
    assert ["input", "x", ":", "binary[88]"] in rows
    # eqn rows: phase, out, width, op and parameter shapes
    assert ["scan", "z.a", ":", "400", "=", "affine(x,", "h)", "[z.W_x", "88×400,", "z.W_h", "400×400,",
            "z.b", "400]"] in rows
    assert ["scan", "h'", ":", "400", "=", "tanh(h'.a)"] in rows
    assert ["post", "o.a", ":", "400", "=", "affine(h',", "x)", "[o.W_h'", "400×400,", "o.W_x", "88×400,",
            "o.b", "400]"] in rows
    assert ["post", "y.a", ":", "88", "=", "affine(o,", "h')", "[y.W_o", "400×88,", "y.W_h'", "400×88,",
            "y.b", "88]"] in rows
    # parameter table rows: name, shape, count
    assert ["z.W_x", "88×400", "35,200"] in rows and ["y.b", "88", "88"] in rows
    total = (88 * 400 + 400 * 400 + 400) + 2 * 400 * 400 + 400 + (400 * 400 + 88 * 400 + 400) + 2 * 400 * 88 + 88
    assert ["total", f"{total:,}"] in rows
    assert f"total parameters: {total}" in out
    phases = out.splitlines()[out.splitlines().index("phases") + 1:]
    assert [p.split()[:2] for p in phases[:3]] == [["pre", "0"], ["scan", "4"], ["post", "3"]]


def test_set_overrides_every_example_size():
    program = check(load(example("dots.rnn")), {"H": 16})
    assert program.sizes == (("H", 16),)
    assert program.param("h'.W_h").shape == (16, 16)
