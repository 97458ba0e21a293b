"""The shared data folder for the tests that compare against it.

It is $RNNALG_DATA if set, else ../shared/data beside the repository (the CI layout).  A
test that needs it skips when it is missing, except under CI=true, where it fails: CI must
never pass by skipping the checks against the real data.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RNNALG_DATA") or ROOT.parent / "shared" / "data")


def shared_data(*required: str) -> Path:
    """SHARED, once it is known to hold `required` (default README.md); else skip / fail."""
    missing = [r for r in required or ("README.md",) if not (SHARED / r).exists()]
    if missing:
        message = (f"the shared data folder {SHARED} lacks {', '.join(missing)} "
                   "(set RNNALG_DATA to the folder holding music/, ptb/, ptb_char/)")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return SHARED
