"""`rnnalg bench --memory`: traced bytes per step beside the minimum of `rnnalg cost`, and the ratio."""
import json
import re
from pathlib import Path

import pytest

from rnnalg.cli import main
from rnnalg.commands.bench import format_bytes

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LINE = re.compile(r"(\S+)  B=(\d+) (float32|float64)  BPTT keeps ([\d.]+) (B|KB|MB) per step \(traced\); "
                  r"minimum ([\d.]+) (B|KB|MB) \(rnnalg cost\); ([\d.]+)× the minimum")
SCALE = {"B": 1, "KB": 1e3, "MB": 1e6}


def memory(capsys, spec, *flags):
    rc = main(["bench", str(EXAMPLES / spec), "--set", "H=8", "--memory", *flags])
    out = capsys.readouterr().out.strip()
    assert rc == 0
    m = LINE.fullmatch(out)
    assert m, out
    traced = float(m.group(4)) * SCALE[m.group(5)]
    minimum = float(m.group(6)) * SCALE[m.group(7)]
    return m, traced, minimum, float(m.group(8))


@pytest.mark.parametrize("spec", ["rnn.rnn", "lstm.rnn"])
def test_memory_minimum_is_rnnalg_costs_and_the_ratio_is_traced_over_it(capsys, spec):
    m, traced, minimum, ratio = memory(capsys, spec, "-B", "3")
    assert m.group(1) == spec and m.group(2) == "3" and m.group(3) == "float32"
    assert main(["cost", str(EXAMPLES / spec), "--set", "H=8", "-B", "3", "--format", "json"]) == 0
    floats = json.loads(capsys.readouterr().out)["values"]["bptt_floats_step"]
    assert minimum == pytest.approx(4 * floats, rel=5e-3)  # float32: 4 bytes a float
    assert traced >= minimum > 0  # the lowering cannot keep less than the backward reads
    assert ratio == pytest.approx(traced / minimum, rel=0.02)


def test_memory_float64_doubles_the_minimum(capsys):
    _, _, single, _ = memory(capsys, "rnn.rnn", "-B", "2")
    m, traced, double, _ = memory(capsys, "rnn.rnn", "-B", "2", "--dtype", "float64")
    assert m.group(3) == "float64"
    assert double == pytest.approx(2 * single, rel=5e-3)


def test_memory_grows_with_the_batch(capsys):
    _, small, min_small, _ = memory(capsys, "rnn.rnn", "-B", "2")
    _, large, min_large, _ = memory(capsys, "rnn.rnn", "-B", "8")
    assert min_large == pytest.approx(4 * min_small, rel=5e-3)
    assert large > 2 * small


def test_memory_missing_spec_is_an_error_not_a_traceback(capsys, tmp_path):
    rc = main(["bench", str(tmp_path / "missing.rnn"), "--memory"])
    err = capsys.readouterr().err
    assert rc != 0 and "missing.rnn" in err and "Traceback" not in err


def test_format_bytes():
    assert [format_bytes(x) for x in (812.0, 25600.0, 226000.0, 2.5e6, 3e9)] == \
        ["812 B", "25.6 KB", "226 KB", "2.5 MB", "3 GB"]
