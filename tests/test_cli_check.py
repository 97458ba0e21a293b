"""`rnnalg check` and `rnnalg compile`: exit codes, messages, and parameter totals per variant."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnnalg.cli import main

ROOT = Path(__file__).resolve().parent.parent

RNN = """\
let H = 200
input  x : binary[88]
output y : binary[88]
state  h : H
h' = tanh(x ⊕ h)
y  = ▷ h'
"""

DOTS = """\
# DOT(S)-RNN
let H = 400
input  x : binary[88]
output y : binary[88]
state  h : H
z  : H = tanh(x ⊕ h)
h'     = tanh(z ⊕ h)
o  : H = tanh(h' ⊕ x)
y      = ▷ (o ⊕ h')
"""

BAD = RNN.replace("tanh(x ⊕ h)", "tanh(q ⊕ h)")


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


# --- check --------------------------------------------------------------------------------

def test_check_good_spec_is_silent(tmp_path, capsys):
    assert run(capsys, "check", write(tmp_path, "rnn.rnn", RNN)) == (0, "", "")


def test_check_bad_spec_exit_1_with_location_and_caret(tmp_path, capsys):
    path = write(tmp_path, "bad.rnn", BAD)
    code, out, err = run(capsys, "check", path)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"{path}:5:11: error: unbound name 'q'",
        "    h' = tanh(q ⊕ h)",
        "              ^",
    ]


def test_check_reports_several_errors(tmp_path, capsys):
    text = RNN.replace("tanh(x ⊕ h)", "tanhh(x ⊕ x)") + "y = ▷ h\n"
    code, _, err = run(capsys, "check", write(tmp_path, "bad.rnn", text))
    assert code == 1
    assert [line.split(": error: ")[0].rsplit(":", 2)[1:] for line in err.splitlines() if ": error: " in line] == [
        ["5", "6"], ["5", "16"], ["7", "1"]]


def test_check_warnings_go_to_stderr_exit_0(tmp_path, capsys):
    path = write(tmp_path, "w.rnn", "let E = 3\n" + RNN)
    code, out, err = run(capsys, "check", path)
    assert (code, out) == (0, "")
    assert err.startswith(f"{path}:1:1: warning: size 'E' is never used")


@pytest.mark.parametrize("setting, message", [
    ("Q=3", "unknown size 'Q' in --set (the spec defines: H)"),
    ("H=abc", "bad --set 'H=abc': VALUE must be an integer"),
    ("H", "bad --set 'H': expected NAME=VALUE"),
    ("H=0", "a size must be a positive integer"),
])
def test_check_bad_set_is_usage_error(tmp_path, capsys, setting, message):
    code, out, err = run(capsys, "check", write(tmp_path, "rnn.rnn", RNN), "--set", setting)
    assert (code, out) == (2, "")
    assert message in err


def test_check_set_override_is_applied(tmp_path, capsys):
    path = write(tmp_path, "rnn.rnn", RNN)
    code, out, _ = run(capsys, "compile", path, "--set", "H=10")
    assert code == 0
    assert any(line.split() == ["h'.W_h", "10×10", "100"] for line in out.splitlines())
    assert "sizes    H = 10" in out


def test_check_missing_file_is_an_error_not_a_traceback(tmp_path, capsys):
    code, _, err = run(capsys, "check", str(tmp_path / "nope.rnn"))
    assert code in (1, 2)
    assert "nope.rnn" in err


def test_python_dash_m_rnnalg_check(tmp_path):
    good = write(tmp_path, "rnn.rnn", RNN)
    bad = write(tmp_path, "bad.rnn", BAD)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    ok = subprocess.run([sys.executable, "-m", "rnnalg", "check", good], capture_output=True, text=True,
                        env=env, cwd=tmp_path, timeout=60)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")
    fail = subprocess.run([sys.executable, "-m", "rnnalg", "check", bad], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=60)
    assert fail.returncode == 1
    assert f"{bad}:5:11: error: unbound name 'q'" in fail.stderr
    assert "Traceback" not in fail.stderr


# --- compile: totals from the paper's equations ---------------------------------------------

# Parameter count of each variant, written from its equations (the example headers, after the
# paper): X input width (a one-hot of X symbols for text), Y output width, H hidden units; a
# layer reading n units into m has (n + 1)·m parameters.
VARIANTS = {
    "rnn": lambda X, H, Y: (X + H + 1) * H + (H + 1) * Y,
    "deep_input": lambda X, H, Y: (X + 1) * H + (H + 1) * H + (2 * H + 1) * H + (H + 1) * Y,
    "dt": lambda X, H, Y: (X + H + 1) * H + (H + 1) * H + (H + 1) * Y,
    "dts": lambda X, H, Y: (X + H + 1) * H + (2 * H + 1) * H + (H + 1) * Y,  # x_t reaches z_t only
    "do": lambda X, H, Y: (X + H + 1) * H + (H + 1) * H + (H + 1) * Y,
    "dot": lambda X, H, Y: (X + H + 1) * H + (H + 1) * H + (H + 1) * H + (H + 1) * Y,
    "dots": lambda X, H, Y: (X + H + 1) * H + (2 * H + 1) * H + (H + X + 1) * H + (2 * H + 1) * Y,
    # L_p units and maxout pool pairs: their summaries are 2H wide
    "dots_star": lambda X, H, Y: (X + H + 1) * 2 * H + (2 * H + 1) * 2 * H + (H + X + 1) * 2 * H + (2 * H + 1) * Y,
    "srnn2": lambda X, H, Y: (X + H + 1) * H + (2 * H + 1) * H + (H + 1) * Y,
    # gated cells: one summary of x_t and h_{t-1} per gate (GRU's candidate reads r_t ⊙ h_{t-1})
    "lstm": lambda X, H, Y: 4 * (X + H + 1) * H + (H + 1) * Y,
    "gru": lambda X, H, Y: 3 * (X + H + 1) * H + (H + 1) * Y,
    "dt_lstm": lambda X, H, Y: 4 * (X + H + 1) * H + (2 * H + 1) * H + (H + 1) * Y,  # z_t, then g_t from z_t, h
    # issue 20: a gain and a bias per unit for each of the 5 layernorms (4 gates, the cell)
    "ln_lstm": lambda X, H, Y: 4 * (X + H + 1) * H + 5 * 2 * H + (H + 1) * Y,
    "mingru": lambda X, H, Y: 2 * (X + 1) * H + (H + 1) * Y,  # z_t and g_t from x_t only
    "lstm_zoneout": lambda X, H, Y: 4 * (X + H + 1) * H + (H + 1) * Y,  # zoneout owns no weights
    # one embedding e_t (X + 1)·H, gates read e_t and h_{t-1}, the softmax is the embedding: its bias only
    "lstm_tied": lambda X, H, Y: (X + 1) * H + 4 * (2 * H + 1) * H + Y,
    # k from the 12-number key once, then gates read x_t, h_{t-1} and k
    "lstm_conditioned": lambda X, H, Y: (12 + 1) * H + 4 * (X + 2 * H + 1) * H + (H + 1) * Y,
}
WIDTHS = {"": 88, "char_": 50, "word_": 10000}  # piano keys; PTB characters; PTB words


def example_counts():
    for path in sorted((ROOT / "examples").glob("*.rnn")):
        prefix = next(p for p in ("char_", "word_", "") if path.stem.startswith(p))
        yield path, VARIANTS[path.stem[len(prefix):]], WIDTHS[prefix]


def test_every_example_has_a_formula():
    assert len(list(example_counts())) == len(list((ROOT / "examples").glob("*.rnn"))) == 30


@pytest.mark.parametrize("path, count, width", list(example_counts()), ids=lambda v: getattr(v, "stem", ""))
def test_compile_total_matches_the_variants_formula(capsys, path, count, width):
    for H in (3, 7):  # two sizes: the count is checked as a polynomial in H, not one number
        code, out, err = run(capsys, "compile", str(path), "--set", f"H={H}")
        assert (code, err) == (0, "")
        total = count(width, H, width)
        assert f"total parameters: {total}\n" in out
        assert f"{total:,}" in out


def test_compile_text_shows_widths_shapes_and_phases(tmp_path, capsys):
    code, out, _ = run(capsys, "compile", write(tmp_path, "dots.rnn", DOTS))
    assert code == 0
    lines = out.splitlines()
    assert any(line.split() == ["scan", "z.a", ":", "400", "=", "affine(x,", "h)", "[z.W_x", "88×400,",
                                "z.W_h", "400×400,", "z.b", "400]"] for line in lines)
    assert any(line.split()[:5] == ["post", "y.a", ":", "88", "="] for line in lines)
    assert "  post  y : binary[88] <- y.a   sigmoid + Bernoulli NLL summed over units" in lines
    assert any(line.split() == ["h'.W_h", "400×400", "160,000"] for line in lines)
    phases = lines[lines.index("phases") + 1:]
    assert [p.split()[:2] for p in phases[:3]] == [["pre", "0"], ["scan", "4"], ["post", "3"]]
    assert phases[3].endswith("run in pre: x·z.W_x, x·o.W_x")  # input projections, all steps at once


def test_compile_dot(tmp_path, capsys):
    code, out, _ = run(capsys, "compile", write(tmp_path, "dots.rnn", DOTS), "--format", "dot")
    assert code == 0
    assert out.startswith("digraph rnnalg {") and out.rstrip().endswith("}")
    for cluster in ("cluster_pre", "cluster_scan", "cluster_post"):
        assert f"subgraph {cluster}" in out
    assert '"x" -> op0;' in out and "op0 -> \"z.a\";" in out
    assert '"h\'" -> "h" [style=dashed' in out
    # every edge endpoint is a declared node; braces balance
    import re
    nodes = set(re.findall(r'^\s*("[^"]+"|op\d+) \[', out, re.M))
    ends = re.findall(r'^\s*("[^"]+"|op\d+) -> ("[^"]+"|op\d+)', out, re.M)
    assert ends and all(a in nodes and b in nodes for a, b in ends)
    assert out.count("{") == out.count("}")


def test_compile_output_writes_module_atomically(tmp_path, capsys):
    target = tmp_path / "model.py"
    code, out, err = run(capsys, "compile", write(tmp_path, "rnn.rnn", RNN), "-o", str(target), "--set", "H=8")
    assert code == 0
    assert err == f"wrote {target}\n"
    assert "total parameters: " in out
    source = target.read_text(encoding="utf-8")
    compile(source, str(target), "exec")  # valid Python
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_compile_output_to_missing_directory_is_usage_error(tmp_path, capsys):
    code, _, err = run(capsys, "compile", write(tmp_path, "rnn.rnn", RNN), "-o", str(tmp_path / "no" / "m.py"))
    assert code == 2
    assert "cannot write" in err


@pytest.mark.parametrize("suffix, start", [(".dot", "digraph rnnalg {"), (".gv", "digraph rnnalg {"),
                                           (".txt", None), (".py", '"""')])
def test_compile_output_is_chosen_by_its_suffix(tmp_path, capsys, suffix, start):
    """`--format dot -o x.dot` used to write the Python module into x.dot."""
    spec = write(tmp_path, "rnn.rnn", RNN)
    target = tmp_path / f"x{suffix}"
    code, out, _ = run(capsys, "compile", spec, "--format", "dot", "-o", str(target), "--set", "H=8")
    assert code == 0 and out.startswith("digraph rnnalg {")  # stdout follows --format
    text = target.read_text(encoding="utf-8")
    if suffix == ".txt":
        _, summary, _ = run(capsys, "compile", spec, "--set", "H=8")
        assert text == summary
    else:
        assert text.startswith(start)
    if suffix in (".dot", ".gv"):
        assert text == out


def test_compile_output_with_an_unknown_suffix_is_a_usage_error(tmp_path, capsys):
    code, _, err = run(capsys, "compile", write(tmp_path, "rnn.rnn", RNN), "-o", str(tmp_path / "model.svg"))
    assert code == 2 and "-o " in err and ".py" in err and ".dot" in err
    assert not (tmp_path / "model.svg").exists()


def test_compile_bad_format_is_usage_error(tmp_path, capsys):
    code, _, err = run(capsys, "compile", write(tmp_path, "rnn.rnn", RNN), "--format", "svg")
    assert code == 2
    assert "invalid choice" in err


def test_version_flag(capsys):
    from rnnalg import __version__

    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"rnnalg {__version__}"


# --- specs from standard input, and files that are not specs ------------------------------

def _stdin(monkeypatch, data: bytes):
    import io
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


@pytest.mark.parametrize("command", ["check", "compile"])
def test_dash_reads_the_spec_from_standard_input(monkeypatch, capsys, command):
    _stdin(monkeypatch, RNN.encode())
    code, out, err = run(capsys, command, "-", "--set", "H=10")
    assert (code, err) == (0, "")
    assert (out == "") == (command == "check")
    if command == "compile":
        assert out.startswith("spec <stdin>\nsizes    H = 10")


def test_an_error_in_standard_input_is_located_in_stdin(monkeypatch, capsys):
    _stdin(monkeypatch, "\ufeff".encode() + BAD.encode())
    code, out, err = run(capsys, "check", "-")
    assert (code, out) == (1, "")
    assert err.startswith("<stdin>:5:11: error: unbound name 'q'")


def test_empty_spec_error_names_the_file(tmp_path, capsys):
    path = write(tmp_path, "empty.rnn", "")
    code, _, err = run(capsys, "check", path)
    assert code == 1
    assert err.startswith(f"{path}:1:1: error: the spec predicts nothing")  # before: "error: …"


@pytest.mark.parametrize("text, message", [
    (RNN.replace("y  = ▷ h'", "y  = ▷ h'  # \x00"), "6:14: error: control character U+0000 in a comment"),
    (RNN.replace("input  x : binary[88]\n", "").replace("tanh(x ⊕ h)", "tanh(h)"),
     "1:1: error: the spec reads no input"),
])
def test_compile_refuses_a_spec_it_cannot_emit_and_writes_nothing(tmp_path, capsys, text, message):
    # before: a NUL passed check and gave a module Python cannot import; no input: IndexError
    target = tmp_path / "m.py"
    code, _, err = run(capsys, "compile", write(tmp_path, "s.rnn", text), "-o", str(target))
    assert code == 1 and message in err
    assert not target.exists()


def test_check_dev_zero_under_a_memory_limit_is_an_error(tmp_path):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero on this system")
    import resource

    def limit():  # 1 GiB of address space: reading /dev/zero whole needs more, and never ends
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "rnnalg", "check", "/dev/zero"], capture_output=True,
                          text=True, env=env, preexec_fn=limit, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "error: /dev/zero is larger than 1 MiB: not a spec"
