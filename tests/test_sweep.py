"""`rnnalg sweep` end to end on a local Ray (one session for the module): a tiny sweep, a
failing trial among good ones, and resuming."""
import json
import math
from pathlib import Path

import pytest

from _shared import rnn_sweep
from rnnalg.cli import main

ray = pytest.importorskip("ray")
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

TINY = f"""\
[sweep]
datasets = ["jsb"]
seeds = [1, 2]

[train]
epochs = 1
lr = 0.01
time_limit = 30

[model.rnn]
label = "RNN"
spec = "{EXAMPLES / 'rnn.rnn'}"
set = {{ H = 8 }}

[model.dts]
label = "DT(S)"
spec = "{EXAMPLES / 'dts.rnn'}"
set = {{ H = 8 }}

[model.chars]                       # a character model cannot read piano rolls: both seeds fail
spec = "{EXAMPLES / 'char_rnn.rnn'}"
set = {{ H = 8 }}
"""


@pytest.fixture(scope="module")
def ray_session():
    from rnnalg.sweep.runner import start_ray

    start_ray(None, 2, 1)  # the local Ray `rnnalg sweep` starts
    yield
    ray.shutdown()


def test_trial_workers_run_at_normal_priority(ray_session):
    """Ray's default is nice 15 for workers, so that any other process took the CPU from trials."""
    import os

    @ray.remote
    def niceness():
        return os.nice(0)

    assert ray.get(niceness.remote()) == os.nice(0)  # the niceness of the process that started Ray


@pytest.fixture(scope="module")
def tiny(ray_session, tmp_path_factory):
    """The tiny sweep, run once: (out folder, results lines, printed text)."""
    root = tmp_path_factory.mktemp("sweep")
    (root / "tiny.toml").write_text(TINY)
    out = root / "out"
    import io
    from contextlib import redirect_stdout

    buffer = io.StringIO()
    with redirect_stdout(buffer):
        code = main(["sweep", str(root / "tiny.toml"), "--out", str(out)])
    assert code == 0, buffer.getvalue()
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    return out, lines, buffer.getvalue()


def test_every_trial_has_a_results_line_in_file_order(tiny):
    _, lines, _ = tiny
    assert [line["trial"]["id"] for line in lines] == [
        "rnn-jsb-s1", "rnn-jsb-s2", "dts-jsb-s1", "dts-jsb-s2", "chars-jsb-s1", "chars-jsb-s2"]


def test_finished_trials_hold_test_figures_from_their_own_run(tiny):
    out, lines, _ = tiny
    for line in lines[:4]:
        assert line["status"] == "ok" and line["error"] is None
        assert line["metric"] == "nll" and line["epochs"] == 1 and line["best_epoch"] == 1
        assert 5 < line["test"] < 15 and math.isfinite(line["best_valid"])
        assert line["curve"] == [[1, round(line["best_valid"], 5)]]
        assert line["seconds"] > 0 and line["commit"] and line["command"].startswith("rnnalg train ")
        result = json.loads((out / "runs" / line["trial"]["id"] / "result.json").read_text())
        assert result["test"] == line["test"]
        assert line["backend"] == result["backend"] in ("numpy", "fast")  # which one trained it
        # the Ray worker's own CPU time (sweep/usage.py): the trainer runs in it, so it is not 0
        assert 0 < line["cpu_seconds"] and set(line["load"]) == {"start", "max", "end", "cpus"}
        assert line["load"]["start"] <= line["load"]["max"] >= line["load"]["end"]
    assert {line["params"] for line in lines[:2]} == {1568}  # rnnalg compile --set H=8 says so
    assert lines[0]["test"] != lines[1]["test"]  # the seeds differ


def test_each_line_names_its_checked_program(tiny):
    """`spec_fingerprint`: what `rnnalg report` tells two lines of one spec file name apart by (collect.py)."""
    from rnnalg import check, load
    from rnnalg.train.checkpoint import program_fingerprint

    _, lines, _ = tiny
    for line in lines:
        assert line["spec_fingerprint"] == program_fingerprint(check(load(line["trial"]["spec"]), {"H": 8}))
    assert len({line["spec_fingerprint"] for line in lines}) == 3  # rnn, dts, chars


def test_each_epoch_is_reported_to_tune(tiny):
    out, lines, _ = tiny
    for line in lines[:4]:
        reported = (out / "tune" / line["trial"]["id"] / "result.json").read_text().splitlines()
        epochs = [r for r in map(json.loads, reported) if "valid" in r]
        assert [(r["epoch"], r["valid"]) for r in epochs] == [(1, line["best_valid"])]


def test_a_failing_trial_is_recorded_and_the_others_go_on(tiny):
    _, lines, printed = tiny
    for line in lines[4:]:
        assert line["status"] == "failed" and line["test"] is None
        assert "char_rnn.rnn" in line["error"] and "token" in line["error"]
    assert "chars-jsb-s1: failed:" in printed
    assert "2 failed: chars-jsb-s1, chars-jsb-s2" in printed


def test_the_table_shows_the_best_per_dataset_and_model(tiny):
    _, lines, printed = tiny
    table = printed[printed.index("dataset  model"):]
    rnn_row = next(row for row in table.splitlines() if row.startswith("jsb      RNN"))
    mean = (lines[0]["test"] + lines[1]["test"]) / 2
    assert f"{mean:.3f} ± " in rnn_row and "1,568" in rnn_row
    assert any(row.startswith("jsb      DT(S)") for row in table.splitlines())


def test_a_trial_run_folder_is_an_ordinary_run(tiny, capsys):
    out, lines, _ = tiny
    capsys.readouterr()
    run_dir = out / "runs" / "dts-jsb-s2"
    assert main(["eval", str(EXAMPLES / "dts.rnn"), "--checkpoint", str(run_dir)]) == 0
    assert f"{lines[3]['test']:.4f}" in capsys.readouterr().out


def test_the_command_of_a_line_reproduces_the_trial(tiny, tmp_path, capsys):
    import shlex

    from threadpoolctl import threadpool_limits

    _, lines, _ = tiny
    argv = shlex.split(lines[0]["command"])[1:] + ["--out", str(tmp_path / "again"), "--quiet"]
    with threadpool_limits(lines[0]["threads"]):  # the trial's BLAS threads: sgemm's sums depend on them
        assert main(argv) == 0
    assert json.loads((tmp_path / "again" / "result.json").read_text())["test"] == lines[0]["test"]


def test_a_line_records_the_arithmetic_and_its_rerun_command_repeats_it(tiny, tmp_path, monkeypatch):
    """Issue 17 item 15: threads (1 per trial CPU), backend, numpy and BLAS are in the line, and
    `rerun_command` (dropping the time limit for the finished epochs), the command RESULTS.md
    shows for the trial, repeats its figures."""
    import shlex

    import numpy as np

    from rnnalg.sweep.rerun import rerun_command
    from rnnalg.train.numerics import blas_name

    out, lines, _ = tiny
    line = lines[0]
    assert (line["threads"], line["numpy"], line["blas"]) == (1, np.__version__, blas_name())
    # the command RESULTS.md shows for the trial is this one
    assert main(["report", str(out / "results.jsonl"), "--out", str(tmp_path / "report"), "--no-figures"]) == 0
    shown = (tmp_path / "report" / "RESULTS.md").read_text().split("## Commands", 1)[1]
    assert f"| {line['trial']['flags']['seed']} | `{rerun_command(line)}` |" in shown
    words = shlex.split(rerun_command(line))
    while "=" in words[0]:  # RNNALG_BACKEND=...
        monkeypatch.setenv(*words.pop(0).split("=", 1))
    assert words[:2] == ["rnnalg", "train"] and "--time-limit" not in words and "--threads" in words
    assert main(words[1:] + ["--out", str(tmp_path / "again"), "--quiet"]) == 0
    again = json.loads((tmp_path / "again" / "result.json").read_text())
    assert (again["test"], again["best_valid"], again["backend"]) == (line["test"], line["best_valid"], line["backend"])


def test_a_sweep_folder_is_not_overwritten_without_resume_or_force(tiny, capsys):
    out, _, _ = tiny
    assert main(["sweep", str(out.parent / "tiny.toml"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "already holds" in err and "--resume" in err


RESUMABLE = rnn_sweep(epochs=2)


def test_resume_continues_unfinished_trials_and_keeps_finished_ones(ray_session, tmp_path, capsys):
    (tmp_path / "r.toml").write_text(RESUMABLE)
    out = tmp_path / "out"
    # an interrupted sweep: rnn-jsb-s2 has a checkpoint after epoch 1 of 2 and no result yet
    run = out / "runs" / "rnn-jsb-s2"
    assert main(["train", str(EXAMPLES / "rnn.rnn"), "--set", "H=8", "--lr", "0.01", "--seed", "2",
                 "--epochs", "1", "--out", str(run), "--quiet"]) == 0
    (run / "result.json").unlink()
    first_epoch = (run / "metrics.jsonl").read_text().splitlines()
    assert main(["sweep", str(tmp_path / "r.toml"), "--out", str(out), "--resume"]) == 0
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [(line["status"], line["epochs"]) for line in lines] == [("ok", 2), ("ok", 2)]
    metrics = (run / "metrics.jsonl").read_text().splitlines()
    assert metrics[:1] == first_epoch and len(metrics) == 2  # epoch 1 was not trained again
    reported = [json.loads(r) for r in (out / "tune" / "rnn-jsb-s2" / "result.json").read_text().splitlines()]
    assert [(r["epoch"], r["valid"]) for r in reported if "valid" in r] == [(2, json.loads(metrics[1])["valid"])]

    # a second resume: nothing is trained again; a trial whose line was lost is only read back
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*.json")}
    (out / "results.jsonl").write_text(json.dumps(lines[1]) + "\n")
    capsys.readouterr()
    assert main(["sweep", str(tmp_path / "r.toml"), "--out", str(out), "--resume"]) == 0
    again = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [line["test"] for line in again] == [line["test"] for line in lines]
    assert {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*.json")} == stamps
    assert "[2/2] rnn-jsb-s1: test NLL per frame" in capsys.readouterr().out


GROUPED = f"""\
[sweep]
datasets = ["jsb"]
samples = 2
search_seed = 3
cpus_per_trial = 2                  # one trial at a time: the rungs see the trials in file order

[sweep.asha]
grace_period = 1
reduction_factor = 2
group_by = ["weight_noise"]

[train]
epochs = 2
time_limit = 30
lr = {{ loguniform = [3e-3, 3e-2] }}
weight_noise = [0.0, 0.02]

[model.rnn]
spec = "{EXAMPLES / 'rnn.rnn'}"
set = {{ H = 8 }}
"""


def test_asha_grouped_by_weight_noise_runs_and_resumes(ray_session, tmp_path, capsys):
    """The noisy trial rnn-jsb-wn0.02-lr0.00537 (valid 10.11 at epoch 1) is the first of its
    group, so it goes on; per model it met the median of 10.42 and 9.57 and was stopped (by hand:
    the same file without group_by prunes it after 1 epoch).  A resume keeps the groups."""
    (tmp_path / "g.toml").write_text(GROUPED)
    out = tmp_path / "out"
    assert main(["sweep", str(tmp_path / "g.toml"), "--out", str(out)]) == 0, capsys.readouterr().err
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [(line["trial"]["flags"]["weight_noise"], line["status"], line["epochs"]) for line in lines] == \
        [(0.0, "ok", 2), (0.0, "ok", 2), (0.02, "ok", 2), (0.02, "ok", 2)]
    recorded = json.loads((out / "sweep.json").read_text())["asha"]
    assert recorded["fields"] == ["dataset", "model", "weight_noise"]
    assert [len(ids) for ids in recorded["groups"].values()] == [2, 2]

    (out / "results.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines[:3]))
    assert main(["sweep", str(tmp_path / "g.toml"), "--out", str(out), "--resume"]) == 0
    again = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [line["test"] for line in again] == [line["test"] for line in lines]
    (tmp_path / "g.toml").write_text(GROUPED.replace('group_by = ["weight_noise"]\n', ""))
    capsys.readouterr()
    assert main(["sweep", str(tmp_path / "g.toml"), "--out", str(out), "--resume"]) == 2
    assert "were pruned in groups by (dataset, model, weight_noise)" in capsys.readouterr().err


PRUNING = f"""\
[sweep]
datasets = ["jsb"]
cpus_per_trial = 2                  # one trial at a time: lr 1e-05 meets lr 0.01's epoch 1 at rung 1

[sweep.asha]
grace_period = 1
reduction_factor = 2

[train]
epochs = 2
time_limit = 30
lr = [0.01, 1e-05]

[model.rnn]
spec = "{EXAMPLES / 'rnn.rnn'}"
set = {{ H = 8 }}
"""


def test_a_resumed_trial_meets_the_rung_values_of_the_trials_that_ended_before(ray_session, tmp_path):
    """lr 1e-05 barely moves in epoch 1, so ASHA stops it at rung 1 against lr 0.01.  Run again
    after an interruption that lost its line and run folder, it must meet lr 0.01's epoch 1
    again (the resume before started with empty rungs: alone at rung 1, it ran both epochs)."""
    import shutil

    (tmp_path / "p.toml").write_text(PRUNING)
    out = tmp_path / "out"
    assert main(["sweep", str(tmp_path / "p.toml"), "--out", str(out)]) == 0
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [(line["trial"]["id"], line["status"], line["epochs"]) for line in lines] == \
        [("rnn-jsb-lr0.01-s1234", "ok", 2), ("rnn-jsb-lr1e-05-s1234", "pruned", 1)]
    (out / "results.jsonl").write_text(json.dumps(lines[0]) + "\n")
    shutil.rmtree(out / "runs" / "rnn-jsb-lr1e-05-s1234")
    assert main(["sweep", str(tmp_path / "p.toml"), "--out", str(out), "--resume"]) == 0
    again = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [(line["status"], line["epochs"]) for line in again] == [("ok", 2), ("pruned", 1)]


def test_a_resumed_sweep_runs_a_trial_with_an_interim_line_and_its_final_line_replaces_it(ray_session, tmp_path,
                                                                                         capsys):
    """`--standings` after a SIGTERM, then `--resume` to the end (test_sweep_standings.py has the rest)."""
    from test_sweep_standings import interrupt_after_first_epoch, trials_of

    (tmp_path / "r.toml").write_text(RESUMABLE)
    out = tmp_path / "out"
    run = out / "runs" / "rnn-jsb-s1"
    interrupt_after_first_epoch(trials_of(tmp_path / "r.toml")["rnn-jsb-s1"], run)
    first_epoch = (run / "metrics.jsonl").read_text().splitlines()
    assert main(["sweep", str(tmp_path / "r.toml"), "--out", str(out), "--standings"]) == 0
    [interim] = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert (interim["stopped"], interim["epochs"]) == ("interrupted", 1)
    capsys.readouterr()
    assert main(["sweep", str(tmp_path / "r.toml"), "--out", str(out), "--resume"]) == 0
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [(x["trial"]["id"], x["stopped"], x["epochs"]) for x in lines] == [
        ("rnn-jsb-s1", "epochs", 2), ("rnn-jsb-s2", "epochs", 2)]  # the interim line replaced, not kept
    assert (run / "metrics.jsonl").read_text().splitlines()[:1] == first_epoch  # continued, not trained again
    printed = capsys.readouterr().out
    assert "[1/2] rnn-jsb-s" in printed and "[2/2] rnn-jsb-s" in printed
