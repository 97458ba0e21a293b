"""`rnnalg sweep --address` on a real Ray cluster of two nodes (issue 17, item 5): Ray's own
multi-node test cluster (`ray.cluster_utils.Cluster`: a head node and a worker node, one CPU
each, as separate raylets), in a temporary RAY_TMPDIR on a free port, so that it never meets
another Ray of the machine.  The sweep runs as a separate driver process that reaches the
cluster only through `--address 127.0.0.1:PORT`."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from _shared import rnn_sweep

ray = pytest.importorskip("ray")
ROOT = Path(__file__).resolve().parents[1]


def sweep_file(folder: Path, seeds, epochs) -> Path:
    path = folder / "c.toml"
    path.write_text(rnn_sweep(epochs, seeds))
    return path


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    folder = tempfile.mkdtemp(prefix="rc", dir="/tmp")  # short: Ray's socket paths must stay < 108 bytes
    (Path(folder) / "ray").mkdir()
    saved = os.environ.get("RAY_TMPDIR")
    os.environ["RAY_TMPDIR"] = folder  # where Cluster writes its address file: not /tmp/ray
    with socket.socket() as s:
        s.bind(("", 0))
        port = s.getsockname()[1]
    nodes = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "gcs_server_port": port, "temp_dir": f"{folder}/ray", "include_dashboard": False})
    worker = nodes.add_node(num_cpus=1, temp_dir=f"{folder}/ray")
    nodes.wait_for_nodes()
    yield nodes, worker, f"127.0.0.1:{port}", Path(folder)
    nodes.shutdown()
    if saved is None:
        os.environ.pop("RAY_TMPDIR", None)
    else:
        os.environ["RAY_TMPDIR"] = saved
    shutil.rmtree(folder, ignore_errors=True)


def sweep(args, folder: Path, log: str) -> subprocess.Popen:
    env = {**os.environ, "RAY_TMPDIR": str(folder),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-m", "rnnalg", "sweep", *map(str, args)], env=env,
                            stdout=open(folder / f"{log}.out", "w"), stderr=open(folder / f"{log}.err", "w"))


def finish(proc, folder: Path, log: str, timeout=300):
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        code = "timeout"
    return code, (folder / f"{log}.out").read_text(), (folder / f"{log}.err").read_text()


def lines_of(path: Path) -> list:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_sweep_through_address_runs_on_both_nodes_and_resumes(cluster):
    nodes, worker, address, folder = cluster
    out = folder / "both"
    args = [sweep_file(folder, seeds=[1, 2, 3, 4], epochs=4), "--out", out, "--address", address]
    code, printed, err = finish(sweep(args, folder, "both"), folder, "both")
    assert code == 0, err
    assert f"Ray at {address}" in printed
    lines = lines_of(out / "results.jsonl")
    assert [line["trial"]["id"] for line in lines] == [f"rnn-jsb-s{i}" for i in (1, 2, 3, 4)]
    assert all(line["status"] == "ok" and line["epochs"] == 4 for line in lines)
    assert {line["node"] for line in lines} == {nodes.head_node.node_id, worker.node_id}

    stamps = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*.json")}
    code, printed, err = finish(sweep([*args, "--resume"], folder, "again"), folder, "again")
    assert code == 0, err
    assert lines_of(out / "results.jsonl") == lines
    assert {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*.json")} == stamps  # nothing trained again


def test_the_trials_of_a_killed_worker_node_are_retried_on_the_head_node(cluster):
    nodes, worker, address, folder = cluster
    out = folder / "killed"
    epochs = 12
    proc = sweep([sweep_file(folder, seeds=[1, 2], epochs=epochs), "--out", out, "--address", address],
                  folder, "killed")

    def training_on_worker() -> bool:
        """A trial is mid-way on the worker node: a trial actor under its raylet is in `train`
        (Tune's own result files are written late, so the processes are asked instead)."""
        import psutil

        raylet = psutil.Process(worker.all_processes["raylet"][0].process.pid)
        busy = False
        for proc in raylet.children(recursive=True):
            try:
                busy = busy or any("ImplicitFunc.train" in word for word in proc.cmdline())
            except psutil.Error:
                pass
        finished = len(list(out.glob("runs/*/result.json")))
        started = sum(len(p.read_text().splitlines()) for p in out.glob("runs/*/metrics.jsonl"))
        return busy and finished == 0 and started >= 2

    deadline = time.monotonic() + 240
    while not training_on_worker() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None and not list(out.glob("runs/*/result.json")), "no trial ran on the worker node"
    nodes.remove_node(worker, allow_graceful=False)  # its raylet and workers die at once
    code, _, err = finish(proc, folder, "killed")
    assert code == 0, err
    lines = {line["trial"]["id"]: line for line in lines_of(out / "results.jsonl")}
    retried = [p.parent.name for p in out.glob("tune/*/error.txt")]  # Tune's record of the lost attempt
    assert len(retried) == 1 and retried[0] in lines, retried
    assert sorted(lines) == ["rnn-jsb-s1", "rnn-jsb-s2"]
    for line in lines.values():
        assert line["status"] == "ok" and line["epochs"] == epochs, line
        # the worker node's trial too: retried on the head node, from its checkpoint
        assert line["node"] == nodes.head_node.node_id
        assert [epoch for epoch, _ in line["curve"]] == list(range(1, epochs + 1))
