"""Parts of the sweep driver without a Ray session: ASHA per cell, the results recorder's
error path, the sweep folder's guard, the report."""
import json
from types import SimpleNamespace

import pytest

from rnnalg.cli import main
from rnnalg.errors import UsageError
from rnnalg.sweep.trials import Trial

pytest.importorskip("ray")


def fake_trial(trial_id, dataset="jsb", model="rnn", last_result=None, error_file=None):
    config = {"trial": {"id": trial_id, "dataset_label": dataset, "model": model}}
    return SimpleNamespace(trial_id=trial_id, config=config, last_result=last_result, error_file=error_file)


def test_asha_compares_trials_of_one_cell_only():
    from ray.tune.schedulers import TrialScheduler

    from rnnalg.sweep.scheduler import GroupedASHA

    scheduler = GroupedASHA({"grace_period": 1, "reduction_factor": 2}, max_epochs=8)
    good_b = fake_trial("b1", dataset="nottingham")
    poor_a, poorer_a = fake_trial("a1"), fake_trial("a2")
    for t in (good_b, poor_a, poorer_a):
        scheduler.on_trial_add(None, t)
    assert scheduler.on_trial_result(None, good_b, {"epoch": 1, "valid": 3.0}) == TrialScheduler.CONTINUE
    # 8.5 is far worse than Nottingham's 3.0, but JSB's trials are judged among themselves
    assert scheduler.on_trial_result(None, poor_a, {"epoch": 1, "valid": 8.5}) == TrialScheduler.CONTINUE
    assert scheduler.on_trial_result(None, poorer_a, {"epoch": 1, "valid": 9.5}) == TrialScheduler.STOP
    assert sorted(scheduler.cells) == [("jsb", "rnn"), ("nottingham", "rnn")]


def test_asha_per_dataset_lets_the_models_of_a_search_compete():
    """A search's candidates are one model each: per (dataset, model) ASHA would stop none."""
    from ray.tune.schedulers import TrialScheduler

    from rnnalg.sweep.scheduler import GroupedASHA

    def run(per):
        scheduler = GroupedASHA({"grace_period": 1, "reduction_factor": 2, "per": per}, max_epochs=8)
        trials = [fake_trial(f"c{i}", model=f"c{i}") for i in range(3)]
        for t in trials:
            scheduler.on_trial_add(None, t)
        decisions = [scheduler.on_trial_result(None, t, {"epoch": 1, "valid": v})
                     for t, v in zip(trials, (8.0, 8.5, 9.5))]
        return decisions, sorted(scheduler.cells)

    decisions, cells = run("dataset")
    assert decisions[-1] == TrialScheduler.STOP and cells == [("jsb",)]
    decisions, cells = run("model")
    assert set(decisions) == {TrialScheduler.CONTINUE} and len(cells) == 3


def recorder(tmp_path, pruning=False, verbose=False):
    from rnnalg.sweep.runner import Recorder

    base = {i: {"trial": {"id": i}, "params": 10, "command": f"rnnalg train {i}"} for i in ("t1", "t2")}
    return Recorder(tmp_path / "results.jsonl", ["t1", "t2"], base, {}, pruning=pruning, verbose=verbose)


def test_verbose_prints_each_epoch(tmp_path, capsys):
    result = {"epoch": 3, "valid": 8.91234, "best_valid": 8.8, "lr": 0.001}
    recorder(tmp_path).on_trial_result(0, [], fake_trial("t1"), result)
    assert capsys.readouterr().out == ""
    recorder(tmp_path, verbose=True).on_trial_result(0, [], fake_trial("t1"), result)
    assert capsys.readouterr().out == "    t1: epoch 3  valid 8.9123  (best 8.8000)\n"


def test_a_crashed_worker_is_recorded_with_the_last_line_of_its_error(tmp_path, capsys):
    rec = recorder(tmp_path)
    (tmp_path / "error.txt").write_text("Failure # 1\nTraceback ...\n  File x\nMemoryError: out of memory\n\n")
    rec.on_trial_error(0, [], fake_trial("t2", error_file=str(tmp_path / "error.txt")))
    [line] = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert (line["status"], line["error"], line["test"], line["params"]) == \
        ("failed", "MemoryError: out of memory", None, 10)
    assert "[1/2] t2: failed: MemoryError: out of memory" in capsys.readouterr().out


def test_a_trial_stopped_by_asha_is_recorded_as_pruned(tmp_path):
    rec = recorder(tmp_path, pruning=True)
    rec.on_trial_complete(0, [], fake_trial("t1", last_result={"epoch": 2, "valid": 9.0, "best_valid": 8.8}))
    rec.on_trial_complete(0, [], fake_trial("t2", last_result={"record": json.dumps(
        {"status": "ok", "error": None, "metric": "nll", "test": 8.1, "best_valid": 8.0, "best_epoch": 7,
         "epochs": 9, "stopped": "early stop", "seconds": 12.0, "curve": [[9, 8.3]]})}))
    lines = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [(x["status"], x["best_valid"], x["epochs"], x["test"]) for x in lines] == \
        [("pruned", 8.8, 2, None), ("ok", 8.0, 9, 8.1)]


def trial(trial_id, lr=0.01):
    return Trial(id=trial_id, config_id=trial_id[:-3], model="rnn", label="RNN", dataset="jsb",
                 dataset_label="jsb", spec="/x/rnn.rnn", spec_shown="rnn.rnn", sizes={"H": 8},
                 flags={"lr": lr, "seed": 1})


def test_a_resumed_sweep_may_add_trials_but_not_change_them(tmp_path):
    from rnnalg.sweep.runner import prepare_out

    prepare_out(tmp_path, [trial("a-s1")], resume=False, force=False)
    with pytest.raises(UsageError, match="already holds a sweep"):
        prepare_out(tmp_path, [trial("a-s1")], resume=False, force=False)
    prepare_out(tmp_path, [trial("a-s1"), trial("b-s1")], resume=True, force=False)  # added: fine
    with pytest.raises(UsageError, match=r"no longer gives the trials .*\(changed: a-s1\)"):
        prepare_out(tmp_path, [trial("a-s1", lr=0.1), trial("b-s1")], resume=True, force=False)
    with pytest.raises(UsageError, match=r"\(missing: b-s1\)"):
        prepare_out(tmp_path, [trial("a-s1")], resume=True, force=False)


def test_force_removes_this_sweeps_run_folders_only(tmp_path):
    from rnnalg.sweep.runner import prepare_out

    prepare_out(tmp_path, [trial("a-s1")], resume=False, force=False)
    for name in ("a-s1", "other"):
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / "last.json").write_text("{}")
    prepare_out(tmp_path, [trial("a-s1")], resume=False, force=True)
    assert not (tmp_path / "runs" / "a-s1").exists() and (tmp_path / "runs" / "other" / "last.json").exists()


def results_line(dataset, model, test, valid, stopped="epochs", curve=None, status="ok", seed=1):
    config = f"{model}-{dataset}"
    return {"trial": {"id": f"{config}-s{seed}", "config_id": config, "label": model, "dataset_label": dataset},
            "status": status, "error": None if status == "ok" else "DataError: bad", "metric": "nll",
            "test": test, "best_valid": valid, "best_epoch": 3, "epochs": 5, "stopped": stopped,
            "seconds": 60.0, "params": 1234, "curve": curve or [[1, 9.0], [2, 8.8]],
            "command": f"rnnalg train examples/{model}.rnn --data {dataset}", "commit": "abc123"}


def test_report_puts_the_papers_figure_and_its_provenance_beside_ours(tmp_path, capsys):
    lines = [results_line("jsb", "RNN", 8.5, 8.6),
             results_line("nottingham", "DOT(S)*", 3.0, 3.1, stopped="time limit",
                          curve=[[1, 3.5], [2, 3.3], [3, 3.2], [4, 3.14], [5, 3.11]]),
             results_line("jsb", "DT(S)", None, None, status="failed")]
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert main(["report", str(path), "--out", str(tmp_path / "exp")]) == 0
    text = (tmp_path / "exp" / "RESULTS.md").read_text()
    assert "| JSB Chorales | RNN | 8.500 | 1 | 8.338 R | +0.162 | 1,234 | 1 | 3 / 5 |" in text
    assert "| Nottingham | DOT(S)* | 3.000 | 1 | 2.95 Q | +0.050 |" in text
    assert "| time limit | -0.0450/epoch |" in text  # (3.11 - 3.2) / 2: the best so far, last 2 epochs
    assert "| DT(S)-jsb-s1 | failed | DataError: bad |" in text
    assert "| MuseData | DOT(S)* | not run | | 6.59 Q |" in text  # every paper figure has its row
    assert "| PTB words | DOT(S) | not run | | 107.5 Q |" in text
    assert "| JSB Chorales, RNN | RNN-jsb-s1 | `rnnalg train examples/RNN.rnn --data jsb --epochs 5` | abc123 |" in text
    assert (tmp_path / "exp" / "figures" / "music_dots.png").stat().st_size > 1000
    assert "![music_curves](figures/music_curves.png)" in text


def test_report_names_a_bad_results_line(tmp_path, capsys):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(results_line("jsb", "RNN", 8.5, 8.6)) + "\n{oops\n")
    assert main(["report", str(path), "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith(f"{path}: line 2: error: not JSON")
    assert not (tmp_path / "RESULTS.md").exists()


def test_asha_lets_the_last_epoch_end_normally():
    from ray.tune.schedulers import TrialScheduler

    from rnnalg.sweep.scheduler import GroupedASHA

    scheduler = GroupedASHA({"grace_period": 1, "reduction_factor": 2}, max_epochs=4)
    best = fake_trial("a1")
    scheduler.on_trial_add(None, best)
    decisions = [scheduler.on_trial_result(None, best, {"epoch": e, "valid": 5.0 - e}) for e in (1, 2, 3, 4)]
    assert decisions == [TrialScheduler.CONTINUE] * 4  # the trial goes on to report its test figure


def test_a_continued_trial_gets_what_is_left_of_its_time_limit(tmp_path, monkeypatch):
    from rnnalg.sweep import worker
    from rnnalg.train import launch

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "last.json").write_text(json.dumps(
        {"run": {"history": [{"seconds": 30.0}, {"seconds": 40.0}], "part_seconds": 5.0, "best_valid": 8.7}}))
    seen = {}

    def fake_run(spec, settings, *, on_epoch, **kw):
        seen.update(settings, **kw)
        on_epoch({"epoch": 3, "valid": 8.9, "train_loss": 9.0, "lr": 0.001})
        result = {"metric": "nll", "test": 8.6, "best_valid": 8.7, "best_epoch": 2, "epochs": 3,
                  "stopped": "time limit", "seconds": 20.0}
        (run_dir / "result.json").write_text(json.dumps(result))
        return result

    monkeypatch.setattr(launch, "run_training", fake_run)
    reports = []
    trial = Trial(id="t-s1", config_id="t", model="rnn", label="RNN", dataset="jsb", dataset_label="jsb",
                  spec="/x/rnn.rnn", spec_shown="rnn.rnn", sizes={"H": 8},
                  flags={"time_limit": 100, "seed": 1})
    record = worker.execute(trial, run_dir, reports.append)
    assert seen["resume"] == str(run_dir) and seen["time_limit"] == 25.0  # 100 - (30 + 40 + 5)
    usage = {k: reports[0].pop(k) for k in ("cpu_seconds", "load")}  # test_sweep_trust.py checks them
    assert reports == [{"epoch": 3, "valid": 8.9, "best_valid": 8.7, "train_loss": 9.0, "lr": 0.001}]
    assert usage["cpu_seconds"] >= 0 and set(usage["load"]) == {"start", "max", "end", "cpus"}
    assert (record["status"], record["test"], record["seconds"]) == ("ok", 8.6, 95.0)


def test_report_counts_a_trial_given_twice_once(tmp_path, capsys):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(results_line("jsb", "RNN", 8.5, 8.6)) + "\n")
    assert main(["report", str(path), str(path), "--out", str(tmp_path), "--no-figures"]) == 0
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| JSB Chorales | RNN | 8.500 | 1 |" in text and not (tmp_path / "figures").exists()


def test_a_failure_of_tune_itself_is_a_clear_error(tmp_path, monkeypatch):
    import ray.tune

    from rnnalg.errors import SweepRunError
    from rnnalg.sweep import runner

    class BrokenTuner:  # as when Ray's memory monitor killed workers while Tune started them
        def __init__(self, *args, **kwargs):
            pass

        def fit(self):
            raise RuntimeError("Caught unexpected exception: 2 worker(s) were killed\nObject store memory …")

    monkeypatch.setattr(ray.tune, "Tuner", BrokenTuner)
    with pytest.raises(SweepRunError, match=r"Ray Tune stopped: Caught unexpected exception: 2 worker\(s\) "
                                            r"were killed\nno trial ended; continue with --resume$"):
        runner.run([trial("a-s1")], {"a-s1": 10}, tmp_path, tmp_path / "r.jsonl", {}, resume=False,
                   cpus_per_trial=1, asha=None)
