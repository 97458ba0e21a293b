"""One sweep at a time per results file: a lock file beside it that names its holder.

    RESULTS.lock   {"host": …, "pid": …, "started": …, "out": …}   created with O_CREAT|O_EXCL

Exclusive creation is atomic on local disks and on NFS (v3 and later), the shared folder of
a Ray cluster, so of two sweeps started together with the same `--results` exactly one gets
the lock and the other is refused with the holder's host, pid and start time.  The holder
removes the lock when it ends (also on Ctrl-C and SIGTERM).  A lock left by a killed sweep
of *this* host (its pid no longer runs) is taken over; one of another host cannot be checked
from here, so the message says which file to remove once that sweep is known to be gone.
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from ..atomic import pid_running
from ..errors import UsageError


def lock_path(results: Path) -> Path:
    return results.with_name(results.name + ".lock")


class ResultsLock:
    """`with ResultsLock(results, out):` holds the lock of `results` for the block."""

    def __init__(self, results: Path, out: Path):
        self.results, self.path = Path(results), lock_path(Path(results))
        self.mine = {"host": socket.gethostname(), "pid": os.getpid(),
                     "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "out": str(out)}
        self.held = False

    def acquire(self) -> None:
        for _ in range(3):  # a stale lock taken over, then a race for the new one: retry a little
            if self._create():
                self.held = True
                return
            holder = self._holder()
            if holder is None:
                continue  # removed between our try and our read: try again
            if not self._stale(holder):
                raise UsageError(self._refusal(holder))
            self._take_over(holder)
        raise UsageError(f"--results {self.results}: could not take the lock {self.path}; "
                         f"another sweep is starting with the same results file")

    def release(self) -> None:
        if self.held:
            self.held = False
            if self._holder() == self.mine:
                try:
                    self.path.unlink()
                except OSError:
                    pass

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()

    def _create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        except OSError as err:
            raise UsageError(f"--results {self.results}: cannot create its lock {self.path}: "
                             f"{err.strerror or err}") from None
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self.mine, f)
            f.flush()
            os.fsync(f.fileno())
        return True

    def _holder(self) -> dict | None:
        """The lock's content; {} when unreadable (a holder still writing it, or garbage)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError:
            return {}
        try:
            holder = json.loads(text)
        except ValueError:
            return {}
        return holder if isinstance(holder, dict) else {}

    def _stale(self, holder: dict) -> bool:
        pid = holder.get("pid")
        return (holder.get("host") == self.mine["host"] and isinstance(pid, int)
                and pid != os.getpid() and not pid_running(pid))

    def _take_over(self, holder: dict) -> None:
        """Remove the stale lock `holder` — only if the file still holds exactly that."""
        aside = self.path.with_name(f"{self.path.name}.{self.mine['host']}-{os.getpid()}.stale")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return  # another sweep took it over first
        try:
            moved = json.loads(aside.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            moved = None
        if moved != holder:  # a new holder's lock was moved by mistake: put it back
            try:
                os.link(aside, self.path)
            except OSError:
                pass
        aside.unlink(missing_ok=True)

    def _refusal(self, holder: dict) -> str:
        if not holder:
            return (f"--results {self.results}: locked by {self.path}, which is being written or "
                    f"unreadable; if no sweep is using this results file, remove the lock")
        who = f"pid {holder.get('pid')} on host {holder.get('host')}"
        since = f" since {holder['started']}" if holder.get("started") else ""
        where = f" (--out {holder['out']})" if holder.get("out") else ""
        advice = ("wait for it to end, or give this sweep another --results"
                  if holder.get("host") == self.mine["host"] else
                  f"wait for it to end, or give this sweep another --results; if that sweep is no "
                  f"longer running, remove {self.path}")
        return f"--results {self.results}: in use by the sweep of {who}{since}{where}; {advice}"
