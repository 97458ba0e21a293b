"""What a sweep refuses or warns about before any trial runs (issue 17, items 1, 5, 6, 11, 12),
and the parts behind it: the results lock, the lines of other sweeps, a killed sweep's Ray."""
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnnalg.cli import main
from rnnalg.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
TINY = f"""\
[sweep]
datasets = ["jsb"]

[train]
epochs = 1

[model.rnn]
spec = "{EXAMPLES / 'rnn.rnn'}"
set = {{ H = 8 }}
"""


def write(tmp_path, text, name="s.toml", bom=False):
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


# ---- item 6: the trial count is capped, also under --dry-run ---------------------------------------------

def test_a_huge_trial_count_is_refused_at_once_even_with_dry_run(tmp_path):
    path = write(tmp_path, TINY.replace("[train]", "[train]\nlr = { loguniform = [1e-4, 1e-2] }")
                 .replace("[sweep]", "[sweep]\nsamples = 100000000"), name="music.toml")
    started = time.monotonic()
    try:  # a subprocess, so that the old code (which grows memory without output) cannot hang the suite
        done = subprocess.run([sys.executable, "-m", "rnnalg", "sweep", str(path), "--dry-run"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60, env=_env())
    except subprocess.TimeoutExpired:
        pytest.fail("sweep --dry-run of samples = 100000000 ran for a minute without an answer")
    assert time.monotonic() - started < 60
    assert done.returncode == 1 and done.stdout == ""
    assert "music.toml: line 2: sweep.samples: error: the file gives 100,000,000 trials" in done.stderr
    assert "at most 10,000" in done.stderr and "Traceback" not in done.stderr


def test_the_cap_counts_grid_points_and_samples_per_model(tmp_path):
    from rnnalg.sweep.sweepfile import load_sweep
    from rnnalg.sweep.trials import MAX_TRIALS, count_trials, expand

    grid = TINY.replace("[train]", "[train]\nweight_noise = [0.0, 0.01, 0.02]\nlr = { uniform = [0.001, 0.01] }") \
        .replace("[sweep]", "[sweep]\nsamples = 4\nseeds = [1, 2]")
    sweep = load_sweep(write(tmp_path, grid.replace("samples = 4", "samples = 4\nsearch_seed = 1")))
    assert count_trials(sweep) == len(expand(sweep)) == 3 * 4 * 2
    big = grid.replace("samples = 4", f"samples = {MAX_TRIALS // 6 + 1}")
    with pytest.raises(Exception, match=r"s\.toml: sweep: error: the file gives 10,002 trials"):
        expand(load_sweep(write(tmp_path, big)))


def test_two_samples_that_draw_the_same_values_are_one_trial(tmp_path):
    """search_seed 0 draws lr 0.00901 twice at wn0.01 (3 significant digits): was an AssertionError."""
    from rnnalg.sweep.sweepfile import load_sweep
    from rnnalg.sweep.trials import count_trials, expand

    grid = TINY.replace("[train]", "[train]\nweight_noise = [0.0, 0.01, 0.02]\nlr = { uniform = [0.001, 0.01] }") \
        .replace("[sweep]", "[sweep]\nsamples = 4\nseeds = [1, 2]")
    sweep = load_sweep(write(tmp_path, grid))
    ids = [t.id for t in expand(sweep)]
    assert len(ids) == len(set(ids)) == count_trials(sweep) - 2
    assert ids.count("rnn-jsb-wn0.01-lr0.00901-s1") == 1


# ---- item 2: results lines say which data they used ----------------------------------------------------

def test_a_dataset_given_by_path_is_labelled_by_its_path_and_fingerprinted_by_its_data(tmp_path):
    """A file called jsb.npz holding Nottingham's pieces: labelled "data/jsb.npz", not jsb, and its
    fingerprint is Nottingham's (so a report cannot put it beside the paper's JSB figure)."""
    import shutil

    from rnnalg.data.fingerprint import KNOWN_FINGERPRINTS
    from rnnalg.data.registry import embedded_path
    from rnnalg.sweep.results import data_fields
    from rnnalg.sweep.sweepfile import load_sweep
    from rnnalg.sweep.trials import expand

    (tmp_path / "data").mkdir()
    shutil.copy(embedded_path("nottingham"), tmp_path / "data" / "jsb.npz")
    for datasets, label, known in (('["data/jsb.npz"]', "data/jsb.npz", "nottingham"), ('["JSB"]', "jsb", "jsb")):
        sweep = load_sweep(write(tmp_path, TINY.replace('datasets = ["jsb"]', f"datasets = {datasets}")))
        trials = expand(sweep)
        assert data_fields(trials, sweep.shown, None) == {
            trials[0].id: {"data_label": label, "data_fingerprint": KNOWN_FINGERPRINTS[known]}}


def test_the_sweeps_table_names_a_dataset_file_by_its_path():
    from rnnalg.sweep.results import format_table

    line = {"trial": {"id": "rnn-jsb-s1", "dataset_label": "jsb", "label": "RNN", "config_id": "rnn-jsb"},
            "status": "ok", "test": 3.3, "best_valid": 3.2, "metric": "nll", "params": 5, "seconds": 1.0,
            "data_label": "data/jsb.npz"}
    assert format_table([line]).splitlines()[1].startswith("data/jsb.npz  RNN ")


def test_data_that_does_not_load_has_no_fingerprint(tmp_path):
    """(`rnnalg sweep` stops before any trial on such a file: test_sweep_file.py.)"""
    from rnnalg.sweep.results import data_fields
    from rnnalg.sweep.sweepfile import load_sweep
    from rnnalg.sweep.trials import expand

    (tmp_path / "broken.json").write_text("{not json")
    sweep = load_sweep(write(tmp_path, TINY.replace('datasets = ["jsb"]', 'datasets = ["broken.json"]')))
    [fields] = data_fields(expand(sweep), sweep.shown, None).values()
    assert fields == {"data_label": "broken.json", "data_fingerprint": None}


# ---- item 12: messages -------------------------------------------------------------------------------

def test_an_unknown_set_size_names_the_file_and_key(tmp_path, capsys):
    path = write(tmp_path, TINY.replace("H = 8", "H = 8, Q = 3"), name="music.toml")
    assert main(["sweep", str(path), "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "music.toml: line 9: model.rnn.set.Q: error: unknown size 'Q'" in err and "defines H" in err


def test_a_sweep_file_with_a_byte_order_mark_is_read(tmp_path, capsys):
    path = write(tmp_path, TINY, bom=True)
    assert main(["sweep", str(path), "--dry-run"]) == 0
    assert "rnn-jsb-s1234  1,568 parameters" in capsys.readouterr().out


def test_a_sweep_file_that_is_not_utf8_is_a_located_error(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_bytes(TINY.encode().replace(b"[train]", b"# caf\xe9\n[train]"))
    assert main(["sweep", str(path), "--dry-run"]) == 1
    assert "s.toml: error: not UTF-8 text: byte 0xe9" in capsys.readouterr().err


def test_more_cpus_than_cores_is_a_warning(tmp_path, capsys):
    pytest.importorskip("ray")
    path = write(tmp_path, TINY)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "sweep.json").write_text("{}")  # so the sweep stops right after its checks
    cores = os.cpu_count()
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--cpus", str(cores + 62)]) == 2
    err = capsys.readouterr().err
    assert f"warning: --cpus {cores + 62} is more than this machine's {cores} cores" in err
    assert "already holds a sweep" in err


# ---- item 5: an address where nothing listens fails at once and leaves --out free -----------------------

def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_address_where_nothing_listens_fails_within_seconds(tmp_path):
    pytest.importorskip("ray")
    path = write(tmp_path, TINY)
    out = tmp_path / "out"
    address = f"127.0.0.1:{_free_port()}"
    for attempt in (1, 2):  # the second: --out is free, the same command does not ask for --resume or --force
        started = time.monotonic()
        try:  # a subprocess: Ray itself retries such an address for ever (it did, before the probe)
            done = subprocess.run([sys.executable, "-m", "rnnalg", "sweep", str(path), "--out", str(out),
                                   "--address", address], capture_output=True, text=True, timeout=60, env=_env())
        except subprocess.TimeoutExpired:
            pytest.fail(f"sweep --address {address} (nothing listening) ran for a minute")
        assert time.monotonic() - started < 30
        assert done.returncode == 1, done.stderr
        assert f"could not reach the Ray cluster at {address}" in done.stderr
        assert "Connection refused" in done.stderr and "already holds" not in done.stderr
        assert not out.exists() and "sweep " not in done.stdout  # refused before anything was written


def test_a_cluster_that_listens_on_loopback_only_is_named_as_ray_dials_it():
    """Ray dials 127.0.0.1:PORT of a cluster as this machine's own address; a GCS bound to the
    loopback only is not there, and Ray retried that for ever."""
    pytest.importorskip("ray")
    from rnnalg.errors import SweepRunError
    from rnnalg.sweep.connect import _ray_host, check_address

    if _ray_host("127.0.0.1") in ("127.0.0.1", "localhost"):
        pytest.skip("this machine has no address but the loopback")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with pytest.raises(SweepRunError, match=rf"at 127\.0\.0\.1:{port}: .* at {_ray_host('127.0.0.1')}:{port} "
                                                r"\(Ray dials 127\.0\.0\.1 as this machine's address\)"):
            check_address(f"127.0.0.1:{port}")


def test_a_ray_client_address_without_ray_client_says_what_to_install(tmp_path, capsys, monkeypatch):
    pytest.importorskip("ray")
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "grpc" else real(name, *a))
    path = write(tmp_path, TINY)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--address", "ray://127.0.0.1:1"]) == 1
    assert "pip install 'ray[client]'" in capsys.readouterr().err


def test_the_sweep_extra_has_ray_client():
    text = (ROOT / "setup.cfg").read_text()
    extra = text.split("sweep =", 1)[1].split("\n\n", 1)[0]
    assert "ray[tune,client]" in extra


# ---- a results file without a line: one rule for the sweep's refusal and the runner's removal ----------

def test_a_results_file_holds_no_lines_when_it_is_blank(tmp_path):
    """`rnnalg sweep` refuses to write over a results file unless it holds no lines, and the runner
    removes such a file: one rule (it was two, which disagreed on a line of Unicode spaces: the
    sweep refused the file as holding results, the runner removed it as empty)."""
    from rnnalg.sweep.results import holds_no_lines

    cases = {"empty": b"", "blank": b"\n  \n\t\r\n", "unicode-blank": " \u00a0\u2003\n".encode(),
             "one-line": b'{"trial": {"id": "a"}, "status": "ok"}\n', "not-utf8": b"\xff\n"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "folder").mkdir()
    assert {name: holds_no_lines(tmp_path / name) for name in [*cases, "folder", "missing"]} == {
        "empty": True, "blank": True, "unicode-blank": True,
        "one-line": False, "not-utf8": False, "folder": False, "missing": False}


# ---- item 1: the results lock -----------------------------------------------------------------------

def _lock(tmp_path, name="results.jsonl"):
    from rnnalg.sweep.lock import ResultsLock

    return ResultsLock(tmp_path / name, tmp_path / "out")


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_lock_names_its_holder_and_refuses_a_second_sweep(tmp_path):
    first = _lock(tmp_path)
    first.acquire()
    holder = json.loads((tmp_path / "results.jsonl.lock").read_text())
    assert (holder["host"], holder["pid"]) == (socket.gethostname(), os.getpid())
    second = _lock(tmp_path)
    second.mine["pid"] += 1  # another process of this host
    with pytest.raises(UsageError, match=rf"in use by the sweep of pid {os.getpid()} on host "
                                         rf"{socket.gethostname()} since .*--out .*out\)"):
        second.acquire()
    first.release()
    assert not (tmp_path / "results.jsonl.lock").exists()
    second.acquire()  # free again
    second.release()


def test_a_lock_of_a_dead_local_sweep_is_taken_over(tmp_path):
    lock = tmp_path / "results.jsonl.lock"
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": _dead_pid(), "started": "x", "out": "o"}))
    with _lock(tmp_path) as taken:
        assert json.loads(lock.read_text())["pid"] == os.getpid() and taken.held
    assert not lock.exists() and not list(tmp_path.glob("*.stale"))


def test_a_lock_of_another_host_is_refused_naming_the_file_to_remove(tmp_path):
    lock = tmp_path / "results.jsonl.lock"
    lock.write_text(json.dumps({"host": "node-7", "pid": _dead_pid(), "started": "then", "out": "/shared/o"}))
    with pytest.raises(UsageError, match=r"pid \d+ on host node-7 since then .*if that sweep is no longer "
                                         r"running, remove .*results\.jsonl\.lock"):
        _lock(tmp_path).acquire()
    assert lock.exists()  # not ours to remove


WRITER = """
import json, sys, time
from pathlib import Path
from rnnalg.errors import UsageError
from rnnalg.sweep.lock import ResultsLock
from rnnalg.sweep.results import read_lines, write_lines
results, name, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
written = 0
while written < n:
    try:
        with ResultsLock(results, results.parent):
            lines = read_lines(results) if results.exists() else []
            time.sleep(0.002)  # widen the window a lost update needs
            write_lines(results, lines + [{"trial": {"id": f"{name}-{written}"}, "status": "ok"}])
            written += 1
    except UsageError:
        time.sleep(0.001)
"""


def test_two_real_concurrent_writers_under_the_lock_lose_no_line(tmp_path):
    results = tmp_path / "results.jsonl"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(results), name, "40"], env=_env())
               for name in ("a", "b")]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    ids = [json.loads(line)["trial"]["id"] for line in results.read_text().splitlines()]
    assert sorted(ids) == sorted([f"{n}-{i}" for n in "ab" for i in range(40)])


def test_a_resumed_sweep_keeps_the_lines_of_other_sweeps_in_its_results_file(tmp_path):
    pytest.importorskip("ray")
    from rnnalg.sweep.runner import Recorder, own_line

    out = tmp_path / "out"
    other = {"trial": {"id": "rnn-jsb-s1"}, "status": "ok", "run_dir": str(tmp_path / "elsewhere/runs/rnn-jsb-s1")}
    mine = {"trial": {"id": "rnn-jsb-s1"}, "status": "ok", "run_dir": str(out / "runs/rnn-jsb-s1")}
    assert not own_line(other, out, {"rnn-jsb-s1"}) and own_line(mine, out, {"rnn-jsb-s1"})
    rec = Recorder(tmp_path / "results.jsonl", ["rnn-jsb-s1"], {}, {"rnn-jsb-s1": mine}, pruning=False,
                   foreign=[other])
    rec.write()
    assert [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()] == [other, mine]


# ---- item 11: a killed sweep's local Ray is ended by the next sweep of its OUT, and nothing else ----------

SLEEPER = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); " \
          "open(sys.argv[1], 'w').close(); time.sleep(300)"


def test_the_processes_a_killed_sweep_recorded_are_ended_and_no_others(tmp_path):
    pytest.importorskip("ray")
    import psutil

    from rnnalg.sweep.leftovers import RECORD, clean_leftovers

    session = tmp_path / "session_2026-01-01_00-00-00_0_1"
    session.mkdir()
    ready = session / "ready"
    recorded = subprocess.Popen([sys.executable, "-c", SLEEPER, str(ready)])  # "raylet" and its "worker"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; f = open(sys.argv[1], 'w'); "
                               "time.sleep(300)", str(session / "agent.log")])  # an "agent" with a session log
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])  # another Ray's
    try:
        for _ in range(200):
            if ready.exists() and (session / "agent.log").exists() and psutil.Process(recorded.pid).children():
                break
            time.sleep(0.05)
        worker = psutil.Process(recorded.pid).children()[0]
        entry = lambda p: {"pid": p.pid, "created": psutil.Process(p.pid).create_time(), "name": "x"}  # noqa: E731
        reused = {"pid": bystander.pid, "created": psutil.Process(bystander.pid).create_time() - 100, "name": "x"}
        out = tmp_path / "out"
        out.mkdir()
        (out / RECORD).write_text(json.dumps({
            "host": socket.gethostname(), "driver": {"pid": _dead_pid(), "created": 1.0},
            "session_dir": str(session), "processes": [entry(recorded), reused]}))
        ended = clean_leftovers(out)
        assert len(ended) == 3 and not (out / RECORD).exists()
        for proc in (recorded, holder):
            assert proc.wait(timeout=15) is not None
        assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE
        assert bystander.poll() is None  # its pid was recorded with another start time: not the same process
    finally:
        for proc in (recorded, holder, bystander):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_leftovers_of_another_host_are_not_touched(tmp_path):
    pytest.importorskip("ray")
    from rnnalg.sweep.leftovers import RECORD, clean_leftovers

    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        import psutil

        (tmp_path / RECORD).write_text(json.dumps({
            "host": "node-7", "driver": {"pid": _dead_pid(), "created": 1.0}, "session_dir": None,
            "processes": [{"pid": bystander.pid, "created": psutil.Process(bystander.pid).create_time()}]}))
        assert clean_leftovers(tmp_path) == [] and bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()
