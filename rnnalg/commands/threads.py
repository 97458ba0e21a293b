"""The BLAS thread count of the commands that compute with a trained run (`eval`, `sample`).

The last bits of a float32 figure depend on how many threads OpenBLAS splits a product over, so
such a command runs on the count the run was trained with (its checkpoint records it under
`config.threads`) unless `--threads N` says otherwise, and says which count it used.
"""
from __future__ import annotations

import argparse

from ..train import numerics


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, metavar="N",
                        help="BLAS threads (default: the count the run was trained with, as its "
                             "checkpoint records it)")


def trained_threads(given: int | None, recorded: int | None) -> tuple:
    """(BLAS threads to compute on, None: the BLAS's own count; where that count comes from)."""
    if given is not None:
        return given, "(--threads)"
    if recorded is not None:
        return recorded, "(as trained)"
    return None, "(the BLAS's own: the checkpoint records none)"


def describe_threads(threads: int | None, source: str) -> str:
    """'BLAS threads 1 (as trained)': the count used inside `numerics.blas_threads_set(threads)`."""
    used = threads if threads is not None else numerics.blas_threads()
    return f"BLAS threads {used if used is not None else 'unknown'} {source}"
