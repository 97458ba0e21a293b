"""Reading a data file whole, within bounds: regular files only, at most `MAX_FILE_BYTES`, and (text)
no line longer than `MAX_LINE_BYTES`.

A FIFO, a device or a socket given as a data file would block, or never end (`/dev/zero`); it is
refused before a byte is read (the file is opened non-blocking, then `fstat` says what it is).
The size is checked before reading; the line length while reading, chunk by chunk, so a huge
one-line file is refused after `MAX_LINE_BYTES`, not after all of it is in memory.
"""
from __future__ import annotations

import os
import stat

import numpy as np

from ..errors import DataError

MAX_FILE_BYTES = 256 << 20  # 256 MiB: Penn Treebank's largest file is 10 MB, MuseData's JSON 4.9 MB
MAX_LINE_BYTES = 16 << 20  # 16 MiB per line of a text file (PTB's longest line: 1,035 bytes)
CHUNK = 1 << 20

# stat's test -> what the file is, for the message
KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
         (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
         (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    return next((what for test, what in KINDS if test(mode)), "not a regular file")


def read_bytes(path: str, max_line_bytes: int | None = None, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the regular file `path`; a DataError (naming the file, and the line for a
    long one) for anything else, a file over `max_bytes`, or a line over `max_line_bytes`."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block here
    except OSError as err:
        raise DataError(path, f"cannot read file: {err.strerror or err}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise DataError(path, f"is {_kind(info.st_mode)}, not a regular file; give a data file")
    with os.fdopen(fd, "rb", buffering=0) as f:
        _check_size(path, info.st_size, max_bytes)
        os.set_blocking(fd, True)
        return _read_bounded(f, path, max_line_bytes, max_bytes)


def _check_size(path: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise DataError(path, f"file has {size:,} bytes, more than the {max_bytes:,} "
                        f"({max_bytes >> 20} MiB) a data file may have; split it into smaller files")


def _read_bounded(f, path: str, max_line_bytes: int | None, max_bytes: int) -> bytes:
    chunks, total = [], 0
    line, run = 1, 0  # the current line's number and its bytes so far
    while chunk := f.read(CHUNK):
        total += len(chunk)
        _check_size(path, total, max_bytes)  # it grew while being read
        if max_line_bytes is not None:
            line, run = _check_lines(chunk, line, run, path, max_line_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def _check_lines(chunk: bytes, line: int, run: int, path: str, limit: int) -> tuple[int, int]:
    """(line, run) after `chunk`; a DataError at the first line longer than `limit` bytes."""
    ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == ord("\n"))
    if not len(ends):
        lengths = np.array([run + len(chunk)])
    else:  # the line carried in, the lines inside the chunk, and the start of the next one
        lengths = np.concatenate([[run + ends[0]], np.diff(ends) - 1, [len(chunk) - ends[-1] - 1]])
    if lengths.max() > limit:
        k = int(np.argmax(lengths > limit))
        raise DataError(path, f"line is longer than {limit:,} bytes ({limit >> 20} MiB), the most a line "
                        "of a text data file may have; break the text into lines", f"line {line + k}")
    return line + len(ends), int(lengths[-1])
