"""The local Ray a sweep starts, written down so that a killed sweep's processes can be ended.

    OUT/ray.json   {"host", "driver": {pid, created}, "session_dir",
                    "processes": [{name, pid, created}, …]}      (gcs_server, raylet, monitor, …)

A sweep that starts its own local Ray records it here and removes the file when it ends.  A
driver killed outright (SIGKILL, out of memory) cannot: its Ray keeps running.  The next
`rnnalg sweep` of the same OUT reads the file and, on the same host only, ends exactly the
processes it lists — a pid counts only while its start time is the recorded one, so a reused
pid is never touched — their descendants (the trial workers under the raylet), and this
user's processes that hold a file open in the recorded session folder (the raylet's agents,
which outlive a killed raylet).  Another Ray on the machine (another sweep, another user's)
has its own session folder and is never touched.
"""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from ..atomic import write_atomic
from ..errors import UsageError

RECORD = "ray.json"
GRACE_S = 5.0  # SIGTERM first; what still runs after this gets SIGKILL


def _psutil():
    import ray  # noqa: F401  (puts its bundled psutil on the path)
    import psutil

    return psutil


def _identity(pid: int) -> dict | None:
    psutil = _psutil()
    try:
        proc = psutil.Process(pid)
        return {"pid": pid, "created": proc.create_time(), "name": proc.name()}
    except psutil.Error:
        return None


def record_local_ray(out: Path) -> None:
    """Write OUT/ray.json for the local Ray that `ray.init` just started in this process."""
    import ray

    node = ray._private.worker._global_node
    if node is None:
        return
    pids = [info.process.pid for infos in node.all_processes.values() for info in infos
            if info.process is not None]
    processes = [_identity(pid) for pid in pids + _descendants(pids)]
    text = json.dumps({"host": socket.gethostname(), "driver": _identity(os.getpid()),
                       "session_dir": node.get_session_dir_path(),
                       "processes": [p for p in processes if p]}, indent=1)
    write_atomic(out, RECORD, lambda f: f.write(text.encode()))


def _descendants(pids: list) -> list:
    """The pids under `pids` now (the raylet's agents, which outlive it when it is killed)."""
    psutil = _psutil()
    found = []
    for pid in pids:
        try:
            found += [child.pid for child in psutil.Process(pid).children(recursive=True)]
        except psutil.Error:
            pass
    return found


def _using_session(session_dir: str | None) -> list:
    """This user's processes holding a file open inside `session_dir` (their logs): what the
    killed Ray started after the record was written.  Another Ray's processes never do."""
    psutil = _psutil()
    if not session_dir or not Path(session_dir).name.startswith("session_"):
        return []
    prefix = str(Path(session_dir)) + os.sep
    found = []
    for proc in psutil.process_iter(["uids"]):
        try:
            if proc.pid == os.getpid() or proc.info["uids"] is None or proc.info["uids"].real != os.getuid():
                continue
            if any(f.path.startswith(prefix) for f in proc.open_files()):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def forget_local_ray(out: Path) -> None:
    """This sweep's Ray has been shut down: nothing is left to clean."""
    record = _read(out)
    if record is not None and (record.get("driver") or {}).get("pid") == os.getpid():
        (Path(out) / RECORD).unlink(missing_ok=True)


def _read(out: Path) -> dict | None:
    try:
        record = json.loads((Path(out) / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _alive(entry) -> object | None:
    """The psutil.Process of a recorded {pid, created}, if that very process still runs."""
    psutil = _psutil()
    try:
        proc = psutil.Process(int(entry["pid"]))
        if abs(proc.create_time() - float(entry["created"])) < 0.01 and proc.status() != psutil.STATUS_ZOMBIE:
            return proc
    except (psutil.Error, KeyError, TypeError, ValueError):
        pass
    return None


def _running(proc) -> bool:
    """Still running (a zombie has ended; where nobody reaps it, waiting for it would not end)."""
    psutil = _psutil()
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def clean_leftovers(out: Path) -> list:
    """End the local Ray processes a killed sweep of OUT left on this host; returns their
    descriptions ("raylet (pid 123)").  A sweep of OUT still running is a UsageError."""
    record = _read(out)
    if record is None or record.get("host") != socket.gethostname():
        return []
    driver = _alive(record.get("driver") or {})
    if driver is not None and driver.pid == os.getpid():
        return []  # this very process: its Ray is running, not left over
    if driver is not None:
        raise UsageError(f"--out {out}: the sweep of pid {driver.pid} on this host is still running "
                         f"there; wait for it to end (or stop it), then continue with --resume")
    psutil = _psutil()
    victims = {}
    for entry in record.get("processes", []):
        proc = _alive(entry)
        if proc is None:
            continue
        try:
            for child in proc.children(recursive=True):
                victims.setdefault(child.pid, child)
        except psutil.Error:
            pass
        victims[proc.pid] = proc
    for proc in _using_session(record.get("session_dir")):
        victims.setdefault(proc.pid, proc)
    victims = {pid: proc for pid, proc in victims.items() if _running(proc)}
    ended = []
    for proc in victims.values():
        try:
            ended.append(f"{proc.name()} (pid {proc.pid})")
            proc.terminate()
        except psutil.Error:
            pass
    _, still = psutil.wait_procs(list(victims.values()), timeout=GRACE_S)
    for proc in still:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(still, timeout=GRACE_S)
    (Path(out) / RECORD).unlink(missing_ok=True)
    return ended
