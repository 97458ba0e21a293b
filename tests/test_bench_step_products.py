"""bench/step_products.py: the README's command runs and its table has every variant and the rule."""
import importlib.util
from pathlib import Path

import pytest

from rnnalg import fast

pytestmark = pytest.mark.skipif(fast.unavailable_reason() is not None, reason="numba is not installed")
ROOT = Path(__file__).resolve().parent.parent


def test_table_of_a_tiny_run(capsys):
    spec = importlib.util.spec_from_file_location("bench_step_products", ROOT / "bench" / "step_products.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["-H", "9", "-B", "1,16", "--rounds", "1", "--clock", "cpu"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 9 |")]
    assert [r.split("|")[2:4] for r in rows] == [[" 1 ", " forward "], [" 1 ", " backward "],
                                                [" 16 ", " forward "], [" 16 ", " backward "]]
    from rnnalg.fast.numba_packed import use_packed
    picks = ["packed" if use_packed(B, K, N, 4) else "blas" for B in (1, 16) for K, N in ((9, 36), (36, 9))]
    assert [r.rstrip(" |").rsplit("| ", 1)[1] for r in rows] == picks == ["blas"] * 4  # 9 × 36: a tiny weight
