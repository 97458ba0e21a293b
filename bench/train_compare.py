"""Whole training steps: updates per second of `rnnalg train`'s own update against a plain
PyTorch training loop on the same model, data, batch size, Adam and clipping (issue 21).

    RNNALG_DATA=/work/shared/data python bench/train_compare.py [--threads 1] [--rounds 3] [--updates 20]
        [--clock wall|cpu] [--dict-update] [--add-at] [--old-helpers] [--dense-binary] [--only lstm]
    python bench/train_compare.py --quick        # a few seconds: JSB, H=16, rnn.rnn only
    RNNALG_DATA=/work/shared/data python bench/train_compare.py --scatter --clock cpu   # an embedding's gradient alone

One update, on each side, for the same batches in the same order (rnnalg's loaders, seeded alike):

    rnnalg   Trainer._update: model_batch, the carried state, weight noise (JSB: σ = 0.02),
             model.loss_and_grad, global-norm clipping at 1, Adam (the trainer's code path,
             rnnalg/train/flatstep.py's flat buffers, built as `rnnalg train` builds it:
             TrainConfig defaults, backend auto)
    PyTorch  numpy → tensors, the same weight noise (added in place, removed after backward),
             loss.backward(), clip_grad_norm_(1.0), torch.optim.Adam.step(); the hidden
             state detached and carried between text segments

PyTorch's model is `nn.RNN` / `nn.LSTM` (the fused kernels; a token input goes in one-hot)
with an `nn.Linear` head where the spec is a plain RNN or LSTM, else the module of
`rnnalg export --to torch` with rnnalg's initial weights.  Per-update evaluation, checkpoints
and the progress bar are not in either loop (the trainer runs them once an epoch).

With `--dict-update` a second rnnalg trainer runs in the same rounds with the trainer's flat
buffers off (`Trainer._flat_step` -> None: weight noise, clipping and the optimiser as the dict
functions of rnnalg/train/optim.py and `add_weight_noise`, the update before issue 21's
rnnalg/train/flatstep.py and normals.py; the same numbers, bit for bit); its column gives the
before/after ratio of one invocation.  `--add-at` does the same for an embedding's gradient: the
second trainer's compiled module scatters it with np.add.at (the prelude before `_add_rows_at`;
the same numbers, bit for bit).  `--old-helpers` likewise: the second trainer's module scatters by
the prelude's passes (not the fast backend's numba loop) and gathers a token input's rows by a copy
and a bias pass (not np.take from the biased table): the helpers before branch `charlstm`.
`--dense-binary`: the second trainer's module makes a 0/1 input's product and weight gradient by
the BLAS (the prelude's `_affine_into` / `_mmT`), not by the fast backend's sums of rows
(rnnalg/fast/numba_binary.py): the products before branch `train11`; the same loss bit for bit, the
input weights' gradients equal to rounding.

Each row runs `--rounds` rounds, each timing `--updates` updates of rnnalg then of PyTorch
(after 2 untimed ones each); a side's rate is the median over rounds, the ratio is rnnalg's
rate over PyTorch's (≥ 1.0 is the target).  Where rnnalg is behind, a profile line (cProfile
of its updates) says what share of the update each part takes.

The floor column is the rate of the products alone: for each timed batch, the matrix products of
one `loss_and_grad` of rnnalg's emitted module (bench/floor.py, traced on that batch; numpy's
BLAS), run back to back in the same rounds.  floor / PyTorch = the products' time over PyTorch's
whole update: above 1, rnnalg cannot reach PyTorch with this BLAS whatever else it does.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rnnalg.specfile import load_checked  # noqa: E402
from rnnalg.train import numerics  # noqa: E402
from rnnalg.train.config import TrainConfig, resolve  # noqa: E402
from rnnalg.train.feed import batches, model_batch  # noqa: E402
from rnnalg.train.runs import compile_model, load_dataset_for  # noqa: E402
from rnnalg.train.trainer import Trainer  # noqa: E402

# (data, spec, batch size): JSB at the trainer's default B=4 and at 16; PTB characters at B=32,
# 100-step segments (the char default)
ROWS = [("jsb", s, b) for b in (4, 16) for s in ("rnn.rnn", "lstm.rnn", "dots.rnn")] + \
       [("ptb-char", s, 32) for s in ("char_rnn.rnn", "char_lstm.rnn", "char_dots.rnn")]
QUICK_ROWS = [("jsb", "rnn.rnn", 4)]
# spec -> the fused torch.nn cell that computes it (others use the torch export)
FUSED = {"rnn.rnn": "RNN", "char_rnn.rnn": "RNN", "lstm.rnn": "LSTM", "char_lstm.rnn": "LSTM"}
# the clock every rate is taken with (main sets it from --clock): wall time, or the process's CPU
# time on a busy machine (one thread each: then CPU time is the update's own work)
CLOCK = [time.perf_counter]
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
CLOCK_NAMES = {f: name for name, f in CLOCKS.items()}
# profile parts: a label -> the function names whose cumulative time it is
PARTS = {"loss_and_grad": ("loss_and_grad",), "weight noise": ("add_weight_noise",),
         "clipping": ("clip_by_global_norm", "clip_gradients"), "Adam": ("adam_update", "optimiser_step"),
         "data": ("music_batches", "text_batches", "model_batch", "carried_state")}


def make_trainer(spec: str, data: str, B: int, sets=None, data_dir=None) -> Trainer:
    """A fresh Trainer as `rnnalg train spec --data data --batch-size B` builds it (quiet, in a
    temporary run folder that nothing is written to before its first epoch ends)."""
    program = load_checked(str(ROOT / "examples" / spec), sets)
    config = TrainConfig(data=data, data_dir=data_dir, batch_size=B)
    dataset = load_dataset_for(program, data, data_dir, None, spec)
    config = resolve(config, dataset.unit)
    trainer = Trainer(compile_model(program, "auto"), dataset, config, Path(tempfile.mkdtemp()), quiet=True)
    trainer.start_fresh()
    return trainer


def train_batches(trainer, n: int, seed: int = 0) -> list:
    """The first `n` training batches, in the trainer's order for a data RNG seeded `seed`."""
    c = trainer.config
    out = []
    for batch in batches(trainer.dataset, "train", c.batch_size, c.steps, np.random.default_rng(seed)):
        if len(out) == n:
            break
        out.append(batch)
    return out


def dict_update_trainer(spec, data, B, sets, data_dir, warm) -> Trainer:
    """A second trainer like make_trainer's, its update through the dict functions (no flat
    buffers), warmed on the batches `warm`."""
    old = make_trainer(spec, data, B, sets, data_dir)
    old._flat_step = lambda: None
    for batch in warm:
        old._update(batch)
    return old


def add_at_trainer(spec, data, B, sets, data_dir, warm) -> Trainer:
    """A second trainer like make_trainer's whose compiled module scatters an embedding's gradient by
    np.add.at (`_add_rows_at` swapped in its namespace), warmed on the batches `warm`."""
    old = make_trainer(spec, data, B, sets, data_dir)
    old.model._module["_add_rows_at"] = lambda table, rows, values: np.add.at(table, rows, values)
    for batch in warm:
        old._update(batch)
    return old


def old_helpers_trainer(spec, data, B, sets, data_dir, warm) -> Trainer:
    """A second trainer like make_trainer's whose module runs an embedding's gradient and lookup as before
    branch `charlstm`: the prelude's passes for `_add_rows_at` (not the fast backend's loop) and the
    token rows gathered, copied and biased (`_token_lookup` -> None); the same numbers, bit for bit."""
    old = make_trainer(spec, data, B, sets, data_dir)
    module = old.model._module
    module["_add_rows_at"] = getattr(module["_add_rows_at"], "fallback", module["_add_rows_at"])
    module["_token_lookup"] = lambda *args: None
    for batch in warm:
        old._update(batch)
    return old


def dense_binary_trainer(spec, data, B, sets, data_dir, warm) -> Trainer:
    """A second trainer like make_trainer's whose module makes a 0/1 input's product and weight gradient
    by the BLAS, as before branch `train11` (the fast backend's `_affine_into` / `_mmT` -> the prelude's)."""
    old = make_trainer(spec, data, B, sets, data_dir)
    module = old.model._module
    for name in ("_affine_into", "_mmT"):
        module[name] = getattr(module[name], "fallback", module[name])
    for batch in warm:
        old._update(batch)
    return old


# the second trainer of --dict-update / --add-at / --old-helpers: row key -> (its builder, the table's two column heads)
OLD_SIDES = {"dict": (dict_update_trainer, "rnnalg dict-update updates/s", "flat / dict"),
             "add_at": (add_at_trainer, "rnnalg np.add.at updates/s", "new / add.at"),
             "helpers": (old_helpers_trainer, "rnnalg old helpers updates/s", "new / old helpers"),
             "dense": (dense_binary_trainer, "rnnalg dense binary products updates/s", "new / dense")}


def rnnalg_rate(trainer, n: int, seed: int = 0) -> float:
    """Updates per second of `n` Trainer updates, the batches made as the epoch loop makes them."""
    c = trainer.config
    start = CLOCK[0]()
    done = 0
    for batch in batches(trainer.dataset, "train", c.batch_size, c.steps, np.random.default_rng(seed)):
        if done == n:
            break
        trainer._update(batch)
        done += 1
    return done / (CLOCK[0]() - start)


class FusedNet:
    """nn.RNN / nn.LSTM (tanh) + nn.Linear head; loss = rnnalg's mean NLL per unmasked position."""

    def __init__(self, torch, cell: str, n_in: int, H: int, n_out: int, tokens: bool):
        self.torch, self.tokens, self.n_in = torch, tokens, n_in
        self.rnn = getattr(torch.nn, cell)(n_in, H)
        self.head = torch.nn.Linear(H, n_out)
        self.modules = torch.nn.ModuleList([self.rnn, self.head])

    def parameters(self):
        return self.modules.parameters()

    def noisy(self):
        """The weights weight noise applies to (biases stay clean, as in rnnalg)."""
        return [p for name, p in self.modules.named_parameters() if "weight" in name]

    def loss(self, batch, state):
        torch, F = self.torch, self.torch.nn.functional
        x = torch.from_numpy(batch.inputs)
        x = F.one_hot(x, self.n_in).float() if self.tokens else x
        out, state = self.rnn(x, state)
        logits, mask = self.head(out), torch.from_numpy(batch.mask)
        if self.tokens:
            nll = F.cross_entropy(logits.flatten(0, 1), torch.from_numpy(batch.targets).flatten(), reduction="none")
            nll = nll.view(mask.shape)
        else:
            nll = F.binary_cross_entropy_with_logits(logits, torch.from_numpy(batch.targets), reduction="none").sum(-1)
        return (nll * mask).sum() / mask.sum().clamp(min=1.0), state


class ExportedNet:
    """The module `rnnalg export --to torch` writes, with the trainer's initial parameters."""

    def __init__(self, torch, program, params):
        import importlib.util

        import rnnalg

        self.torch, self.input, self.output = torch, program.inputs[0].name, program.heads[0].output.name
        path = Path(tempfile.mkdtemp()) / "exported_torch.py"
        rnnalg.export(program, "torch", path)
        spec = importlib.util.spec_from_file_location("exported_torch", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        self.net = module.Model(params={k: np.asarray(v) for k, v in params.items()})

    def parameters(self):
        return self.net.parameters()

    def noisy(self):
        return [p for p in self.net.parameters() if p.dim() >= 2]  # weights and embeddings

    def loss(self, batch, state):
        t = self.torch.from_numpy
        return self.net.loss({self.input: t(batch.inputs), self.output: t(batch.targets), "mask": t(batch.mask)},
                             state, with_state=True)


def torch_net(torch, trainer):
    program, spec = trainer.model.program, Path(trainer.model.program.file).name
    if spec in FUSED:
        x, y = program.inputs[0], program.heads[0].output
        tokens = x.kind == "token"
        H = dict(program.sizes)["H"]
        return FusedNet(torch, FUSED[spec], x.width, H, y.width, tokens), f"nn.{FUSED[spec]}"
    return ExportedNet(torch, program, trainer.params), "export"


def detached(state):
    """A carried torch state (a tensor, an LSTM's (h, c) tuple or the export's dict) cut from the graph."""
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    if isinstance(state, dict):
        return {k: v.detach() for k, v in state.items()}
    return None if state is None else state.detach()


def torch_rate(torch, net, opt, batch_list, sigma: float, clip: float) -> float:
    """Updates per second of a plain PyTorch loop over `batch_list` with optimiser `opt` (see the
    module docstring)."""
    noisy, state = net.noisy(), None
    start = CLOCK[0]()
    for batch in batch_list:
        if sigma > 0:
            with torch.no_grad():
                clean = [p.detach().clone() for p in noisy]
                for p in noisy:
                    p.add_(torch.randn_like(p), alpha=sigma)
        opt.zero_grad()
        loss, state = net.loss(batch, None if batch.reset else state)
        loss.backward()
        if sigma > 0:
            with torch.no_grad():
                for p, c in zip(noisy, clean):
                    p.copy_(c)
        torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt.step()
        state = detached(state)
    return len(batch_list) / (CLOCK[0]() - start)


def _floor_module():
    """bench/floor.py (bench/ is a folder of scripts, not a package)."""
    if str(ROOT / "bench") not in sys.path:
        sys.path.insert(0, str(ROOT / "bench"))
    import floor
    return floor


def floor_products(trainer, batch_list) -> list:
    """For each batch, the floor.Product list of the matrix products one `loss_and_grad` of
    rnnalg's emitted module makes on it (bench/floor.py; the fast backend's kernels make the same)."""
    floor = _floor_module()
    program, source = trainer.model.program, trainer.model.source
    return [floor.trace_products(source, trainer.params, model_batch(program, batch)) for batch in batch_list]


def floor_call(trainer, batch_list):
    """A no-argument call running those products for every batch, back to back."""
    calls = [_floor_module().floor_call(products) for products in floor_products(trainer, batch_list)]

    def call():
        for c in calls:
            c()
    return call


def call_rate(call, n: int) -> float:
    """n / the seconds of one call(): updates per second where call() runs n updates' work."""
    start = CLOCK[0]()
    call()
    return n / (CLOCK[0]() - start)


def profile_line(trainer, n: int) -> str:
    """Shares of rnnalg's update time by part (cProfile over `n` updates)."""
    prof = cProfile.Profile(CLOCK[0])
    prof.enable()
    start = CLOCK[0]()
    rnnalg_rate(trainer, n, seed=1)
    total = CLOCK[0]() - start
    prof.disable()
    stats = pstats.Stats(prof).stats  # (file, line, name) -> (cc, nc, tt, ct, callers)
    shares = []
    for label, names in PARTS.items():  # the outermost call of a name has the largest cumulative time
        ct = sum(max((v[3] for k, v in stats.items() if k[2] == name), default=0.0) for name in names)
        shares.append(f"{label} {100 * ct / total:.0f}%")
    top = sorted(stats.items(), key=lambda kv: -kv[1][2])[:3]
    shares.append("most self time in " + ", ".join(f"{k[2]} ({Path(k[0]).name.split('#')[0] or 'builtin'}) "
                                                   f"{100 * v[2] / total:.0f}%" for k, v in top))
    return "profile (rnnalg, cProfile): " + ", ".join(shares)


def compare_row(torch, data, spec, B, args):
    sets = ["H=16"] if args.quick else None
    trainer = make_trainer(spec, data, B, sets, args.data_dir)
    c = trainer.config
    warm = train_batches(trainer, 2, seed=2)
    for batch in warm:
        trainer._update(batch)  # the fast backend compiles (or loads) its kernels here
    net, kind = torch_net(torch, trainer)
    opt = torch.optim.Adam(net.parameters(), lr=c.lr)
    torch_rate(torch, net, opt, warm, c.weight_noise, c.clip)
    batch_list = train_batches(trainer, args.updates)
    products = None if args.no_floor else floor_call(trainer, batch_list)
    olds = {key: OLD_SIDES[key][0](spec, data, B, sets, args.data_dir, warm)
            for key, on in (("dict", args.dict_update), ("add_at", args.add_at), ("helpers", args.old_helpers),
                            ("dense", args.dense_binary)) if on}
    ours, theirs, floors, old_rates = [], [], [], {key: [] for key in olds}
    for _ in range(args.rounds):
        ours.append(rnnalg_rate(trainer, args.updates))
        for key, old in olds.items():
            old_rates[key].append(rnnalg_rate(old, args.updates))
        theirs.append(torch_rate(torch, net, opt, batch_list, c.weight_noise, c.clip))
        if products is not None:
            floors.append(call_rate(products, len(batch_list)))
    a, b = float(np.median(ours)), float(np.median(theirs))
    steps = "whole pieces" if c.steps is None else str(c.steps)
    row = {"data": data, "spec": spec, "B": B, "T": steps, "backend": trainer.model.backend, "torch": kind,
           "rnnalg": a, "pytorch": b, "ratio": a / b, "floor": float(np.median(floors)) if floors else None,
           **{key: float(np.median(r)) if r else None for key, r in old_rates.items()}}
    if a < b and not args.no_profile:
        row["profile"] = profile_line(trainer, args.updates)
    return row


def draw_times(n: int, rounds: int = 15, repeats: int = 20) -> str:
    """Weight noise's draw of n normals three ways, interleaved, medians (µs): numpy float64 (the
    trainer's numbers), numpy float32 (other numbers) and normals.fill (the float64 numbers)."""
    from rnnalg.train import normals

    rng, wide, narrow = np.random.default_rng(0), np.empty(n), np.empty(n, np.float32)
    ways = {"numpy float64": lambda: rng.standard_normal(out=wide),
            "numpy float32": lambda: rng.standard_normal(out=narrow, dtype=np.float32),
            "normals.fill": lambda: normals.fill(rng, wide)}
    times = {name: [] for name in ways}
    normals.fill(rng, wide)  # compile or load the kernel
    for _ in range(rounds):
        for name, draw in ways.items():
            start = CLOCK[0]()
            for _ in range(repeats):
                draw()
            times[name].append((CLOCK[0]() - start) / repeats)
    base = float(np.median(times["numpy float64"]))
    kernel = normals.unavailable_reason() or "the numba kernel"
    return f"{n} normals, {CLOCK_NAMES[CLOCK[0]]} clock, normals.fill uses {kernel}:\n" + "\n".join(
        f"  {name:14s} {1e6 * float(np.median(t)):8.0f} µs  {base / float(np.median(t)):.2f}× numpy float64's speed"
        for name, t in times.items())


# --scatter: (dataset, V) whose first training batch (B=32, 100 steps) gives the token rows, and the
# widths 4H of the gated cells' joint pre part at the hidden sizes of the PTB examples and above
SCATTER_DATA = (("ptb-char", 50), ("ptb-word", 10_000))
SCATTER_H = (200, 400, 700)


def scatter_rows(name: str, V: int, data_dir, rng) -> tuple[np.ndarray, str]:
    """(T·B,) token rows of the first (32, 100) training batch of `name`, or, where that is not in the data
    folder, as many Zipf(1.3) draws mod V (and a word saying which)."""
    from rnnalg.data.batching import text_batches
    from rnnalg.data.dataset import load_dataset
    from rnnalg.errors import DataError

    try:
        stream = load_dataset(name, data_dir).splits["train"][0]
    except DataError:
        return (rng.zipf(1.3, 3200) - 1) % V, f"Zipf(1.3) rows mod {V}: no {name} in the data folder"
    return next(text_batches(stream, 32, 100)).inputs.reshape(-1), f"{name}'s first batch, B=32, 100 steps"


def scatter_times(data_dir, rounds: int, repeats: int = 5) -> str:
    """An embedding's gradient alone, the scatter-add of g (T·B, 4H) float32 into a (V, 4H) table (zero at first):
    np.add.at against the prelude's _add_rows_at and, with numba, the fast backend's loop
    (rnnalg/fast/numba_scatter.py) — the same numbers, checked — interleaved, medians (ms)."""
    from rnnalg.fast import numba_scatter
    from rnnalg.lower import prelude

    rng = np.random.default_rng(0)
    loop = numba_scatter.scatter_into(prelude._add_rows_at) if numba_scatter.compiled() else None
    lines = [f"scatter-add of g (T·B, 4H) float32 into a (V, 4H) table, {CLOCK_NAMES[CLOCK[0]]} clock, "
             f"medians of {rounds} rounds of {repeats}:"]
    for name, V in SCATTER_DATA:
        rows, where = scatter_rows(name, V, data_dir, rng)
        for H in SCATTER_H:
            g = rng.standard_normal((len(rows), 4 * H)).astype(np.float32)
            ways = {"np.add.at": lambda t: np.add.at(t, rows, g),
                    "_add_rows_at": lambda t: prelude._add_rows_at(t, rows, g)}
            if loop is not None:
                ways["fast loop"] = lambda t: loop(t, rows, g)
            tables = {way: np.zeros((V, 4 * H), np.float32) for way in ways}
            times = {way: [] for way in ways}
            for _ in range(rounds):
                for way, add in ways.items():
                    start = CLOCK[0]()
                    for _ in range(repeats):
                        add(tables[way])
                    times[way].append((CLOCK[0]() - start) / repeats)
            same = len({tables[way].tobytes() for way in ways}) == 1
            ms = {way: 1e3 * float(np.median(times[way])) for way in ways}
            old = ms["np.add.at"]
            lines.append(f"  V={V} ({where}), T·B={len(rows)}, 4H={4 * H}: np.add.at {old:.2f} ms, "
                         + ", ".join(f"{way} {ms[way]:.2f} ms ({old / ms[way]:.1f}× faster)" for way in ways
                                     if way != "np.add.at")
                         + f", {'the same bits' if same else 'DIFFERENT NUMBERS'}")
    return "\n".join(lines)


def rate(per_second: float) -> str:
    """3 significant digits, no exponent: 0.576 -> '0.576', 25.71 -> '25.7', 1123.4 -> '1123'."""
    return f"{per_second:.0f}" if per_second >= 1000 else f"{per_second:.3g}"


def table(rows, threads) -> str:
    olds = [key for key in OLD_SIDES if any(r.get(key) is not None for r in rows)]
    extra = "".join(f" {OLD_SIDES[key][1]} | {OLD_SIDES[key][2]} |" for key in olds)
    lines = [f"threads: {threads} (BLAS and torch), clock: {CLOCK_NAMES[CLOCK[0]]}", "",
             "| data | spec | B | T | rnnalg backend | PyTorch model | rnnalg updates/s | PyTorch updates/s | "
             "ratio | ≥ 1.0× | floor updates/s | floor / PyTorch |" + extra, "|---" * (12 + 2 * len(olds)) + "|"]
    notes = []
    for r in rows:
        met = "met" if r["ratio"] >= 1.0 else "not met"
        cells = "".join(f" {rate(r[key])} | {r['rnnalg'] / r[key]:.2f}× |" if r.get(key) else " — | — |"
                        for key in olds)
        lines.append(f"| {r['data']} | {r['spec']} | {r['B']} | {r['T']} | {r['backend']} | {r['torch']} | "
                     f"{rate(r['rnnalg'])} | {rate(r['pytorch'])} | {r['ratio']:.2f}× | {met} | "
                     f"{_floor_cells(r)} |" + cells)
        if "profile" in r:
            notes.append(f"- {r['data']} {r['spec']} B={r['B']}: {r['profile']}")
    return "\n".join(lines + ([""] + notes if notes else []))


def _floor_cells(r) -> str:
    """'floor rate | floor time / PyTorch's update time', the latter marked out of reach above 1."""
    if r.get("floor") is None:
        return "— | —"
    share = r["pytorch"] / r["floor"]
    return f"{rate(r['floor'])} | {share:.2f}{' out of reach' if share > 1 else ''}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1, help="BLAS and torch threads (default 1)")
    p.add_argument("--rounds", type=int, default=3, help="timed rounds per side and row (default 3)")
    p.add_argument("--updates", type=int, default=20, help="updates per round (default 20)")
    p.add_argument("--data-dir", help="the data folder (default $RNNALG_DATA)")
    p.add_argument("--only", help="run only the rows whose spec contains this text")
    p.add_argument("--no-profile", action="store_true", help="skip the profile of rows where rnnalg is behind")
    p.add_argument("--no-floor", action="store_true", help="skip the floor column (the products alone)")
    p.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                   help="wall time, or the process's CPU time (a busy machine; with --threads 1)")
    p.add_argument("--draws", type=int, metavar="N",
                   help="only time weight noise's draw of N normals: numpy float64, float32, normals.fill")
    p.add_argument("--scatter", action="store_true",
                   help="only time an embedding's gradient: np.add.at, the prelude's _add_rows_at, the fast loop")
    p.add_argument("--dict-update", action="store_true",
                   help="also time rnnalg's update through the dict functions (before the flat buffers)")
    p.add_argument("--add-at", action="store_true",
                   help="also time rnnalg's update with np.add.at for an embedding's gradient (before _add_rows_at)")
    p.add_argument("--old-helpers", action="store_true",
                   help="also time rnnalg's update with the embedding's scatter and lookup as before (the prelude's)")
    p.add_argument("--dense-binary", action="store_true",
                   help="also time rnnalg's update with a 0/1 input's products by the BLAS (before numba_binary)")
    p.add_argument("--quick", action="store_true",
                   help="a few seconds: JSB rnn.rnn at H=16, B=4, 3 updates, 1 round")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.updates = 1, 3
    CLOCK[0] = CLOCKS[args.clock]
    if args.draws:
        print(draw_times(args.draws))
        return 0
    if args.scatter:
        print(scatter_times(args.data_dir, args.rounds))
        return 0
    try:
        import torch
    except ImportError:
        print("train_compare.py needs PyTorch: pip install torch", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    rows = []
    with numerics.blas_threads_set(args.threads):
        for data, spec, B in QUICK_ROWS if args.quick else ROWS:
            if args.only and args.only not in spec:
                continue
            rows.append(compare_row(torch, data, spec, B, args))
            print(f"{data} {spec} B={B}: rnnalg {rows[-1]['rnnalg']:.3g}/s, PyTorch {rows[-1]['pytorch']:.3g}/s",
                  file=sys.stderr, flush=True)
    print(table(rows, args.threads))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
