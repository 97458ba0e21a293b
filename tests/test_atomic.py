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


def _ended_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    """SIGKILL leaves `.name.<host>-<pid>.<random>.tmp`; the next atomic write into the folder removes
    it, and keeps a running writer's temporary, another host's, and files that are not temporaries."""
    from rnnalg.atomic import _host

    dead = tmp_path / f".best-0a1b.npz.{_host()}-{_ended_pid()}.k3x_9q.tmp"
    live = tmp_path / f".last.json.{_host()}-{os.getpid()}.a8c2zz.tmp"
    other_host = tmp_path / f".last.json.{_host()}x-{_ended_pid()}.a8c2zz.tmp"
    mine = tmp_path / "notes.tmp"
    for path in (dead, live, other_host, mine):
        path.write_bytes(b"half")
    write_atomic(tmp_path, "out.bin", lambda f: f.write(b"abc"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [live.name, other_host.name, mine.name, "out.bin"])


def test_sigkill_during_a_write_leaves_a_temporary_the_next_write_removes(tmp_path):
    import signal
    import subprocess
    import sys

    code = ("import sys, time; from rnnalg.atomic import write_atomic\n"
            "def slow(f):\n    f.write(b'x' * 1000); f.flush(); print('writing', flush=True); time.sleep(60)\n"
            f"write_atomic({str(tmp_path)!r}, 'data.bin', slow)\n")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "writing"
    child.send_signal(signal.SIGKILL)
    child.wait()
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".data.bin.") and left[0].endswith(".tmp")
    write_atomic(tmp_path, "data.bin", lambda f: f.write(b"whole"))
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]
    assert (tmp_path / "data.bin").read_bytes() == b"whole"


def test_keep_existing_leaves_a_file_another_process_created_meanwhile_as_it_was(tmp_path):
    """Two processes writing one kernel file at once (backend.load_kernels): the second's write
    must not replace the first's, whose time numba's cache index already holds."""
    def racing(f):  # the other process creates the file while this one writes its temporary
        f.write(b"mine")
        (tmp_path / "kernels.py").write_bytes(b"theirs")
        os.utime(tmp_path / "kernels.py", (1_000_000, 1_000_000))

    write_atomic(tmp_path, "kernels.py", racing, keep_existing=True)
    assert [p.name for p in tmp_path.iterdir()] == ["kernels.py"]  # no temporary left
    assert (tmp_path / "kernels.py").read_bytes() == b"theirs"
    assert (tmp_path / "kernels.py").stat().st_mtime == 1_000_000
    write_atomic(tmp_path, "fresh.py", lambda f: f.write(b"new"), keep_existing=True)
    assert (tmp_path / "fresh.py").read_bytes() == b"new"
    write_atomic(tmp_path, "kernels.py", lambda f: f.write(b"mine"))  # without: replaced, as before
    assert (tmp_path / "kernels.py").read_bytes() == b"mine"
