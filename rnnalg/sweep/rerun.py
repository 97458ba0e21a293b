"""The command that reruns a results line to the same figures, on the same machine at the
line's commit (`git checkout COMMIT` first), in the folder the sweep ran in (its spec and data
file paths are relative to it, as in the trial's command: sweepfile.command_path):

    RNNALG_BACKEND=fast rnnalg train examples/dts.rnn --data jsb --set H=250 --epochs 43 \\
        --weight-noise 0.02 --seed 1234 --threads 1

It is the trial's command with the backend and BLAS thread count the line records, and with
`--epochs` set to the epochs the trial finished in place of `--epochs` / `--time-limit`: a time
limit stops at a point that depends on the machine's load, while the finished epochs fix the
best-validation parameters the test figure is taken from.
"""
from __future__ import annotations

import shlex

from ..errors import UsageError

DROPPED = ("--epochs", "--time-limit")  # flags with a value, replaced by the finished epochs


def rerun_command(line: dict) -> str:
    """The shell command that reruns the trial of results line `line` to its figures."""
    trial = line.get("trial", {}).get("id", "?")
    if line.get("status") != "ok" or not line.get("epochs"):
        raise UsageError(f"results line of {trial}: no finished epoch to rerun (status {line.get('status')})")
    words = shlex.split(line["command"])
    kept = []
    for word in words:
        if kept and kept[-1] in DROPPED:
            kept.pop()  # the flag, and this word, its value
            continue
        kept.append(word)
    kept += ["--epochs", str(line["epochs"])]
    if line.get("threads") is not None:
        kept += ["--threads", str(line["threads"])]
    data_dir = line["trial"].get("data_dir")
    if data_dir and "--data-dir" not in kept:
        kept += ["--data-dir", data_dir]
    env = [f"RNNALG_BACKEND={line['backend']}"] if line.get("backend") else []
    return shlex.join(env + kept)
