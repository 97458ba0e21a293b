"""`rnnalg sweep FILE --standings` (issue 16): an unfinished sweep's trials as interim results lines,
without Ray and without training, and how a later line of a trial supersedes one (the report, the
runner's Recorder).  The trials are interrupted as a sweep's SIGTERM interrupts them: the worker's
own run (`worker.execute`) stopped by a signal after its first epoch.  `rnnalg sweep --resume` to the
end after a standing is in test_sweep.py (it needs a Ray session)."""
import json
import os
import shutil
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest

from _shared import rnn_sweep
from rnnalg.cli import main

ROOT = Path(__file__).resolve().parents[1]

SWEEP = rnn_sweep(epochs=2, label="RNN")


def trials_of(path):
    from rnnalg.sweep.sweepfile import load_sweep
    from rnnalg.sweep.trials import expand

    return {t.id: t for t in expand(load_sweep(path))}


def interrupt_after_first_epoch(trial, run_dir):
    """What a sweep's SIGTERM leaves of a trial: its worker's run stopped by the signal after epoch 1
    (`last` and `best` saved, no result.json)."""
    from rnnalg.sweep.worker import execute

    def report(metrics):
        if "epoch" in metrics:
            os.kill(os.getpid(), signal.SIGTERM)  # the trainer's handler: finish the batch, save, stop

    with pytest.raises(RuntimeError, match="stopped before its end"):
        execute(trial, run_dir, report)
    assert (run_dir / "best.json").exists() and not (run_dir / "result.json").exists()


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """A sweep folder as a SIGTERM left it: rnn-jsb-s1 after epoch 1 of 2, rnn-jsb-s2 not started."""
    root = tmp_path_factory.mktemp("standings")
    (root / "s.toml").write_text(SWEEP)
    out = root / "out"
    interrupt_after_first_epoch(trials_of(root / "s.toml")["rnn-jsb-s1"], out / "runs" / "rnn-jsb-s1")
    return root, out


def standings(root, out, results, *more):
    return main(["sweep", str(root / "s.toml"), "--out", str(out), "--results", str(results), "--standings", *more])


def lines_of(path):
    return [json.loads(x) for x in Path(path).read_text().splitlines()]


def snapshot(folder):
    return {p: p.stat().st_mtime_ns for p in Path(folder).rglob("*")}


def test_an_interrupted_trial_gets_an_interim_line_and_the_report_shows_it(interrupted, tmp_path, capsys):
    root, out = interrupted
    run_dir = out / "runs" / "rnn-jsb-s1"
    before = snapshot(out)
    results = tmp_path / "r.jsonl"
    assert standings(root, out, results) == 0, capsys.readouterr().err
    assert snapshot(out) == before  # nothing written into the sweep's folder
    [line] = lines_of(results)
    metrics = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    last = json.loads((run_dir / "last.json").read_text())["run"]
    assert line["trial"]["id"] == "rnn-jsb-s1" and line["status"] == "ok" and line["stopped"] == "interrupted"
    assert (line["epochs"], line["best_epoch"], line["best_valid"]) == (1, 1, metrics[0]["valid"])
    assert line["curve"] == [[1, round(metrics[0]["valid"], 5)]] and 5 < line["test"] < 15
    assert line["seconds"] == round(sum(r["seconds"] for r in last["history"]), 1) > 0
    assert line["cpu_seconds"] == json.loads((run_dir / "usage.json").read_text())["cpu_seconds"] > 0
    assert line["params"] == 1568 and line["command"].startswith("rnnalg train ") and line["run_dir"] == str(run_dir)
    assert line["spec_fingerprint"] and line["data_fingerprint"] and line["commit"]
    assert line["threads"] == last_threads(run_dir) and line["backend"] in ("numpy", "fast")
    printed = capsys.readouterr()
    assert "rnn-jsb-s1: test NLL per frame" in printed.out and "interrupted, resumable" in printed.out
    assert "rnn-jsb-s2: no run folder (not started)" in printed.err

    assert main(["report", str(results), "--out", str(tmp_path / "report"), "--no-figures"]) == 0
    shown = (tmp_path / "report" / "RESULTS.md").read_text()
    row = next(r for r in shown.splitlines() if r.startswith("| JSB Chorales | RNN |"))  # (not the anchors')
    assert f"| {line['test']:.3f} | 1 |" in row and "| interrupted after 1 epochs, resumable |" in row


def last_threads(run_dir):
    return json.loads((run_dir / "last.json").read_text())["config"]["threads"]


def test_standings_twice_give_one_line_not_two(interrupted, tmp_path, capsys):
    root, out = interrupted
    results = tmp_path / "r.jsonl"
    other = {"trial": {"id": "x-jsb-s1", "label": "X", "dataset": "jsb", "flags": {"seed": 1}}, "status": "failed",
             "error": "another sweep's line", "test": None}
    results.write_text(json.dumps(other) + "\n")
    assert standings(root, out, results) == 0
    first = lines_of(results)
    assert standings(root, out, results) == 0
    again = lines_of(results)
    assert [x["trial"]["id"] for x in again] == ["x-jsb-s1", "rnn-jsb-s1"]  # replaced in place, the other kept
    assert again[1]["test"] == first[1]["test"]
    assert main(["report", str(results), "--out", str(tmp_path / "report"), "--no-figures"]) == 0
    rows = [r for r in (tmp_path / "report" / "RESULTS.md").read_text().splitlines()
            if r.startswith("| JSB Chorales | RNN |") and "interrupted" in r]
    assert len(rows) == 1 and f"| {again[1]['test']:.3f} | 1 |" in rows[0]


def test_the_interim_figure_is_the_one_the_trial_ends_with_from_that_checkpoint(interrupted, tmp_path):
    """The standing of the checkpoint after epoch 1 against the trial's own end from the same
    checkpoint: the worker continuing a copy of the run with nothing left to train (epochs = 1)."""
    from dataclasses import replace

    from rnnalg.sweep.worker import execute

    root, out = interrupted
    results = tmp_path / "r.jsonl"
    assert standings(root, out, results) == 0
    [interim] = lines_of(results)
    trial = trials_of(root / "s.toml")["rnn-jsb-s1"]
    copy = tmp_path / "copy"
    shutil.copytree(out / "runs" / trial.id, copy)
    ended = execute(replace(trial, flags={**trial.flags, "epochs": 1}), copy, lambda metrics: None)
    assert ended["stopped"] == "epochs"
    for key in ("test", "best_valid", "best_epoch", "epochs", "metric", "curve", "backend", "threads"):
        assert interim[key] == ended[key], key


def test_a_trial_with_a_final_line_or_without_a_best_checkpoint_gets_none(interrupted, tmp_path, capsys):
    root, out = interrupted
    results = tmp_path / "r.jsonl"
    assert standings(root, out, results) == 0
    final = {**lines_of(results)[0], "stopped": "epochs", "epochs": 2}  # as if the trial had ended
    results.write_text(json.dumps(final) + "\n")
    capsys.readouterr()
    assert standings(root, out, results) == 2
    err = capsys.readouterr().err
    assert "rnn-jsb-s1: ended: its final line is in the results file" in err and "Traceback" not in err
    assert lines_of(results) == [final]


def test_a_folder_without_run_folders_is_refused_by_name(tmp_path, capsys):
    (tmp_path / "s.toml").write_text(SWEEP)
    (tmp_path / "empty").mkdir()
    assert standings(tmp_path, tmp_path / "empty", tmp_path / "r.jsonl") == 2
    err = capsys.readouterr().err
    assert f"--out {tmp_path / 'empty'}: holds no run folder of this sweep's trials" in err
    assert "Traceback" not in err and not (tmp_path / "r.jsonl").exists()


def test_a_run_folder_without_a_checkpoint_is_named(tmp_path, capsys):
    (tmp_path / "s.toml").write_text(SWEEP)
    run_dir = tmp_path / "out" / "runs" / "rnn-jsb-s2"
    run_dir.mkdir(parents=True)
    assert standings(tmp_path, tmp_path / "out", tmp_path / "r.jsonl") == 2
    err = capsys.readouterr().err
    assert f"{run_dir}: no best checkpoint (best.json: no finished epoch yet)" in err
    assert "Traceback" not in err and not (tmp_path / "r.jsonl").exists()


def test_a_results_file_that_cannot_be_written_is_named_before_any_evaluation(interrupted, tmp_path, capsys):
    root, out = interrupted
    (tmp_path / "a_file").write_text("")
    results = tmp_path / "a_file" / "r.jsonl"
    assert standings(root, out, results) == 2
    err = capsys.readouterr().err
    assert f"--results {results}: cannot write its folder {tmp_path / 'a_file'}: not a folder" in err
    assert "evaluating" not in err and "Traceback" not in err


def test_a_damaged_checkpoint_leaves_the_results_file_as_it_was(interrupted, tmp_path, capsys):
    """Two trials to evaluate, the second one's checkpoint damaged: no line of the first either."""
    root, out = interrupted
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    shutil.copytree(copy / "runs" / "rnn-jsb-s1", copy / "runs" / "rnn-jsb-s2")
    arrays = json.loads((copy / "runs" / "rnn-jsb-s2" / "last.json").read_text())["arrays"]
    (copy / "runs" / "rnn-jsb-s2" / arrays).write_bytes(b"not an npz")
    results = tmp_path / "r.jsonl"
    results.write_text("")
    assert standings(root, copy, results) == 1
    err = capsys.readouterr().err
    assert "rnn-jsb-s2" in err and arrays in err and "Traceback" not in err
    assert results.read_text() == ""


def test_dry_run_lists_what_standings_would_evaluate(interrupted, tmp_path, capsys):
    root, out = interrupted
    assert standings(root, out, tmp_path / "r.jsonl", "--dry-run") == 0
    assert capsys.readouterr().out.splitlines() == [
        "rnn-jsb-s1: would be evaluated (best checkpoint, no final line)", "rnn-jsb-s2: no run folder (not started)"]
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.parametrize("flag", ["--resume", "--force", "--verbose"])
def test_standings_refuse_the_flags_of_a_run(interrupted, tmp_path, capsys, flag):
    root, out = interrupted
    assert standings(root, out, tmp_path / "r.jsonl", flag) == 2
    assert f"--standings trains nothing and runs no Ray: drop {flag}" in capsys.readouterr().err


# ---- what supersedes an interim line ---------------------------------------------------------------


def report_line(epochs, stopped="interrupted", test=1.6, seed=1234):
    """A PTB-character results line (the shape test_report.py's are)."""
    valid = [2.0 - 0.05 * e for e in range(1, epochs + 1)]
    return {"trial": {"id": f"dots-ptb-char-s{seed}", "config_id": "dots-ptb-char", "label": "DOT(S)",
                      "dataset": "ptb-char", "dataset_label": "ptb-char", "sizes": {"H": 10},
                      "flags": {"epochs": 60, "seed": seed}, "spec_shown": "char_dots.rnn"},
            "status": "ok", "error": None, "metric": "bpc", "test": test, "best_valid": valid[-1],
            "best_epoch": epochs, "epochs": epochs, "stopped": stopped, "seconds": 100.0 * epochs,
            "cpu_seconds": 90.0 * epochs, "params": 1000, "curve": [[e + 1, v] for e, v in enumerate(valid)],
            "command": "rnnalg train char_dots.rnn", "commit": "abc"}


def report_rows(tmp_path, *files):
    out = tmp_path / "report"
    assert main(["report", *map(str, files), "--out", str(out), "--no-figures"]) == 0
    return [r for r in (out / "RESULTS.md").read_text().splitlines() if r.startswith("| PTB characters | DOT(S) |")]


def write_lines(path, lines):
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def test_the_report_shows_how_far_an_unfinished_curve_still_points(tmp_path):
    [row] = report_rows(tmp_path, write_lines(tmp_path / "a.jsonl", [report_line(5)]))
    assert "| interrupted after 5 epochs, resumable | -0.0500/epoch |" in row


def test_a_curve_that_rose_after_its_best_epoch_reads_flat_not_falling(tmp_path):
    """PTB words' RNN: an lr halving at epoch 12 made the drop, then validation rose; the raw
    curve's last 3 epochs fall (-2.82/epoch), its best so far has not moved in the last 2."""
    line = report_line(14, test=1.5)
    line["curve"][-4:] = [[11, 161.6], [12, 151.1], [13, 151.8], [14, 153.1]]
    line["curve"][:-4] = [[e, 170.0 - e] for e in range(1, 11)]
    line["best_epoch"], line["best_valid"] = 12, 151.1
    [row] = report_rows(tmp_path, write_lines(tmp_path / "a.jsonl", [line]))
    assert "| interrupted after 14 epochs, resumable | flat |" in row
    line["curve"][-1] = [14, 150.1]  # a new best at the last epoch: (150.1 - 151.1) / 2
    [row] = report_rows(tmp_path, write_lines(tmp_path / "a.jsonl", [line]))
    assert "| interrupted after 14 epochs, resumable | -0.5000/epoch |" in row


@pytest.mark.parametrize("order", ["final first", "interim first"])
def test_the_final_line_supersedes_the_interim_one_in_any_file_order(tmp_path, order):
    interim, final = report_line(5, test=1.7), report_line(8, stopped="early stop", test=1.6)
    pair = [final, interim] if order == "final first" else [interim, final]
    a = write_lines(tmp_path / "a.jsonl", pair[:1])
    b = write_lines(tmp_path / "b.jsonl", pair[1:])
    [row] = report_rows(tmp_path, a, b)
    assert row.startswith("| PTB characters | DOT(S) | 1.600 | 1 |")
    assert "| 8 / 8 | 800 | 800 (CPU 720) | early stop |" in row  # one trial's budget, not two


def test_of_two_interim_lines_the_one_with_more_epochs_stands(tmp_path):
    [row] = report_rows(tmp_path, write_lines(tmp_path / "a.jsonl", [report_line(6, test=1.65),
                                                                     report_line(4, test=1.7)]))
    assert row.startswith("| PTB characters | DOT(S) | 1.650 | 1 |") and "interrupted after 6 epochs" in row


def test_the_recorder_keeps_an_interim_line_until_its_trial_ends(tmp_path):
    """A resumed sweep rewrites the results file as trials end: a trial still running keeps its
    interim line there; its end replaces it (runner.Recorder)."""
    pytest.importorskip("ray")
    from rnnalg.sweep.runner import Recorder

    path = tmp_path / "r.jsonl"
    interim = report_line(5)
    trial_id = interim["trial"]["id"]
    recorder = Recorder(path, [trial_id], {trial_id: {"trial": interim["trial"]}}, {}, pruning=False,
                        interim={trial_id: interim})
    recorder.write()
    assert lines_of(path) == [interim] and recorder.ordered() == []  # not an ended trial
    ended = SimpleNamespace(config={"trial": {"id": trial_id}}, last_result={"record": json.dumps(
        {"status": "ok", "test": 1.6, "best_valid": 1.7, "best_epoch": 8, "epochs": 8, "stopped": "early stop",
         "metric": "bpc", "seconds": 800.0})})
    recorder.on_trial_complete(0, [], ended)
    [line] = lines_of(path)
    assert (line["stopped"], line["epochs"], line["test"]) == ("early stop", 8, 1.6)


def test_a_resumed_sweep_counts_an_interim_line_as_unfinished(tmp_path):
    """runner.interim_of: the line is its trial's standing whatever folder it was read from."""
    pytest.importorskip("ray")
    from rnnalg.sweep.runner import interim_of

    (tmp_path / "s.toml").write_text(SWEEP)
    trials = list(trials_of(tmp_path / "s.toml").values())
    line = {"trial": trials[0].to_json(), "status": "ok", "stopped": "interrupted", "run_dir": "/elsewhere"}
    assert interim_of(line, trials) is trials[0]
    assert interim_of({**line, "stopped": "early stop"}, trials) is None
    other = {**trials[0].to_json(), "flags": {**trials[0].flags, "lr": 0.1}}  # same id, another trial
    assert interim_of({**line, "trial": other}, trials) is None


def test_the_readme_command_runs_as_shown_on_a_tiny_sweep(interrupted, tmp_path, capsys):
    """README.md's `--standings` command (test_readme.py runs it as written, with --dry-run, on the
    committed PTB state) with this module's sweep, folder and results file in place of its paths."""
    import re
    import shlex

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [command] = {c.strip() for c in re.findall(r"^(rnnalg sweep [^#\n]*--standings[^#\n]*)", readme, re.M)}
    words = shlex.split(command)
    root, out = interrupted
    places = {words[2]: str(root / "s.toml"), words[words.index("--out") + 1]: str(out),
              words[words.index("--results") + 1]: str(tmp_path / "r.jsonl")}
    assert words[:2] == ["rnnalg", "sweep"] and words[-1] == "--standings" and len(words) == 8
    assert main([places.get(w, w) for w in words[1:]]) == 0
    assert [x["stopped"] for x in lines_of(tmp_path / "r.jsonl")] == ["interrupted"]
