"""The markdown of bench/compare.py: machine information and the results table."""
from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path

import numpy as np

from rnnalg.commands.bench import format_ms

ROOT = Path(__file__).resolve().parent.parent

# (column, B) -> largest acceptable ratio rnnalg / other (bench/README.md, "Targets")
TARGETS = {("torch", 1): 0.2, ("torch", 16): 0.7, ("torch", 64): 1.0, ("autograd", 1): 1 / 20}


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def machine_info(torch=None, jax=None, jax_threads: int = 2) -> list[str]:
    """Markdown bullet lines: date, CPU, cores, load, versions, BLAS, rnnalg commit."""
    lines = [
        f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"CPU: {_cpu_model()}, {os.cpu_count()} logical cores",
        f"Python {platform.python_version()}, numpy {np.__version__} (BLAS: {_numpy_blas()})",
    ]
    if torch is None:
        lines.append("PyTorch: not available (column skipped)")
    else:
        lines.append(f"PyTorch {torch.__version__}, eager, {torch.get_num_threads()} threads")
    if jax is None:
        lines.append("JAX: not available (column skipped)")
    else:
        threads = "1 thread" if jax_threads == 1 else "XLA's default threads"
        lines.append(f"JAX {jax.__version__}, jit(value_and_grad) of lax.scan, {threads}")
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


def format_ratio(ours, other, column: str, B: int) -> str:
    """Ratio of medians rnnalg / other, with its target (✓ met, ✗ missed) where one is set."""
    if ours is None or other is None:
        return "—"
    ratio = float(np.median(ours) / np.median(other))
    text = f"{ratio:.3g}"
    target = TARGETS.get((column, B))
    if target is not None:
        text += f" {'✓' if ratio <= target else '✗'} (≤ {target:.3g})"
    return text


def results_table(rows) -> list[str]:
    """rows: dicts with model, B, and seconds arrays (or None) 'rnnalg', 'jax', 'torch', 'autograd'."""
    lines = ["| model | B | rnnalg ms | JAX ms | PyTorch eager ms | autograd ref ms | rnnalg / JAX "
             "| rnnalg / PyTorch | rnnalg / autograd |",
             "|---|---:|---:|---:|---:|---:|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['B']} | {format_times(r['rnnalg'])} | {format_times(r.get('jax'))} | "
                     f"{format_times(r['torch'])} | {format_times(r['autograd'])} | "
                     f"{format_ratio(r['rnnalg'], r.get('jax'), 'jax', r['B'])} | "
                     f"{format_ratio(r['rnnalg'], r['torch'], 'torch', r['B'])} | "
                     f"{format_ratio(r['rnnalg'], r['autograd'], 'autograd', r['B'])} |")
    return lines


def report(rows, settings: str, info: list[str], load_before: str) -> str:
    """The whole markdown document."""
    lines = ["# rnnalg forward+backward timings", "", settings, "",
             "Milliseconds per call: median (min–max) over all timed calls; "
             "ratios are of medians, ✓/✗ against the targets in bench/README.md.", ""]
    lines += results_table(rows)
    lines += ["", "Machine:", ""] + [f"- {line}" for line in info]
    lines += [f"- load average (1, 5, 15 min): {load_before} before, {load_average()} after"]
    return "\n".join(lines)
