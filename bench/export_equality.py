"""The figures of issue 18: for every example spec, the time `rnnalg.export` takes per target at
the spec's own sizes, and the worst relative error of the torch and JAX exports' float64 loss,
gradients and final states against rnnalg's (H=4, T=4, B=3, padded, carried state, dropout masks).

    python bench/export_equality.py          # a markdown table
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import rnnalg  # noqa: E402
from _export_jax_worker import jax_errors  # noqa: E402  (imports jax, float64 on)
from test_export_torch import torch_errors  # noqa: E402


def export_seconds(program, target, folder) -> float:
    start = time.perf_counter()
    rnnalg.export(program, target, Path(folder) / f"m_{target}.py")
    return time.perf_counter() - start


def main() -> int:
    print("| spec | export torch s | export jax s | max rel err torch | max rel err JAX |")
    print("|---|---:|---:|---:|---:|")
    worst = {"torch": 0.0, "jax": 0.0}
    with tempfile.TemporaryDirectory() as folder:
        for path in sorted((ROOT / "examples").glob("*.rnn")):
            full = rnnalg.load_program(path)
            seconds = [export_seconds(full, t, folder) for t in ("torch", "jax")]
            small = rnnalg.load_program(path, {"H": 4})
            errors = {"torch": max(torch_errors(small, Path(folder)).values()),
                      "jax": max(jax_errors(small, Path(folder)).values())}
            worst = {k: max(worst[k], errors[k]) for k in worst}
            print(f"| {path.stem} | {seconds[0]:.3f} | {seconds[1]:.3f} | {errors['torch']:.1e} | {errors['jax']:.1e} |")
    print(f"\nworst: torch {worst['torch']:.1e}, JAX {worst['jax']:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
