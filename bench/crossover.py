"""Where the fast backend's compiled scan kernels stop paying: `loss_and_grad` with the kernels
forced compiled at every batch size, against the numpy backend, taking turns in blocks.

    python bench/crossover.py                                  # rnn, dots, lstm; B = 1 … 32; wall clock
    OPENBLAS_NUM_THREADS=1 python bench/crossover.py --clock cpu

Prints fast/numpy per B; `rnnalg/fast/backend.py`'s MAX_BATCH is the largest B that wins in
both settings (bench/README.md has the table).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
try:
    import rnnalg
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, str(ROOT))
    import rnnalg

from rnnalg import fast
from rnnalg.commands.bench import time_block
from rnnalg.testing import random_batch


def always_compiled(model) -> None:
    """Swap the model's scan kernels for their compiled versions at every B."""
    for name, kernel in list(model._module.items()):
        if name.startswith("_scan_"):
            model._module[name] = fast.by_batch(kernel.compiled, kernel.plain, 10**9, fast.kernel_blas())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="rnn,dots,lstm", help="example stems (default rnn,dots,lstm)")
    parser.add_argument("--batch-sizes", default="1,2,4,8,16,32")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("-H", type=int, default=200)
    args = parser.parse_args(argv)
    if fast.unavailable_reason():
        parser.error(fast.unavailable_reason())
    for stem in args.models.split(","):
        program = rnnalg.load_program(ROOT / "examples" / f"{stem}.rnn", {"H": args.H})
        models = {"numpy": rnnalg.compile(program, np.float32, "numpy"),
                  "fast": rnnalg.compile(program, np.float32, "fast")}
        always_compiled(models["fast"])
        rng = np.random.default_rng(0)
        params = models["numpy"].init_params(rng)
        for B in map(int, args.batch_sizes.split(",")):
            batch = {k: v.astype(np.float32) for k, v in random_batch(program, 100, B, rng, mask=False).items()}
            times = {"numpy": [], "fast": []}
            for _ in range(2):  # two blocks each, taking turns
                for label, model in models.items():
                    time.sleep(0.3)
                    call = lambda model=model: model.loss_and_grad(params, batch)  # noqa: E731
                    times[label].extend(time_block(call, 11, 2, clock=args.clock))
            ms = {k: float(np.median(v)) * 1e3 for k, v in times.items()}
            print(f"{stem} B={B}: numpy {ms['numpy']:.2f} ms  fast {ms['fast']:.2f} ms  "
                  f"fast/numpy {ms['fast'] / ms['numpy']:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
