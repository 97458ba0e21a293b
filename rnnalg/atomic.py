"""Atomic file writes: a temporary file in the target folder, fsync, then one rename.

A crash (or Ctrl-C) leaves either the old file or the new one, never half of one; the
new file gets the usual mode (0666 minus the umask), not the 0600 of `mkstemp`.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(directory, final_name: str, write) -> None:
    """Call `write(fileobj)` (binary) on a temporary file in `directory`, then rename it to `final_name`."""
    directory = Path(directory)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{final_name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, directory / final_name)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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
