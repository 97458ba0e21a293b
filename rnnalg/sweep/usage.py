"""What a trial cost and how busy the machine was while it ran: `cpu_seconds` and `load` of
its results line.

    cpu_seconds  user + system CPU time of the trial's own process: the Ray worker that runs
                 the trainer in-process (`worker.py`), all its threads (BLAS and numba ones
                 too, and Ray's own few threads in that worker), from the trial's start to its
                 end; a worker reused for several trials counts each from its own start
    load         {"start", "max", "end", "cpus"}: the machine's 1-minute load average
                 (`os.getloadavg`) at the trial's start, its maximum over the samples (start,
                 every epoch, end) and at the end, beside `os.cpu_count()`

A trial continued after an interruption adds to what its earlier attempts recorded in the run
folder's `usage.json` (written at every epoch and at the end of an attempt): the CPU seconds add
up, the load keeps the first start, the highest maximum and the last end.  A time-limited trial
whose maximum load was above the CPU count shared its cores, so it trained for fewer
core-seconds than its limit gives on an idle machine (the report marks it, `report.py`).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ..atomic import write_atomic

FILE = "usage.json"  # in the trial's run folder


def load_average() -> float | None:
    """The 1-minute load average now (None where the system has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def recorded(run_dir) -> dict:
    """{"cpu_seconds", "load"} of the earlier attempts in `run_dir` ({} when none or unreadable)."""
    try:
        found = json.loads((Path(run_dir) / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) and isinstance(found.get("cpu_seconds"), (int, float)) else {}


def loaded(load) -> bool:
    """Whether a line's `load` says the machine had more runnable work than CPUs at some sample."""
    return (isinstance(load, dict) and isinstance(load.get("max"), (int, float))
            and isinstance(load.get("cpus"), int) and load["max"] > load["cpus"])


class Usage:
    """The CPU time and load of one attempt of a trial, added to its earlier attempts'."""

    def __init__(self, run_dir):
        self.run_dir = Path(run_dir)
        self.earlier = recorded(run_dir)
        self.cpu_start = time.process_time()  # this process, every thread
        now = load_average()
        self.start = self.high = self.end = now

    def sample(self) -> dict:
        """Sample the load now; -> the fields so far, {"cpu_seconds", "load"}."""
        now = load_average()
        if now is not None:
            self.end, self.high = now, max(self.high if self.high is not None else now, now)
        return self.fields()

    def fields(self) -> dict:
        before = self.earlier.get("load") if isinstance(self.earlier.get("load"), dict) else {}
        highs = [v for v in (before.get("max"), self.high) if isinstance(v, (int, float))]
        start = before.get("start") if isinstance(before.get("start"), (int, float)) else self.start
        load = {"start": start, "max": max(highs) if highs else None, "end": self.end, "cpus": os.cpu_count()}
        cpu = float(self.earlier.get("cpu_seconds", 0.0)) + time.process_time() - self.cpu_start
        return {"cpu_seconds": round(cpu, 1), "load": load}

    def save(self) -> dict:
        """Sample, write `usage.json` into the run folder (when it exists); -> the fields."""
        fields = self.sample()
        if self.run_dir.is_dir():
            text = json.dumps(fields, sort_keys=True)
            write_atomic(self.run_dir, FILE, lambda f: f.write(text.encode()))
        return fields
