"""A word-level softmax head against its matrix-product floor.

    python bench/word_head.py                                   # word_rnn.rnn, B=64, T=100, float32, CPU time
    python bench/word_head.py examples/word_dots.rnn --clock wall --rounds 5

The floor is the model's matrix products alone (bench/floor.py: traced from one
`loss_and_grad`, replayed with the same shapes and layouts on random arrays). For a `token`
head they are dominated by the output layer's three: for each dense operand h (T·B, D) of
the ⊕ under ▷ and its weight W (D, V),

    logits += h W,    dW = hᵀ G,    dh = G Wᵀ        (G = d loss / d logits, (T·B, V))

The model's `loss_and_grad` (as `rnnalg bench` times it) and the floor take turns in blocks
of consecutive calls; printed: the medians, the floor's GFLOP/s (2·M·K·N per product), the
head's share of the floor's flops, and the ratio model / floor. With JAX installed (and not
--no-jax), `word_rnn.rnn` also runs as `jax_models.word_rnn_loss` (jit(value_and_grad) of a
lax.scan, log-softmax over V) in the turns.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
try:
    import rnnalg
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, str(ROOT))
    import rnnalg

from rnnalg.commands.bench import DTYPES, format_ms, time_block

sys.path.insert(0, str(ROOT / "bench"))  # bench/ is a folder of scripts, not a package
import floor as floor_mod  # noqa: E402 (after the path)

LOSS_RTOL = 1e-4  # float32 losses of rnnalg and JAX must agree this closely


def head_products(program, N: int):
    """[(N, D, V)] for every dense operand of the affine feeding a token head."""
    shapes = []
    for head in program.heads:
        if head.output.kind != "token":
            continue
        eqn = next(e for e in program.eqns if e.out == head.logits)
        shapes += [(N, a.width, head.output.width) for a in eqn.args if a.kind != "token"]
    return shapes


def jax_call(stem: str, params, batch, expected: float):
    """JAX's loss_and_grad of the same model, parameters and batch, or None (no model, no jax)."""
    try:
        import jax_models
    except ImportError:
        return None
    if stem not in jax_models.JAX_MODELS:
        return None
    call = jax_models.loss_and_grad_call(stem, params, batch["x"], batch["y"])
    loss = float(call()[0])  # the first call compiles
    if not abs(loss - expected) <= LOSS_RTOL * abs(expected):
        raise SystemExit(f"word_head.py: JAX loss {loss!r} differs from rnnalg's {expected!r}")
    return call


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", nargs="?", default=str(ROOT / "examples" / "word_rnn.rnn"))
    parser.add_argument("-B", type=int, default=64)
    parser.add_argument("-T", type=int, default=100)
    parser.add_argument("--dtype", choices=tuple(DTYPES), default="float32")
    parser.add_argument("--rounds", type=int, default=3, help="blocks per implementation, taking turns (default 3)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per block (default 3)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="cpu", help="default: process CPU time")
    parser.add_argument("--no-jax", action="store_true", help="do not time the JAX model")
    args = parser.parse_args(argv)
    program = rnnalg.load_program(args.spec)
    shapes = head_products(program, args.T * args.B)
    if not shapes:
        parser.error(f"{args.spec}: no token output, so no softmax head to measure")
    dtype = DTYPES[args.dtype]
    model, params, batch = floor_mod.model_setup(program, args.T, args.B, dtype)
    products = floor_mod.trace_products(model.source, params, batch)
    calls = {"model": lambda: model.loss_and_grad(params, batch), "floor": floor_mod.floor_call(products, dtype)}
    jax = None if args.no_jax else jax_call(Path(args.spec).stem, params, batch, calls["model"]()[0])
    if jax is not None:
        calls["JAX"] = jax
    times = {name: [] for name in calls}
    for _ in range(args.rounds):
        for name, call in calls.items():
            times[name].extend(time_block(call, args.repeats, warmup=1, clock=args.clock))
    model, floor = (float(np.median(times[name])) for name in ("model", "floor"))
    flops = floor_mod.total_flops(products)
    head = sum(3 * 2 * N * D * V for N, D, V in shapes)
    shown = ", ".join(f"({N}×{D})·({D}×{V})" for N, D, V in shapes)
    print(f"{Path(args.spec).name}  B={args.B} T={args.T} {args.dtype}  {args.clock} time, "
          f"medians of {len(times['model'])} calls each")
    spread = f"{format_ms(min(times['model']))}–{format_ms(max(times['model']))}"
    print(f"  forward+backward   {format_ms(model)} ms  ({spread})")
    print(f"  floor: {len(products)} products, {flops / 1e9:.3g} GFLOP ({100 * head / flops:.0f} % in the head's "
          f"3 × {shown}): {format_ms(floor)} ms  "
          f"({format_ms(min(times['floor']))}–{format_ms(max(times['floor']))}), {flops / floor / 1e9:.0f} GFLOP/s")
    print(f"  model / floor      {model / floor:.2f}")
    if jax is not None:
        ours_jax = float(np.median(times["JAX"]))
        print(f"  JAX jit(value_and_grad) {format_ms(ours_jax)} ms  "
              f"({format_ms(min(times['JAX']))}–{format_ms(max(times['JAX']))}); model / JAX {model / ours_jax:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
