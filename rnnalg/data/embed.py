"""Build the embedded music sets (rnnalg/datasets/*.npz) from the data folder's JSON.

    python -m rnnalg.data.embed [--data-dir DIR] [-o OUTDIR] [NAME ...]

DIR defaults to $RNNALG_DATA, else ../shared/data beside the repository; NAME defaults to
every embedded set of `registry.ORIGINS`.  The arrays are deterministic (the zip
timestamps are not); tests/test_data_embedded.py checks each file against the JSON.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import DataError
from . import music
from .dataset import NAMED
from .folders import ENV
from .registry import ORIGINS, PACKAGE_DATA

EMBEDDED = tuple(name for name, origin in ORIGINS.items() if origin.embedded)


def default_data_dir() -> Path:
    return Path(os.environ.get(ENV) or PACKAGE_DATA.parents[2] / "shared" / "data")


def build(data_dir: Path, name: str, out_dir: Path = PACKAGE_DATA) -> Path:
    """Read `name`'s JSON under `data_dir` and write its compact `.npz` into `out_dir`."""
    splits = music.read_json(str(Path(data_dir) / NAMED[name].paths[0]))
    out = Path(out_dir) / ORIGINS[name].embedded
    out.parent.mkdir(parents=True, exist_ok=True)
    music.write_npz(str(out), splits)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"sets to build (default: all of {', '.join(EMBEDDED)})")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("-o", "--out-dir", type=Path, default=PACKAGE_DATA)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(EMBEDDED))
    if unknown:
        parser.error(f"not an embedded set: {', '.join(unknown)} (choose from {', '.join(EMBEDDED)})")
    for name in args.names or EMBEDDED:
        try:
            out = build(args.data_dir or default_data_dir(), name, args.out_dir)
        except DataError as err:
            print(f"{err} (pass --data-dir DIR or set {ENV}=DIR)", file=sys.stderr)
            return 1
        print(f"wrote {out} ({out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
