"""Reaching Ray: a local Ray started for the sweep, or a cluster at `--address`.

Every wait has a bound: a cluster address is probed (TCP, `PROBE_S` seconds) before Ray is
asked, as Ray itself retries an address where nothing answers for ever, and dials a loopback
address as this machine's own (so `127.0.0.1:PORT` of a cluster bound to 127.0.0.1 only would
hang); a local Ray that does not come up is tried `STARTS` times.  Once Ray runs, SIGTERM is
made to act as Ctrl-C (Tune ends the experiment, the sweep prints its `--resume` command).
"""
from __future__ import annotations

import logging
import os

from ..errors import SweepRunError, UsageError

STARTS = 3  # a local Ray gives up after 30 s without its raylet (hard-coded); on a loaded machine, retry
PROBE_S = 5.0  # seconds to wait for a cluster's port to answer


def check_address(address: str) -> None:
    """Fail at once, naming the address, when nothing answers at a cluster's HOST:PORT, or
    when `ray://` lacks Ray Client; Ray itself would retry for ever (or 45 s, logging another
    address).  `auto` is left to Ray."""
    import importlib.util
    import socket

    hostport = address.split("://", 1)[1] if "://" in address else address
    if address.startswith("ray://") and importlib.util.find_spec("grpc") is None:
        raise SweepRunError(f"rnnalg sweep: error: --address {address}: a ray:// address needs Ray Client, "
                            f"which is not installed: pip install 'ray[client]' (or 'rnnalg[sweep]')")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        if address != "auto" and not address.startswith("ray://"):  # ray://HOST: Ray Client's own port
            raise UsageError(f"--address {address}: expected HOST:PORT, ray://HOST:PORT or auto")
        return
    host = host.strip("[]")
    # for a cluster's GCS, Ray dials this machine's own address for 127.0.0.1 / localhost: probe that too
    dialled_by_ray = host if address.startswith("ray://") else _ray_host(host)
    for dialled in dict.fromkeys([host, dialled_by_ray]):
        try:
            socket.create_connection((dialled, int(port)), timeout=PROBE_S).close()
        except OSError as err:
            reason = "timed out" if isinstance(err, TimeoutError) else (err.strerror or str(err))
            via = "" if dialled == host else f" at {dialled}:{port} (Ray dials {host} as this machine's address)"
            raise SweepRunError(f"rnnalg sweep: error: could not reach the Ray cluster at {address}: "
                                f"{reason}{via}; is `ray start --head` running there?") from None


def _ray_host(host: str) -> str:
    """The host Ray connects to for `host` (it replaces a loopback address by the node's IP)."""
    try:
        from ray._private.services import resolve_ip_for_localhost

        return resolve_ip_for_localhost(host)
    except Exception:  # a private helper of Ray: if it moves, probe the host as given
        return host


def start_ray(address: str | None, cpus: int | None, threads: int) -> None:
    """Connect to a cluster (`address`) or start a local Ray with `cpus` CPUs.

    Workers get `threads` BLAS threads each (set before they import numpy), so trials
    running side by side do not oversubscribe the cores.
    """
    import ray

    if address is not None:
        check_address(address)
    env = {name: str(threads) for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # no Tune banner; the sweep prints its own lines
    if address is None:
        # Ray kills its own workers once the *machine* passes 95% memory, whoever uses it; on a
        # shared machine that killed trials of a few hundred MB.  A trial is an ordinary training
        # run: it meets the system's limits as `rnnalg train` would.
        os.environ.setdefault("RAY_memory_monitor_refresh_ms", "0")
        # Ray runs its workers at nice 15; trials are this sweep's whole work, and at 15 any other
        # process (a test run, an editor) took the cores from them: 12 epochs in 76 s instead of 40
        os.environ.setdefault("RAY_worker_niceness", "0")
    kwargs = dict(address=address, log_to_driver=False, include_dashboard=False,
                  runtime_env={"env_vars": env}, logging_level="ERROR", ignore_reinit_error=True)
    if address is None:
        kwargs["num_cpus"] = cpus or os.cpu_count()
    # a failed trial task is logged with its traceback; Tune retries it once, and a trial that
    # fails for good gets a results line and a printed line of its own
    logging.getLogger("ray.tune.execution.tune_controller").setLevel(logging.CRITICAL)
    for attempt in range(1, STARTS + 1):
        try:
            ray.init(**kwargs)
            break
        except Exception as err:  # Ray raises bare Exceptions (a node that timed out, no cluster …)
            ray.shutdown()
            if address is not None or attempt == STARTS:
                where = f"the Ray cluster at {address}" if address else "a local Ray"
                raise SweepRunError(f"rnnalg sweep: error: could not start {where}: {err}") from None
    terminate_like_interrupt()


def terminate_like_interrupt() -> None:
    """SIGTERM acts as Ctrl-C does: Tune ends the experiment, the sweep prints the `--resume`
    command.  (Ray's driver sets a SIGTERM handler of its own that exits at once, and its
    native crash handler prints a stack dump; this one replaces both.)"""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def handle(signum, frame):
        TERMINATED.append(signum)
        current = signal.getsignal(signal.SIGINT)  # Tune's own, while an experiment runs
        if callable(current) and current not in (signal.default_int_handler, handle):
            current(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handle)


TERMINATED: list = []  # the signals that asked this process to stop (SIGTERM)
