"""rnnalg's torch and JAX exports on a CUDA GPU: checked against the CPU, then timed.

    python bench/gpu_check.py                          # needs CUDA; otherwise says so and exits 0
    python bench/gpu_check.py --device cpu --quick     # the same checks on the CPU at toy sizes (CI)

For examples/{rnn,dots,lstm,word_rnn}.rnn at H=200, float32, T=100 and B in 1, 16, 64, 256:

1. rnnalg's numpy model in float64 on the CPU gives the reference loss and every gradient;
2. the torch export (`Model(params, device=…)`, autograd) and the JAX export
   (`jit(value_and_grad(loss))`) run on the device in float32 and must match it to 1e-4
   (relative to each array's largest entry; TF32 is off, JAX matmuls at "highest" precision);
3. milliseconds per forward+backward (median of --repeats after warm-up, synchronised) of each,
   beside PyTorch's fused kernels (torch.nn.LSTM on cuDNN for lstm, the nn.RNN kernel for
   word_rnn: bench/torch_models.py) and `jit(value_and_grad(lax.scan))` of the hand-written JAX
   model (bench/jax_models.py), each checked against the reference first.

Well under 5 minutes on one GPU.  Prints one markdown table.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
try:
    import rnnalg
except ImportError:  # a source checkout without installing
    sys.path.insert(0, str(ROOT))
    import rnnalg
from rnnalg.export.jax_ import jax_source
from rnnalg.export.torch_ import torch_source
from rnnalg.testing import random_batch

MODELS = ("rnn", "dots", "lstm", "word_rnn")
TOL = 1e-4
FULL = dict(H=200, T=100, batch_sizes=(1, 16, 64, 256), repeats=20, warmup=3)
QUICK = dict(H=8, T=6, batch_sizes=(1, 4), repeats=2, warmup=1)


def cuda_devices():
    """(torch device or None, jax GPU device or None, why-not lines)."""
    why, torch_dev, jax_dev = [], None, None
    try:
        import torch
        if torch.cuda.is_available():
            torch_dev = torch.device("cuda")
        else:
            why.append(f"torch {torch.__version__}: torch.cuda.is_available() is False")
    except ImportError:
        why.append("torch is not installed")
    try:
        import jax
        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        jax_dev = gpus[0] if gpus else None
        if not gpus:
            why.append(f"jax {jax.__version__}: no GPU backend (devices: {', '.join(map(str, jax.devices()))})")
    except ImportError:
        why.append("jax is not installed")
    return torch_dev, jax_dev, why


def load_source(source: str, folder: Path, name: str):
    path = folder / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def max_error(loss, grads, ref_loss, ref_grads) -> float:
    """Largest relative error of the loss and of each gradient (vs its largest entry)."""
    errors = [abs(float(loss) - ref_loss) / abs(ref_loss)]
    for name, ref in ref_grads.items():
        g = np.asarray(grads[name], dtype=np.float64)
        errors.append(float(np.max(np.abs(g - ref)) / max(np.max(np.abs(ref)), 1e-30)))
    return max(errors)


def median_ms(call, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def torch_export(module, params, batch, dev):
    """-> call() returning (loss, grads by rnnalg name), synchronised."""
    import torch
    net = module.Model(params, device=dev)
    tbatch = {k: torch.as_tensor(v, device=dev) for k, v in batch.items()}
    named = net.rnnalg_params()

    def call():
        for p in named.values():
            p.grad = None
        loss = net.loss(tbatch)
        loss.backward()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return loss.item(), {k: (torch.zeros_like(p) if p.grad is None else p.grad).cpu().numpy()
                             for k, p in named.items()}
    return call


def jax_call(loss_fn, params, batch, dev):
    import jax
    fn = jax.jit(jax.value_and_grad(loss_fn))
    jparams = jax.device_put(params, dev)
    jbatch = jax.device_put(batch, dev)

    def call():
        value, grads = jax.block_until_ready(fn(jparams, jbatch))
        return float(value), grads
    return call


def torch_fused(stem, params, batch, dev):
    """PyTorch's fused kernel for lstm (torch.nn.LSTM) and word_rnn (torch.rnn_tanh), or None."""
    import torch
    import torch_models
    xs, ys = (torch.as_tensor(batch[k], device=dev) for k in ("x", "y"))
    if stem == "lstm":
        fused = torch_models.LSTMFused(params)
        fused.lstm.to(dev)
        fused.V = fused.V.detach().to(dev).requires_grad_()
        fused.c = fused.c.detach().to(dev).requires_grad_()
        leaves, loss_fn = fused.parameters(), lambda: fused.loss(xs, ys)
    elif stem == "word_rnn":
        tparams = {k: v.detach().to(dev).requires_grad_() for k, v in torch_models.to_torch(params).items()}
        leaves, loss_fn = list(tparams.values()), lambda: torch_models.word_rnn_loss(tparams, xs, ys)
    else:
        return None

    def call():
        for p in leaves:
            p.grad = None
        loss = loss_fn()
        loss.backward()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return loss.item(), None
    return call


def check_model(stem, settings, torch_dev, jax_dev, folder, log):
    """Rows of the table for one model: errors vs the float64 CPU reference, then times."""
    program = rnnalg.load_program(ROOT / "examples" / f"{stem}.rnn", {"H": settings["H"]})
    torch_module = load_source(torch_source(program), folder, f"{stem}_torch") if torch_dev else None
    jax_module = load_source(jax_source(program), folder, f"{stem}_jax") if jax_dev else None
    reference = rnnalg.compile(program, np.float64, backend="numpy")
    rng = np.random.default_rng(0)
    params = {k: v.astype(np.float32) for k, v in reference.init_params(rng).items()}
    rows = []
    for B in settings["batch_sizes"]:
        batch = {k: (v.astype(np.int64) if v.dtype.kind in "iu" else v.astype(np.float32))
                 for k, v in random_batch(program, settings["T"], B, rng, mask=False).items()}
        ref_loss, ref_grads, _ = reference.loss_and_grad({k: v.astype(np.float64) for k, v in params.items()}, batch)
        row = {"model": stem, "B": B}
        calls = {}
        if torch_module:
            calls["torch export"] = torch_export(torch_module, params, batch, torch_dev)
            fused = torch_fused(stem, params, batch, torch_dev)
            if fused:
                calls["PyTorch fused"] = fused
        if jax_module:
            calls["JAX export"] = jax_call(jax_module.loss, params, batch, jax_dev)
            import jax_models
            if stem in jax_models.JAX_MODELS:
                hand = jax_models.JAX_MODELS[stem]
                calls["JAX hand"] = jax_call(lambda p, b, hand=hand: hand(p, b["x"], b["y"]), params, batch, jax_dev)
        for column, call in calls.items():
            loss, grads = call()
            if grads is None:  # a fused baseline: its loss only
                error = abs(loss - ref_loss) / abs(ref_loss)
            else:
                error = max_error(loss, grads, ref_loss, ref_grads)
            if column.endswith("export"):
                row[f"{column} err"] = error
            if not error <= TOL:
                raise SystemExit(f"gpu_check: {stem} B={B}: {column} differs from the CPU reference by "
                                 f"{error:.2e} (> {TOL:g}); nothing is timed that computes something else")
            row[column] = median_ms(call, settings["repeats"], settings["warmup"])
            log(f"{stem} B={B} {column}: {row[column]:.2f} ms (error {error:.1e})")
        rows.append(row)
    return rows


COLUMNS = ("torch export", "PyTorch fused", "JAX export", "JAX hand")


def table(rows) -> str:
    head = "| model | B | " + " | ".join(f"{c} ms" for c in COLUMNS) + " | max rel err torch / JAX export |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 3)]
    for r in rows:
        cells = [f"{r[c]:.2f}" if c in r else "—" for c in COLUMNS]
        errs = " / ".join(f"{r[f'{c} err']:.1e}" if f"{c} err" in r else "—" for c in ("torch export", "JAX export"))
        lines.append(f"| {r['model']} | {r['B']} | " + " | ".join(cells) + f" | {errs} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                        help="cpu: run the same checks on the CPU (a dry run of this script, for CI)")
    parser.add_argument("--quick", action="store_true", help="toy sizes (H=8, T=6, B in 1, 4)")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of " + ", ".join(MODELS))
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    log = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    settings = QUICK if args.quick else FULL
    if args.device == "cuda":
        torch_dev, jax_dev, why = cuda_devices()
        if torch_dev is None and jax_dev is None:
            print("no CUDA: nothing to check on a GPU here (" + "; ".join(why) + ")")
            return 0
        for line in why:
            print(f"note: {line}")
    else:
        torch_dev = jax_dev = None
        if importlib.util.find_spec("torch"):
            import torch
            torch_dev = torch.device("cpu")
            torch.set_num_threads(1)  # a dry run on a shared machine: no spinning thread pool
        if importlib.util.find_spec("jax"):
            import jax
            jax_dev = jax.devices("cpu")[0]
    if torch_dev is not None:
        import torch
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    if jax_dev is not None:
        import jax
        jax.config.update("jax_default_matmul_precision", "highest")
    log(f"torch on {torch_dev}, JAX on {jax_dev}; H={settings['H']}, T={settings['T']}, float32")
    with tempfile.TemporaryDirectory() as folder:
        rows = [row for stem in args.models.split(",") for row in
                check_model(stem.strip(), settings, torch_dev, jax_dev, Path(folder), log)]
    print(f"torch on {torch_dev}, JAX on {jax_dev}: H={settings['H']}, T={settings['T']}, float32, "
          f"ms per forward+backward (median of {settings['repeats']}); every column matched rnnalg's float64 "
          f"CPU loss and gradients to {TOL:g} first")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
