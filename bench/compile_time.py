"""The fast backend's cold compile time: CPU seconds of a model's first `loss_and_grad` calls with an
empty kernel cache, per example spec, and of the same calls in a second process that loads the
cache.

    OPENBLAS_NUM_THREADS=1 python bench/compile_time.py                      # rnn, dots, lstm, gru; float32
    python bench/compile_time.py --specs lstm --dtypes float32,float64 --batch-sizes 4,16

Each spec runs in a fresh process with fresh, empty caches (RNNALG_CACHE for the kernels,
NUMBA_CACHE_DIR for the helpers numba caches in the package: a new install's, or CI's, state),
numba on one thread, timed with the process's CPU clock: "load" is `rnnalg.compile` (it imports
numba and the helper modules), then one call per batch size, in order (the first compiles the scan
kernels; a later B compiles again only where its arguments have other numba types, e.g. the
reverse scan's Wᵀ, a view below `STEP_WT_COPY_ROWS` rows and a C-ordered copy from there on).
Then a second process with the same caches does the same ("cached": the load from disk).
The model is tiny (H=16, T=5), so the call itself costs milliseconds: the seconds are compiling.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, sys, time
import numpy as np
import rnnalg
from rnnalg.testing import random_batch
path, dtype, sizes = sys.argv[1], np.dtype(sys.argv[2]), [int(b) for b in sys.argv[3].split(",")]
program = rnnalg.load_program(path, {"H": 16})
start = time.process_time()
model = rnnalg.compile(program, dtype, "fast")
seconds = [time.process_time() - start]
params = model.init_params(np.random.default_rng(0))
for B in sizes:
    batch = {k: v.astype(dtype) for k, v in random_batch(program, 5, B, np.random.default_rng(B)).items()}
    start = time.process_time()
    model.loss_and_grad(params, batch)
    seconds.append(time.process_time() - start)
print(json.dumps({"backend": model.backend, "seconds": seconds}))
"""


def first_calls(spec: Path, dtype: str, sizes: str, cache: str) -> list[float]:
    """CPU seconds of the load and of each call, in a fresh process whose caches are in `cache`."""
    env = dict(os.environ, RNNALG_CACHE=cache, NUMBA_CACHE_DIR=os.path.join(cache, "numba"),
               NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    # cwd=ROOT: `python -c` puts the working folder first on sys.path, before PYTHONPATH
    run = subprocess.run([sys.executable, "-c", CHILD, str(spec), dtype, sizes], env=env, cwd=ROOT,
                         capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"{spec.name} {dtype}: the child failed:\n{run.stderr}")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    if result["backend"] != "fast":
        sys.exit(f"{spec.name}: the fast backend is not in use ({result['backend']})")
    return result["seconds"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--specs", default="rnn,dots,lstm,gru", help="example stems (default rnn,dots,lstm,gru)")
    parser.add_argument("--dtypes", default="float32", help="float32 and/or float64 (default float32)")
    parser.add_argument("--batch-sizes", default="4,16", help="one call each, in order (default 4,16)")
    args = parser.parse_args(argv)
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    heads = ["cold load s"] + [f"cold B={b} s" for b in sizes] + ["cold total s", "cached total s"]
    print("| spec | dtype | " + " | ".join(heads) + " |")
    print("|---|---|" + "---|" * len(heads))
    for stem in args.specs.split(","):
        spec = ROOT / "examples" / f"{stem}.rnn"
        for dtype in args.dtypes.split(","):
            with tempfile.TemporaryDirectory(prefix="rnnalg-compile-") as cache:
                cold = first_calls(spec, dtype, args.batch_sizes, cache)
                cached = first_calls(spec, dtype, args.batch_sizes, cache)
            cells = [f"{s:.2f}" for s in cold] + [f"{sum(cold):.2f}", f"{sum(cached):.2f}"]
            print(f"| {stem} | {dtype} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
