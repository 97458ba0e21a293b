"""Regenerate README.md's main-job block: run the README's main command as written and paste
the end of what it prints between the block's markers.

    python tools/readme_main_job.py            # run (about a minute on one core), rewrite README.md
    python tools/readme_main_job.py --check    # run, exit 1 if README.md's block differs from it

Run it whenever the lowering or the trainer changes. The command is read from the README's
"Set up" block (the part after its last `&&`, `rnnalg train examples/dots.rnn`) and run as
`python -m rnnalg ...` with this checkout first on the path, in a fresh temporary folder that
holds a copy of `examples/` (so the output names `runs/dots`, as the user's does), with one BLAS
thread (OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = MKL_NUM_THREADS = 1) and the numpy backend
(RNNALG_BACKEND=numpy): both change float32 rounding, and over 50 epochs the figures drift
apart. The block's last line says when, with which backend, thread count and versions it was
made, the run's wall and CPU seconds, and the machine's load (other processes slow the wall clock).

`--check` compares every line of the block but the timings (seconds, frames/s), so it passes
only on a machine that rounds as the one that made the block did (same BLAS, same CPU kind).
"""
from __future__ import annotations

import argparse
import datetime
import difflib
import os
import platform
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "<!-- main-job: begin (tools/readme_main_job.py writes this block; do not edit it by hand) -->"
END = "<!-- main-job: end -->"
SCRIPT = "python tools/readme_main_job.py"
ENVIRONMENT = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "RNNALG_BACKEND": "numpy"}
EPOCHS_SHOWN = 2  # epoch lines kept before the closing lines

EPOCH_LINE = re.compile(r"^epoch +\d+/\d+ ")
TEST_LINE = re.compile(r"^test NLL per frame: \d+\.\d{4}  \(.*\)$")
MADE_LINE = re.compile(r"^Made by `(?P<script>[^`]+)` on (?P<date>\d{4}-\d\d-\d\d): numpy backend, 1 BLAS thread "
                       r"\((?P<blas>[^)]+)\), numpy (?P<numpy>[\d.]+\w*), Python (?P<python>[\d.]+), "
                       r"(?P<machine>[^;]+); (?P<wall>\d+) s wall, (?P<cpu>\d+) s CPU, load average (?P<load>[\d.]+) "
                       r"on (?P<cores>\d+) cores\.$")
TIMING = re.compile(r"[\d,]+ frames/s|\b\d+(\.\d+)?s\b")


class BlockError(Exception):
    """README.md lacks the command or the markers this script needs."""


@dataclass(frozen=True)
class Run:
    lines: list  # the end of stdout: the last EPOCHS_SHOWN epoch lines and what follows them
    wall: float  # seconds
    cpu: float  # user + system seconds of the child
    load: float  # the machine's 1-minute load average at the end: wall far above CPU on a busy machine


def main_command(readme: str) -> list:
    """The README's main command: the last `&&` part of the first ```sh block under "## Set up"."""
    setup = readme.partition("\n## Set up\n")[2]
    block = re.search(r"```sh\n(.*?)```", setup, flags=re.S)
    if not block:
        raise BlockError('README.md: no ```sh block under "## Set up" (the main command)')
    command = shlex.split(block.group(1).split("&&")[-1].strip())
    if command[:2] != ["rnnalg", "train"]:
        raise BlockError(f"README.md: the set-up block ends with {shlex.join(command)!r}, not `rnnalg train ...`")
    return command


def run_main_job(command: list, extra: tuple = ()) -> Run:
    """Run `command` (+ `extra` arguments) as the README's user would, in a fresh folder."""
    env = {**os.environ, **ENVIRONMENT, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("RNNALG_DATA", None)  # the music ships inside the package: no data folder
    with tempfile.TemporaryDirectory(prefix="rnnalg-main-job-") as folder:
        shutil.copytree(ROOT / "examples", Path(folder) / "examples")
        before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
        done = subprocess.run([sys.executable, "-m", "rnnalg", *command[1:], *extra], cwd=folder, env=env,
                              capture_output=True, text=True)
        wall, after = time.monotonic() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise BlockError(f"{shlex.join(command)} exited {done.returncode}:\n{done.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(closing_lines(done.stdout), wall, cpu, os.getloadavg()[0])


def closing_lines(stdout: str) -> list:
    """The last EPOCHS_SHOWN epoch lines of a training's output and every line after them."""
    lines = [line.rstrip() for line in stdout.splitlines() if line.strip()]
    epochs = [i for i, line in enumerate(lines) if EPOCH_LINE.match(line)]
    if not epochs or not TEST_LINE.match(lines[-1]):
        raise BlockError("the training printed no epoch lines or no closing test line:\n" + stdout[-2000:])
    return lines[epochs[max(0, len(epochs) - EPOCHS_SHOWN)]:]


def made_line(run: Run, today: datetime.date | None = None) -> str:
    """Which script, when, backend, BLAS threads and versions, and the run's seconds (MADE_LINE)."""
    import numpy as np

    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    blas_name = f"{blas.get('name', 'unknown BLAS')} {blas.get('version', '')}".strip()
    today = today or datetime.datetime.now(datetime.timezone.utc).date()
    return (f"Made by `{SCRIPT}` on {today.isoformat()}: numpy backend, 1 BLAS thread ({blas_name}), "
            f"numpy {np.__version__}, Python {platform.python_version()}, {platform.system()} {platform.machine()}; "
            f"{run.wall:.0f} s wall, {run.cpu:.0f} s CPU, load average {run.load:.1f} on {os.cpu_count()} cores.")


def render(run: Run, today: datetime.date | None = None) -> str:
    """The block, markers included."""
    return "\n".join([BEGIN, "```", *run.lines, "```", made_line(run, today), END])


def block_span(readme: str) -> tuple:
    """(start, end) of the block in README.md's text, markers included."""
    if readme.count(BEGIN) != 1 or readme.count(END) != 1 or readme.index(BEGIN) > readme.index(END):
        raise BlockError(f"README.md must hold the line {BEGIN!r} once, followed by {END!r} once")
    return readme.index(BEGIN), readme.index(END) + len(END)


def parse_block(readme: str) -> tuple:
    """(the output lines, the made-by line) of README.md's block; BlockError if malformed."""
    start, end = block_span(readme)
    found = re.fullmatch(re.escape(BEGIN) + r"\n```\n(.*?)\n```\n(.*)\n" + re.escape(END), readme[start:end], re.S)
    if not found:
        raise BlockError("README.md's main-job block must be a ``` block of output, then the made-by line")
    return found.group(1).splitlines(), found.group(2)


def replace_block(readme: str, block: str) -> str:
    start, end = block_span(readme)
    return readme[:start] + block + readme[end:]


def differences(readme: str, run: Run) -> list:
    """Diff lines between README.md's block and this run's lines, timings masked; [] if equal."""
    shown, _ = parse_block(readme)
    mask = lambda lines: [TIMING.sub("…", line) for line in lines]  # noqa: E731
    return list(difflib.unified_diff(mask(shown), mask(run.lines), "README.md", "this run", lineterm=""))


def main(argv=None, extra: tuple = ()) -> int:
    """`extra` arguments go to the training (the tests make it small); the CLI gives none."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="run and compare with README.md's block (timings aside); exit 1 if it differs")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md", help="the file to rewrite or check")
    args = parser.parse_args(argv)
    try:
        readme = args.readme.read_text(encoding="utf-8")
        parse_block(readme) if args.check else block_span(readme)
        command = main_command(readme)
        print(f"running {shlex.join(command)} (numpy backend, 1 BLAS thread) ...", file=sys.stderr)
        run = run_main_job(command, extra)
    except (BlockError, OSError) as err:
        print(f"{args.readme}: error: {err}", file=sys.stderr)
        return 1
    if args.check:
        diff = differences(readme, run)
        print("\n".join(diff) if diff else f"{args.readme}: the main-job block matches this run (timings aside)")
        if diff:
            print(f"{args.readme}: the main-job block is stale: run `{SCRIPT}` to regenerate it", file=sys.stderr)
        return 1 if diff else 0
    sys.path.insert(0, str(ROOT))
    from rnnalg.atomic import write_atomic  # this checkout's

    block = render(run)
    text = replace_block(readme, block)
    write_atomic(args.readme.parent, args.readme.name, lambda f: f.write(text.encode("utf-8")))
    print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
