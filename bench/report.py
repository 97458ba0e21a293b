"""The markdown of bench/compare.py: machine information and the results tables.

Ratios are of medians. "rnnalg" in a ratio is the faster (by median) of its numpy and fast
backends, "PyTorch" the faster of eager and torch.compile; the faster one's cell is in bold.
"""
from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path

import numpy as np

from rnnalg.commands.bench import format_ms

ROOT = Path(__file__).resolve().parent.parent

# (ratio, B) -> largest acceptable ratio rnnalg / other (bench/README.md, "Targets": issue 9's, with issue 21's
# floor at B=64, 1.2 where issue 9 had 1.3); the word-level model's own
TARGETS = {("jax", 1): 0.8, ("floor", 64): 1.2, ("torch", 16): 1.0, ("torch", 64): 1.0, ("autograd", 1): 1 / 20}
WORD_TARGETS = {("floor", 64): 2.0}
WORD = "word"  # compare.WORD: the label of the word-level row, reported in a table of its own

# table columns: key of a row -> heading
COLUMNS = {"rnnalg": "rnnalg numpy", "fast": "rnnalg fast", "jax": "JAX", "compiled": "torch.compile",
           "torch": "PyTorch eager", "autograd": "autograd ref", "floor": "floor",
           "floor_torch": "floor by torch.matmul"}  # the floor's products with PyTorch's BLAS (bench/floor.py)
OURS, TORCH = ("rnnalg", "fast"), ("compiled", "torch")  # the faster of each pair stands for it in the ratios
# ratio columns: (heading, the row keys whose fastest is the denominator)
RATIOS = {"jax": ("JAX", ("jax",)), "floor": ("floor", ("floor",)), "torch": ("PyTorch", TORCH),
          "autograd": ("autograd", ("autograd",))}


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def machine_info(torch=None, jax=None, jax_threads: int = 2, compiled: bool = False,
                 fast: bool = False) -> list[str]:
    """Markdown bullet lines: date, CPU, cores, load, versions, BLAS, rnnalg commit."""
    lines = [
        f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"CPU: {_cpu_model()}, {os.cpu_count()} logical cores",
        f"Python {platform.python_version()}, numpy {np.__version__} (BLAS: {_numpy_blas()})",
    ]
    if torch is None:
        lines.append("PyTorch: not available (column skipped)")
    else:
        modes = "eager and torch.compile" if compiled else "eager"
        lines.append(f"PyTorch {torch.__version__}, {modes}, {torch.get_num_threads()} threads")
    if jax is None:
        lines.append("JAX: not available (column skipped)")
    else:
        threads = "1 thread" if jax_threads == 1 else "XLA's default threads"
        lines.append(f"JAX {jax.__version__}, jit(value_and_grad) of lax.scan, {threads}")
    lines.append(f"rnnalg fast backend: {_numba() if fast else 'not available (column skipped)'}")
    threads = [f"{k}={os.environ[k]}" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS") if k in os.environ]
    lines.append(f"thread variables: {', '.join(threads) or 'none set (BLAS uses every core)'}")
    lines.append(f"rnnalg commit: {_git_commit()}")
    return lines


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _numpy_blas() -> str:
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except Exception:  # older numpy has no mode="dicts"; the version line is a courtesy
        return "unknown"


def _numba() -> str:
    try:
        import numba
    except ImportError:
        return "numba not installed"
    return f"numba {numba.__version__}"


def _git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "rnnalg"], cwd=ROOT,
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + (" (rnnalg/ has uncommitted changes)" if dirty.stdout.strip() else "")


def format_times(times) -> str:
    """Seconds -> 'median (min–max)' in milliseconds; '—' when not measured."""
    if times is None:
        return "—"
    return f"{format_ms(np.median(times))} ({format_ms(np.min(times))}–{format_ms(np.max(times))})"


def _fastest(row, keys):
    """(key, seconds) of the measured column among keys with the lowest median, or (None, None)."""
    measured = [(float(np.median(row[k])), k) for k in keys if row.get(k) is not None]
    if not measured:
        return None, None
    return min(measured)[1], row[min(measured)[1]]


def _cell(row, key) -> str:
    """Median (min–max) ms; in bold when it is the faster of a pair (OURS, TORCH) that both ran."""
    text = format_times(row.get(key))
    for group in (OURS, TORCH):
        if key in group and all(row.get(k) is not None for k in group) and _fastest(row, group)[0] == key:
            return f"**{text}**"
    return text


def format_ratio(ours, other, target=None) -> str:
    """Ratio of medians rnnalg / other, with its target (✓ met, ✗ missed) where one is set."""
    if ours is None or other is None:
        return "—"
    ratio = float(np.median(ours) / np.median(other))
    text = f"{ratio:.3g}"
    if target is not None:
        text += f" {'✓' if ratio <= target else '✗'} (≤ {target:.3g})"
    return text


def results_table(rows) -> list[str]:
    """rows: dicts with model, B, and seconds arrays (or None) under every key of COLUMNS."""
    lines = ["| model | B | " + " | ".join(f"{h} ms" for h in COLUMNS.values()) + " | "
             + " | ".join(f"rnnalg / {h}" for h, _ in RATIOS.values()) + " |",
             "|---|---:|" + "---:|" * len(COLUMNS) + "---|" * len(RATIOS)]
    for r in rows:
        targets = WORD_TARGETS if r["model"] == WORD else TARGETS
        cells = [_cell(r, k) for k in COLUMNS]
        ours = _fastest(r, OURS)[1]
        cells += [format_ratio(ours, _fastest(r, keys)[1], targets.get((key, r["B"])))
                  for key, (_, keys) in RATIOS.items()]
        lines.append(f"| {r['model']} | {r['B']} | " + " | ".join(cells) + " |")
    return lines


FIRST_CALLS = ("fast", "jax", "compiled")  # columns whose first call compiles


def per_call_table(rows) -> list[str]:
    """Per row: the floor's products and GFLOP, its GFLOP/s, and the seconds of the first call
    (it compiles; not in the timings) of each compiling implementation that ran; [] if nothing to say."""
    first = [k for k in FIRST_CALLS if any(k in r.get("first", {}) for r in rows)]
    if not first and not any(r.get("products") for r in rows):
        return []
    headings = ["model", "B", "products", "GFLOP", "floor GFLOP/s"] + [f"first call {COLUMNS[k]} s" for k in first]
    lines = ["Per call: the matrix products rnnalg's numpy schedule runs (bench/floor.py; GFLOP = Σ 2·M·K·N) and "
             "the rate the floor ran them at; the first call of each compiling implementation (seconds; it "
             "compiles, and is not in the timings above).", "",
             "| " + " | ".join(headings) + " |", "|---|---:|" + "---:|" * (len(headings) - 2)]
    for r in rows:
        flops, seconds = r.get("flops") or 0, r.get("floor")
        rate = f"{flops / float(np.median(seconds)) / 1e9:.3g}" if flops and seconds is not None else "—"
        cells = [str(r.get("products") or "—"), f"{flops / 1e9:.3g}" if flops else "—", rate]
        cells += [f"{r['first'][k]:.2f}" if k in r.get("first", {}) else "—" for k in first]
        lines.append(f"| {r['model']} | {r['B']} | " + " | ".join(cells) + " |")
    return lines


def report(rows, settings: str, info: list[str], load_before: str) -> str:
    """The whole markdown document."""
    lines = ["# rnnalg forward+backward timings", "", settings, "",
             "Milliseconds per call: median (min–max) over all timed calls; ratios are of medians, ✓/✗ against "
             "the targets in bench/README.md. In the ratios, rnnalg is the faster of its numpy and fast backends "
             "and PyTorch the faster of eager and torch.compile (in bold where both ran).", ""]
    music, word = [r for r in rows if r["model"] != WORD], [r for r in rows if r["model"] == WORD]
    if music:
        lines += results_table(music)
    if word:
        lines += ["", "Word level: examples/word_rnn.rnn, token[10000] in and out (softmax + categorical NLL).", ""]
        lines += results_table(word)
    per_call = per_call_table(rows)
    if per_call:
        lines += [""] + per_call
    lines += ["", "Machine:", ""] + [f"- {line}" for line in info]
    lines += [f"- load average (1, 5, 15 min): {load_before} before, {load_average()} after"]
    return "\n".join(lines)
