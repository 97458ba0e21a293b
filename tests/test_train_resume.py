"""`rnnalg train` around a run's life: resume rules, the printed resume hint, SIGTERM,
`--force`, and hand-edited checkpoints, through rnnalg.cli.main (and one real subprocess)."""
import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _shared import tiny_music_files
from rnnalg.cli import main
from rnnalg.train import checkpoint as ckpt
from rnnalg.train.trainer import Trainer


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """(spec path, a small music JSON: the first pieces of JSB Chorales) for fast runs."""
    return tiny_music_files(tmp_path_factory.mktemp("resume"), 24,
                            {"train": 16, "valid": 6, "test": 6})


def _train(files, out, *flags):
    spec, data = files
    return main(["train", spec, "--data", data, "--out", str(out), "--quiet", *flags])


@pytest.fixture(scope="module")
def two_epochs(files, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "two"
    assert _train(files, run, "--epochs", "2", "--lr", "0.01", "--set", "H=8") == 0
    return run


def _copy(run, to):
    to.mkdir()
    for f in run.iterdir():
        (to / f.name).write_bytes(f.read_bytes())
    return to


# ---- which flags a resumed run takes ----------------------------------------------------

@pytest.mark.parametrize("flags, named", [
    (["--batch-size", "8"], "--batch-size 8"),
    (["--optimizer", "sgd"], "--optimizer sgd"),
    (["--seed", "7"], "--seed 7"),
    (["--steps", "10"], "--steps 10"),
    (["--init", "orthogonal"], "--init orthogonal"),
    (["--data", "jsb"], "--data jsb"),
])
def test_resume_refuses_a_flag_that_would_change_the_run(files, two_epochs, tmp_path, capsys, flags, named):
    run = _copy(two_epochs, tmp_path / "run")
    before = (run / "last.json").read_text()
    assert main(["train", files[0], "--resume", str(run), "--epochs", "3", "--quiet", *flags]) == 2
    err = capsys.readouterr().err
    assert f"{named}: a resumed run keeps the recorded value" in err and "Traceback" not in err
    assert (run / "last.json").read_text() == before


def test_resume_refuses_another_unit(files, two_epochs, tmp_path, capsys):
    run = _copy(two_epochs, tmp_path / "run")
    assert main(["train", files[0], "--resume", str(run), "--unit", "word", "--quiet"]) == 2
    assert "--unit word: a resumed run keeps the recorded unit (frame)" in capsys.readouterr().err


def test_resume_accepts_flags_equal_to_the_recorded_ones(files, two_epochs, tmp_path, capsys):
    run = _copy(two_epochs, tmp_path / "run")
    spec, data = files
    assert main(["train", spec, "--resume", str(run), "--data", data, "--batch-size", "4", "--seed", "1234",
                 "--lr", "0.01", "--set", "H=8", "--epochs", "2", "--quiet"]) == 0
    assert "resuming with" not in capsys.readouterr().err


def test_resume_applies_and_records_a_new_lr_and_epochs(files, two_epochs, tmp_path, capsys):
    run = _copy(two_epochs, tmp_path / "run")
    assert main(["train", files[0], "--resume", str(run), "--epochs", "3", "--lr", "0.004", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "resuming with --epochs 3 (was 2), --lr 0.004 (was 0.01) from epoch 3, step" in err
    _, meta = ckpt.load(run, "last")
    assert [r["lr"] for r in meta["run"]["history"]] == [0.01, 0.01, 0.004]
    assert meta["config"]["lr"] == 0.004 and meta["config"]["epochs"] == 3
    assert [(c["field"], c["from"], c["to"], c["epoch"]) for c in meta["run"]["changes"]] == \
        [("epochs", 2, 3, 2), ("lr", 0.01, 0.004, 2)]


# ---- the resume hint printed on Ctrl-C works as printed -----------------------------------

def _hint(err: str) -> list:
    line = re.search(r"continue with: (.*)", err).group(1)
    argv = shlex.split(line)
    assert argv[0] == "rnnalg"
    return argv[1:]


def test_ctrl_c_hint_resumes_a_run_trained_with_set(files, tmp_path, capsys, monkeypatch):
    spec, data = files
    original = Trainer._update

    def interrupt_at_third_update(self, batch):
        if self.state.step == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return original(self, batch)

    monkeypatch.setattr(Trainer, "_update", interrupt_at_third_update)
    run = tmp_path / "run"
    assert main(["train", spec, "--data", data, "--set", "H=8", "--epochs", "1", "--out", str(run)]) == 130
    err = capsys.readouterr().err
    assert "interrupted: finishing this batch and saving" in err
    monkeypatch.undo()
    assert main(_hint(err)) == 0  # verbatim: no --set, no --data
    _, meta = ckpt.load(run, "last")
    assert meta["sizes"] == {"H": 8} and meta["run"]["epoch"] == 1


def test_sigterm_saves_and_the_printed_command_resumes(files, tmp_path):
    """A real process: SIGTERM after the first epoch line saves, prints the hint, exits 143;
    the hint, run by a shell exactly as printed, continues the run (stopped by the recorded
    --time-limit)."""
    spec, data = files
    run = tmp_path / "run"
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "rnnalg", "train", spec, "--data", data, "--set", "H=8",
                             "--epochs", "1000", "--time-limit", "2", "--out", str(run)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        for line in proc.stdout:
            if line.startswith("epoch "):
                proc.send_signal(signal.SIGTERM)
                break
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert "terminated: finishing this batch and saving" in err
    _, meta = ckpt.load(run, "last")
    assert meta["run"]["epoch"] >= 1 and meta["run"]["stopped"] is None
    command = re.search(r"continue with: (.*)", err).group(1)
    again = subprocess.run(command, shell=True, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert again.returncode == 0, again.stderr
    assert "stopped by --time-limit" in again.stdout
    assert ckpt.load(run, "last")[1]["run"]["step"] > meta["run"]["step"]


# ---- --force starts a clean run directory ----------------------------------------------------

def test_force_starts_clean_and_keeps_unrelated_files(files, two_epochs, tmp_path, capsys):
    run = _copy(two_epochs, tmp_path / "run")
    (run / "notes.txt").write_text("mine")
    assert {"best.json", "metrics.jsonl", "result.json", "curve.png"} <= {p.name for p in run.iterdir()}
    # a new spec that stops before its first validation: nothing of the old run may survive
    assert _train(files, run, "--force", "--set", "H=6", "--time-limit", "1e-9") == 0
    names = {p.name for p in run.iterdir()}
    assert {n for n in names if not n.endswith(".npz")} == {"last.json", "result.json", "notes.txt"}
    assert len([n for n in names if n.endswith(".npz")]) == 1
    assert json.loads((run / "result.json").read_text())["epochs"] == 0
    assert (run / "notes.txt").read_text() == "mine"
    capsys.readouterr()
    spec = files[0]
    assert main(["eval", spec, "--checkpoint", str(run)]) == 0  # the new run, sizes from it
    assert "no best checkpoint yet; using the last one" in capsys.readouterr().err


def test_any_file_of_an_old_run_needs_force(files, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"epoch": 1}\n')
    assert _train(files, run, "--epochs", "1") == 2
    assert "already holds a training run" in capsys.readouterr().err
    assert (run / "metrics.jsonl").read_text() == '{"epoch": 1}\n'


# ---- hand-edited checkpoints: a message naming the file and the field, exit 1 --------------

def _edit_json(run, tag, edit):
    path = run / f"{tag}.json"
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))


def _drop_array(run, tag, name):
    path = run / f"{tag}.json"
    meta = json.loads(path.read_text())
    npz = run / meta["arrays"]
    with np.load(npz) as f:
        arrays = {k: f[k] for k in f.files if k != name}
    np.savez(npz, **arrays)
    meta["sha256"] = ckpt._sha256(npz)
    path.write_text(json.dumps(meta))


@pytest.mark.parametrize("command, tag, edit, message", [
    ("train", "last", lambda m: m.pop("run"), r"last\.json: error: .*missing run\)"),
    ("train", "last", lambda m: m.pop("config"), r"last\.json: error: .*missing config\)"),
    ("train", "last", lambda m: m["run"].update(epoch="2"), r'last\.json: error: .*run\.epoch is "2"'),
    ("train", "last", lambda m: m["run"].update(history=[{"epoch": 1}]), r"run\.history is .*must be a list"),
    ("train", "last", lambda m: m["config"].update(batch_size=[4]), r"config\.batch_size is \[4\]"),
    ("train", "last", lambda m: m["param_shapes"].update({"h'.W_h": 8}), r"field param_shapes is"),
    ("train", "last", lambda m: m["config"].update(lr=-1.0), r"config holds a value train refuses: --lr must be .*> 0"),
    ("train", "last", lambda m: m.update(dataset_unit="bytes"), r'dataset_unit is "bytes"; it must be frame, char'),
    ("eval", "best", lambda m: m.pop("config"), r"best\.json: error: .*missing config\)"),
    ("eval", "best", lambda m: m["config"].update(data=None), r"config\.data is null; it must be a string"),
])
def test_hand_edited_checkpoint_json(files, two_epochs, tmp_path, capsys, command, tag, edit, message):
    run = _copy(two_epochs, tmp_path / "run")
    _edit_json(run, tag, edit)
    argv = ["--resume", str(run), "--quiet"] if command == "train" else ["--checkpoint", str(run)]
    assert main([command, files[0], *argv]) == 1
    err = capsys.readouterr().err
    assert re.search(message, err) and "Traceback" not in err, err


@pytest.mark.parametrize("array", ["opt/t", "opt/m/y.b", "rng/data", "rng/noise", "best/y.W_h'"])
def test_array_removed_from_the_npz(files, two_epochs, tmp_path, capsys, array):
    run = _copy(two_epochs, tmp_path / "run")
    _, meta = ckpt.load(run, "last")
    npz = meta["arrays"]
    _drop_array(run, "last", array)
    assert main(["train", files[0], "--resume", str(run), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"{npz}: error: array '{array}'" in err and "missing" in err, err


def test_readme_and_help_name_the_flags_resume_may_change(capsys):
    from rnnalg.train.config import ON_RESUME, flag_name

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    sentence = re.search(r"it may change\s+only (.*?)\(applied", readme, flags=re.S).group(1)
    refused = re.search(r"and refuses\s+a different (.*?)\. ", readme, flags=re.S).group(1)
    may = {flag_name(k) for k, why in ON_RESUME.items() if why is None and k != "eval_batch_size"}
    assert set(re.findall(r"`(--[a-z-]+)`", sentence)) == may
    assert set(re.findall(r"`(--[a-z-]+)`", refused)) == \
        {flag_name(k) for k, why in ON_RESUME.items() if why is not None and k != "output_bias"} | {"--unit"}
    assert main(["train", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert all(flag in help_text.split("only ")[1].split("may differ")[0] for flag in may)


def test_resume_from_the_json_file_continues_in_its_folder(files, two_epochs, tmp_path, capsys):
    run = _copy(two_epochs, tmp_path / "run")
    assert main(["train", files[0], "--resume", str(run / "last.json"), "--quiet"]) == 0
    assert "this run has done its 2 epochs; nothing to train" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_train_as_a_python_function(files, tmp_path):
    import rnnalg
    from rnnalg.train import train

    spec, data = files
    program = rnnalg.load_program(spec, sizes={"H": 8})
    seen = []
    result = train(program, tmp_path / "run", {"data": data, "epochs": 3}, quiet=True,
                   on_epoch=lambda record: seen.append(record["valid"]) or len(seen) == 2)
    assert result["stopped"] == "stopped by caller" and result["epochs"] == 2
    assert result["best_valid"] == min(seen)
    assert json.loads((tmp_path / "run" / "result.json").read_text())["test"] == result["test"]


def test_a_checkpoint_from_before_run_changes_and_min_count_still_resumes(files, two_epochs, tmp_path):
    run = _copy(two_epochs, tmp_path / "run")
    _edit_json(run, "last", lambda m: (m["run"].pop("changes"), m["config"].pop("min_count")))
    assert main(["train", files[0], "--resume", str(run), "--epochs", "3", "--quiet"]) == 0
    assert ckpt.load(run, "last")[1]["run"]["changes"] == [{"epoch": 2, "step": 8, "field": "epochs",
                                                            "from": 2, "to": 3}]
