"""Build the embedded JSB Chorales (rnnalg/datasets/jsb_chorales.npz) from the shared JSON.

    python -m rnnalg.data.embed [--data-dir DIR] [-o OUT]

DIR defaults to $RNNALG_DATA, else ../shared/data beside the repository.  The output is
deterministic (same arrays, np.savez_compressed); tests/test_data_named.py checks the
embedded file against the JSON (`test_embedded_jsb_equals_the_json`).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from . import music
from .dataset import EMBEDDED_JSB, ENV, NAMED

PACKAGE = Path(__file__).resolve().parents[1]
DEFAULT_OUT = PACKAGE / "datasets" / EMBEDDED_JSB


def default_data_dir() -> Path:
    return Path(os.environ.get(ENV) or PACKAGE.parent.parent / "shared" / "data")


def build(data_dir: Path, out: Path = DEFAULT_OUT) -> Path:
    splits = music.read_json(str(Path(data_dir) / NAMED["jsb"].paths[0]))
    out.parent.mkdir(parents=True, exist_ok=True)
    music.write_npz(str(out), splits)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    out = build(args.data_dir or default_data_dir(), args.out)
    print(f"wrote {out} ({out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
