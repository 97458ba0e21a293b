"""bench/compare.py --batch-sizes: only the chosen batch sizes of the plain models are timed."""
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def compare(monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    spec = importlib.util.spec_from_file_location("bench_compare", ROOT / "bench" / "compare.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_compare"] = module
    spec.loader.exec_module(module)
    yield module
    for name in ("bench_compare", "report", "torch_models", "jax_models", "compare", "peers", "floor"):
        sys.modules.pop(name, None)


def test_batch_sizes_subset(compare, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "jax", None)
    assert compare.main(["--quick", "--quiet", "--models", "RNN", "--batch-sizes", "4"]) == 0
    table = capsys.readouterr().out.split("Per call:")[0]
    rows = [line for line in table.splitlines() if line.startswith("| RNN |")]
    assert [row.split("|")[2].strip() for row in rows] == ["4"]  # QUICK's B=1 row is not run


@pytest.mark.parametrize("value", ["4,x", "0"])
def test_batch_sizes_refused(compare, capsys, value):
    with pytest.raises(SystemExit) as exit_:
        compare.main(["--quick", "--quiet", "--no-torch", "--no-jax", "--batch-sizes", value])
    assert exit_.value.code == 2 and "--batch-sizes" in capsys.readouterr().err
