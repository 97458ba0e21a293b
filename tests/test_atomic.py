"""Atomic writes leave the usual file mode and nothing half-written."""
import os
import stat

import pytest

from rnnalg.atomic import write_atomic


def test_new_file_gets_the_usual_mode(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path, "out.bin", lambda f: f.write(b"abc"))
    finally:
        os.umask(old)
    assert (tmp_path / "out.bin").read_bytes() == b"abc"
    assert stat.S_IMODE((tmp_path / "out.bin").stat().st_mode) == 0o644


def test_a_failing_write_keeps_the_old_file_and_no_temporary(tmp_path):
    (tmp_path / "out.bin").write_bytes(b"old")

    def fail(f):
        f.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path, "out.bin", fail)
    assert (tmp_path / "out.bin").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
