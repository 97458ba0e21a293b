"""Atomic file writes: a temporary file in the target folder, fsync, then one rename.

A crash (or Ctrl-C) leaves either the old file or the new one, never half of one; the
new file gets the usual mode (0666 minus the umask), not the 0600 of `mkstemp`.

The temporary file is `.<name>.<host>-<pid>.<random>.tmp`. A process killed outright (SIGKILL,
out of memory) cannot remove its own; the next atomic write into that folder from the same
host removes every such file whose writer is no longer running.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import tempfile
from pathlib import Path

_TEMP = re.compile(r"^\..+\.(?P<host>[^.]+)-(?P<pid>\d+)\.[^.]+\.tmp$")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(directory, final_name: str, write, keep_existing: bool = False) -> None:
    """Call `write(fileobj)` (binary) on a temporary file in `directory`, then rename it to `final_name`.
    With `keep_existing`, a `final_name` that another process created meanwhile stands (the new file
    is linked in only where none exists): a file others may already have read keeps its stamp."""
    directory = Path(directory)
    remove_stale_temporaries(directory)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{final_name}.{_host()}-{os.getpid()}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if not (keep_existing and _linked(tmp, directory / final_name)):
            os.replace(tmp, directory / final_name)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_atomic_all(files: dict) -> None:
    """Write every file of `files` ({path: bytes}) or none: each to a temporary file beside it
    first, then all renamed into place with SIGINT and SIGTERM held back until the last rename,
    so an error or a Ctrl-C while they are written leaves none of them (a file that stood at a
    path keeps its old content).  A path that is a folder is an IsADirectoryError before any
    write; an OSError names its path (`err.filename`)."""
    paths = [Path(path) for path in files]
    for path in paths:
        if path.is_dir():
            raise IsADirectoryError(21, "Is a directory", str(path))
    temporaries = []
    try:
        for path, data in zip(paths, files.values()):
            remove_stale_temporaries(path.parent or ".")
            try:
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{_host()}-{os.getpid()}.", suffix=".tmp")
                temporaries.append(tmp)
                os.chmod(tmp, 0o666 & ~_umask())
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as err:
                err.filename = str(path)  # the file meant, not its temporary
                raise
        mask = getattr(signal, "pthread_sigmask", None)  # POSIX; elsewhere the renames go unguarded
        held = mask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM}) if mask else None
        try:
            for tmp, path in zip(temporaries, paths):
                os.replace(tmp, path)
        finally:
            if mask:
                mask(signal.SIG_SETMASK, held)  # a Ctrl-C meanwhile arrives now
    except BaseException:
        for tmp in temporaries:
            if os.path.exists(tmp):
                os.unlink(tmp)
        raise


def _linked(tmp: str, final: Path) -> bool:
    """Link `tmp` in as `final` unless `final` exists (then it stands); `tmp` is removed.  False where
    the file system has no hard links: the caller renames instead."""
    try:
        os.link(tmp, final)
    except FileExistsError:
        pass
    except OSError:
        return False
    os.unlink(tmp)
    return True


def _host() -> str:
    """This host's name as a temporary file may hold it (no dots, so the name parses back)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname()) or "host"


def pid_running(pid: int) -> bool:
    """Whether process `pid` exists on this host (another user's counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # it exists (another user's), or cannot be asked: keep its file
    return True


def remove_stale_temporaries(directory) -> list[Path]:
    """Remove this host's temporary files in `directory` whose writing process has ended; returns them."""
    removed = []
    host = _host()
    try:
        names = [entry.name for entry in os.scandir(directory) if entry.name.endswith(".tmp")]
    except OSError:
        return removed  # mkstemp reports an unusable folder
    for name in names:
        match = _TEMP.match(name)
        if match and match["host"] == host and not pid_running(int(match["pid"])):
            try:
                (Path(directory) / name).unlink()
                removed.append(Path(directory) / name)
            except OSError:
                pass  # gone already (another writer cleaned it) or not ours to remove
    return removed


def writable_reason(directory) -> str | None:
    """None if a file can be created in `directory` (tried, then removed), else why not."""
    directory = Path(directory)
    if not directory.is_dir():
        return "no such folder" if not directory.exists() else "not a folder"
    try:
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        return err.strerror or str(err)
    return None
