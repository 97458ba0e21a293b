"""Real `rnnalg sweep` processes on their own local Rays (in a temporary RAY_TMPDIR, so they
never meet another Ray of the machine): two sweeps started together with one results file, a
SIGTERM, a SIGKILL and what the next `--resume` does about it (issue 17, items 1 and 11)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def sweep_file(tmp_path, name, epochs, h=8):
    path = tmp_path / f"{name}.toml"
    path.write_text(f"""\
[sweep]
datasets = ["jsb"]
seeds = [1, 2]

[train]
epochs = {epochs}
lr = 0.01

[model.{name}]
spec = "{EXAMPLES / 'rnn.rnn'}"
set = {{ H = {h} }}
""")
    return path


@pytest.fixture
def ray_tmp():
    """A short RAY_TMPDIR of the test's own (Ray's socket paths must stay under 108 bytes)."""
    folder = tempfile.mkdtemp(prefix="rt", dir="/tmp")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def start(args, ray_tmp, log: Path):
    env = {**os.environ, "RAY_TMPDIR": ray_tmp,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    out, err = open(f"{log}.out", "w"), open(f"{log}.err", "w")
    proc = subprocess.Popen([sys.executable, "-m", "rnnalg", "sweep", *map(str, args)], env=env, stdout=out,
                            stderr=err, start_new_session=True)
    proc.log = log
    return proc


def finish(proc, timeout=240):
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"the sweep did not end within {timeout} s:\n{Path(f'{proc.log}.err').read_text()[-3000:]}")
    return code, Path(f"{proc.log}.out").read_text(), Path(f"{proc.log}.err").read_text()


def wait_for(condition, what, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"waited {timeout} s for {what}")


def epochs_done(out: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in out.glob("runs/*/metrics.jsonl"))


def lines_of(path: Path) -> list:
    return [json.loads(line) for line in path.read_text().splitlines()]


def session_users(session_dir: str) -> list:
    """Processes holding a file open in a Ray session folder."""
    import ray  # noqa: F401  (its bundled psutil)
    import psutil

    users = []
    for proc in psutil.process_iter():
        try:
            if any(f.path.startswith(session_dir + os.sep) for f in proc.open_files()):
                users.append(proc.pid)
        except psutil.Error:
            pass
    return users



def test_one_results_file_two_sweeps_a_sigterm_and_a_sigkill_lose_no_line(tmp_path, ray_tmp):
    """One flow, as each local Ray costs seconds to start: two sweeps started together with one
    results file (one is refused, naming the other), SIGTERM to the one that runs (exit 143, the
    --resume command), a SIGKILL of its resumed run (Ray's processes left behind), a resume that
    ends them and finishes, and the refused sweep run again beside it."""
    results = tmp_path / "shared" / "results.jsonl"
    files = [sweep_file(tmp_path, "a", epochs=4), sweep_file(tmp_path, "b", epochs=4, h=6)]
    runs = {f.stem: [f, "--out", tmp_path / f.stem, "--results", results, "--cpus", 1] for f in files}
    procs = {name: start(args, ray_tmp, tmp_path / name) for name, args in runs.items()}
    wait_for(lambda: any(p.poll() is not None for p in procs.values()), "one sweep to be refused", timeout=60)
    loser = next(name for name, p in procs.items() if p.poll() is not None)
    winner = "b" if loser == "a" else "a"
    code, _, err = finish(procs[loser])
    assert code == 2 and f"--results {results}: in use by the sweep of pid {procs[winner].pid} on host " in err, err
    out = tmp_path / winner

    # SIGTERM: like Ctrl-C
    wait_for(lambda: epochs_done(out) >= 1, "the first epoch")
    procs[winner].send_signal(signal.SIGTERM)
    code, printed, err = finish(procs[winner])
    assert code == 143, err
    assert f"continue with: rnnalg sweep {runs[winner][0]} --resume --out {out} --results {results} --cpus 1" \
        in printed
    assert "SIGTERM received" not in err and "***" not in err and "Traceback" not in err, err
    assert not (out / "ray.json").exists() and not results.with_name("results.jsonl.lock").exists()

    # SIGKILL: the sweep cannot clean up; the next one of the same OUT does
    second = start([*runs[winner], "--resume"], ray_tmp, tmp_path / "second")
    wait_for(lambda: (out / "ray.json").exists(), "the resumed sweep's Ray")
    session = json.loads((out / "ray.json").read_text())["session_dir"]
    before = epochs_done(out)
    wait_for(lambda: epochs_done(out) > before, "an epoch of the resumed sweep")
    second.kill()
    second.wait()
    time.sleep(2)
    left = session_users(session)  # Ray's agents outlive their killed raylet (seen: 2 of them)
    third = start([*runs[winner], "--resume"], ray_tmp, tmp_path / "third")
    code, _, err = finish(third)
    assert code == 0, err
    if left:
        assert f"Ray processes that an earlier, killed sweep of {out} left running" in err
    assert session_users(session) == []
    assert [(line["status"], line["epochs"], len(line["curve"])) for line in lines_of(results)] == \
        [("ok", 4, 4), ("ok", 4, 4)]

    # the refused sweep, run again, adds its lines to the other sweep's
    code, _, err = finish(start([*runs[loser], "--resume"], ray_tmp, tmp_path / "again"))
    assert code == 0, err
    lines = lines_of(results)
    assert [line["trial"]["id"] for line in lines] == [f"{winner}-jsb-s1", f"{winner}-jsb-s2",
                                                       f"{loser}-jsb-s1", f"{loser}-jsb-s2"]
    assert all(line["status"] == "ok" and line["data_label"] == "jsb" for line in lines)
    assert not results.with_name("results.jsonl.lock").exists()
