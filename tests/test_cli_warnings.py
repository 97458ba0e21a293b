"""A warning reaches the user as one line, never with a line of source code (issue 17, item 12)."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = '''\
import sys
import numpy as np
from rnnalg import cli
from rnnalg.commands import check


def overflowing(args):
    big = np.full(3, 3e38, dtype=np.float32)
    return int(np.isinf(big * np.float32(10)).all()) - 1  # 0: the overflow happened


check.run = overflowing
sys.exit(cli.main(["check", "examples/rnn.rnn"]))
'''


def test_a_numpy_runtime_warning_is_one_line_without_source(tmp_path):
    """Run as a user would (Python's own warning display, not pytest's capture)."""
    script = tmp_path / "overflow.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("PYTHONWARNINGS", None)
    proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "warning: overflow encountered in multiply (RuntimeWarning, overflow.py:9)\n"
