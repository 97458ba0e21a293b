"""Results a reader can trust (issue 16): no empty results file while a sweep runs, each line's
CPU seconds and machine load, the report's CPU budget and loaded-machine mark, and one rule
choosing a cell's configuration for the sweep's table and the report."""
import json
import threading
import time

import pytest

from rnnalg.cli import main
from rnnalg.sweep import usage, worker
from rnnalg.sweep.trials import Trial

ray = pytest.importorskip("ray")


def trial(trial_id, time_limit=None):
    flags = {"seed": 1, **({"time_limit": time_limit} if time_limit else {})}
    return Trial(id=trial_id, config_id=trial_id[:-3], model="rnn", label="RNN", dataset="jsb",
                 dataset_label="jsb", spec="/x/rnn.rnn", spec_shown="rnn.rnn", sizes={"H": 8}, flags=flags)


class BrokenTuner:
    """A Tune that dies before any trial ends (a sweep killed early)."""

    def __init__(self, *args, **kwargs):
        pass

    def fit(self):
        raise RuntimeError("killed before any trial ended")


def tuner_killed_before_any_trial_ended(monkeypatch):
    import ray.tune
    monkeypatch.setattr(ray.tune, "Tuner", BrokenTuner)


# ---- 1. the results file appears with its first line ------------------------------------------

def test_a_sweep_stopped_before_any_trial_ended_leaves_no_results_file(tmp_path, monkeypatch):
    """`rnnalg report experiments/results/*.jsonl` refuses an empty file: a running sweep must not
    leave one (it did: the recorder wrote the file, empty, before the first trial started)."""
    from rnnalg.errors import SweepRunError
    from rnnalg.sweep import runner

    tuner_killed_before_any_trial_ended(monkeypatch)
    results = tmp_path / "r.jsonl"
    with pytest.raises(SweepRunError, match="no trial ended; continue with --resume"):
        runner.run([trial("a-s1")], {"a-s1": 10}, tmp_path, results, {}, resume=False, cpus_per_trial=1, asha=None)
    assert not results.exists() and list(tmp_path.glob(".r.jsonl*")) == []


@pytest.mark.parametrize("resume", [False, True])
def test_an_empty_results_file_of_an_earlier_sweep_is_removed(tmp_path, monkeypatch, resume):
    """Sweeps before the fix left an empty results file at their start; a resumed (or new) sweep
    stopped before any trial ended kept it, and the report over experiments/results/*.jsonl
    refused it.  The report still refuses an empty file it is given."""
    from rnnalg.errors import SweepRunError
    from rnnalg.sweep import runner

    tuner_killed_before_any_trial_ended(monkeypatch)
    results = tmp_path / "r.jsonl"
    results.write_text("\n")
    assert main(["report", str(results), "--out", str(tmp_path / "report")]) == 1
    with pytest.raises(SweepRunError, match="no trial ended"):
        runner.run([trial("a-s1")], {"a-s1": 10}, tmp_path, results, {}, resume=resume, cpus_per_trial=1, asha=None)
    assert not results.exists()


def test_the_first_ended_trial_creates_the_results_file(tmp_path):
    from rnnalg.sweep.runner import Recorder

    path = tmp_path / "results.jsonl"
    rec = Recorder(path, ["t1"], {"t1": {"trial": {"id": "t1"}, "params": 1, "command": "c"}}, {}, pruning=False)
    rec.write()
    assert not path.exists()
    rec.on_trial_complete(0, [], type("T", (), {"config": {"trial": {"id": "t1"}}, "last_result": {
        "epoch": 1, "best_valid": 8.0, "time_total_s": 3.0, "cpu_seconds": 2.5,
        "load": {"start": 0.5, "max": 3.5, "end": 1.0, "cpus": 2}}})())
    [line] = [json.loads(x) for x in path.read_text().splitlines()]
    # a trial stopped between epochs keeps the usage its last epoch reported
    assert (line["status"], line["cpu_seconds"], line["load"]["max"]) == ("stopped", 2.5, 3.5)


def test_force_removes_a_results_file_left_without_a_line(tmp_path):
    from rnnalg.commands.sweep import _drop_own_lines

    results, out = tmp_path / "r.jsonl", tmp_path / "out"
    own = {"trial": {"id": "a-s1"}, "status": "ok", "run_dir": str(out / "runs" / "a-s1")}
    other = {"trial": {"id": "b-s1"}, "status": "ok", "run_dir": str(tmp_path / "elsewhere" / "runs" / "b-s1")}
    results.write_text(json.dumps(own) + "\n" + json.dumps(other) + "\n")
    _drop_own_lines(results, out, [trial("a-s1")])
    assert [json.loads(x)["trial"]["id"] for x in results.read_text().splitlines()] == ["b-s1"]
    results.write_text(json.dumps(own) + "\n")
    _drop_own_lines(results, out, [trial("a-s1")])
    assert not results.exists()


# ---- 2. CPU seconds and load in every line -----------------------------------------------------

def _burn(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def _fake_training(run_dir, burn=0.3):
    def fake_run(spec, settings, *, on_epoch, **kw):
        run_dir.mkdir(exist_ok=True)
        helper = threading.Thread(target=_burn, args=(burn,))  # a BLAS thread's work counts too
        helper.start()
        _burn(burn)
        helper.join()
        on_epoch({"epoch": 1, "valid": 8.9, "train_loss": 9.0, "lr": 0.001})
        result = {"metric": "nll", "test": 8.6, "best_valid": 8.9, "best_epoch": 1, "epochs": 1,
                  "stopped": "time limit", "seconds": 2.0}
        (run_dir / "result.json").write_text(json.dumps(result))
        return result
    return fake_run


def test_a_trial_records_its_process_cpu_seconds_and_the_load(tmp_path, monkeypatch):
    from rnnalg.train import launch

    run_dir = tmp_path / "run"
    monkeypatch.setattr(launch, "run_training", _fake_training(run_dir))
    loads = iter([0.5, 3.25, 1.25])  # at the start, after the epoch, at the end
    monkeypatch.setattr(usage, "load_average", lambda: next(loads))
    reports = []
    record = worker.execute(trial("t-s1", time_limit=100), run_dir, reports.append)
    assert record["cpu_seconds"] >= 0.55  # both threads' 0.3 s
    assert record["load"] == {"start": 0.5, "max": 3.25, "end": 1.25, "cpus": usage.os.cpu_count()}
    assert reports[0]["epoch"] == 1 and reports[0]["cpu_seconds"] >= 0.55 and reports[0]["load"]["max"] == 3.25
    assert json.loads((run_dir / usage.FILE).read_text()) == {k: record[k] for k in ("cpu_seconds", "load")}

    again = worker.execute(trial("t-s1", time_limit=100), run_dir, reports.append)  # only read back
    assert (again["cpu_seconds"], again["load"]) == (record["cpu_seconds"], record["load"])


def test_a_continued_trial_adds_to_its_earlier_attempts(tmp_path, monkeypatch):
    from rnnalg.train import launch

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / usage.FILE).write_text(json.dumps({"cpu_seconds": 100.0,
                                                  "load": {"start": 0.25, "max": 4.0, "end": 2.0, "cpus": 2}}))
    monkeypatch.setattr(launch, "run_training", _fake_training(run_dir, burn=0.05))
    monkeypatch.setattr(usage, "load_average", lambda: 1.0)
    record = worker.execute(trial("t-s1"), run_dir, lambda metrics: None)
    assert 100.05 <= record["cpu_seconds"] < 110
    assert record["load"] == {"start": 0.25, "max": 4.0, "end": 1.0, "cpus": usage.os.cpu_count()}


def test_a_failed_attempt_records_what_it_used(tmp_path, monkeypatch):
    from rnnalg.errors import DataError
    from rnnalg.train import launch

    def failing(spec, settings, **kw):
        _burn(0.05)
        raise DataError("x.json", "bad data")

    monkeypatch.setattr(launch, "run_training", failing)
    record = worker.execute(trial("t-s1"), tmp_path / "never", lambda metrics: None)
    assert record["status"] == "failed" and record["cpu_seconds"] >= 0.05 and "max" in record["load"]


# ---- the report: CPU budget and a loaded machine -----------------------------------------------

def _line(seed, test, valid, stopped="time limit", **extra):
    flags = {"lr": 0.001, "seed": seed, "time_limit": 600}
    return {"trial": {"id": f"rnn-s{seed}", "config_id": "rnn", "label": "RNN", "dataset": "jsb",
                      "dataset_label": "jsb", "flags": flags, "sizes": {"H": 10}, "spec_shown": "rnn.rnn"},
            "status": "ok", "error": None, "metric": "nll", "test": test, "best_valid": valid, "best_epoch": 3,
            "epochs": 3, "stopped": stopped, "seconds": 600.0, "params": 1234,
            "curve": [[1, 9.0], [2, 8.8], [3, 8.7]], "command": f"rnnalg train rnn.rnn --seed {seed}",
            "commit": "abc123", **extra}


def _report(tmp_path, lines):
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert main(["report", str(path), "--out", str(tmp_path / "out"), "--no-figures"]) == 0
    return (tmp_path / "out" / "RESULTS.md").read_text()


def test_the_report_states_cpu_seconds_and_marks_a_figure_a_loaded_machine_may_have_worsened(tmp_path):
    busy = {"start": 1.9, "max": 3.5, "end": 2.5, "cpus": 2}
    calm = {"start": 0.5, "max": 1.5, "end": 1.0, "cpus": 2}
    text = _report(tmp_path, [_line(1, 8.5, 8.6, cpu_seconds=550.0, load=calm),
                              _line(2, 8.7, 8.8, cpu_seconds=380.0, load=busy),
                              _line(3, 8.6, 8.7)])  # an old line: no usage recorded
    row = next(r for r in text.splitlines() if r.startswith("| JSB Chorales | RNN |"))
    assert "| 8.600 ± 0.100 † | 3 |" in row and "| 1800 (CPU 930 of 2/3) |" in row
    assert "rnn-s2 was stopped by its time limit on a loaded machine (1-minute load up to 3.5 on 2 CPUs; 1.9 at its start)" in text
    assert "rnn-s1 was stopped" not in text and "*budget s* (CPU N)" in text


def test_a_loaded_machine_is_not_marked_where_the_clock_did_not_stop_the_trial(tmp_path):
    busy = {"start": 1.9, "max": 3.5, "end": 2.5, "cpus": 2}
    text = _report(tmp_path, [_line(1, 8.5, 8.6, stopped="early stop", cpu_seconds=500.0, load=busy)])
    assert "†" not in text and "| 600 (CPU 500) |" in text


def test_lines_without_usage_give_the_report_as_before(tmp_path):
    text = _report(tmp_path, [_line(1, 8.5, 8.6), _line(2, 8.7, 8.8)])
    assert "CPU" not in text and "†" not in text and "| 1200 |" in text


# ---- 4. one rule chooses a cell's configuration -----------------------------------------------

def test_the_sweeps_table_and_the_report_choose_the_same_configuration(tmp_path):
    """Configuration a wins on the search's seed 1 (8.0 vs 8.3) and has fresh seeds 2, 3 whose
    validation is worse; the old table chose b on a's mean over all its seeds (8.6) and showed a
    figure over seed 1 too.  Both now choose a and show its fresh seeds."""
    from rnnalg.sweep.cells import build_cells
    from rnnalg.sweep.dataid import known_fingerprints
    from rnnalg.sweep.report import METRIC_OF
    from rnnalg.sweep.results import best_cells, format_table

    def config(name, seed, valid, test):
        line = _line(seed, test, valid, stopped="early stop")
        line["trial"].update(id=f"{name}-s{seed}", config_id=name)
        line["trial"]["flags"]["lr"] = {"a": 0.001, "b": 0.003}[name]
        return line

    lines = [config("a", 1, 8.0, 8.1), config("a", 2, 8.9, 8.4), config("a", 3, 8.9, 8.6), config("b", 1, 8.3, 7.0)]
    [table] = best_cells(lines)
    [reported] = build_cells(lines, known_fingerprints(), set(METRIC_OF))
    assert (table.config_id, table.test) == (reported.config_id, reported.test) == ("a", [8.4, 8.6])
    row = format_table(lines).splitlines()[1]
    assert "8.500 ± 0.141" in row and "a (best of 2)" in row
    assert "| 8.500 ± 0.141 | 2 |" in _report(tmp_path, lines)


def test_the_report_and_the_sweeps_table_call_the_one_rule_with_the_same_inputs(tmp_path, monkeypatch):
    """By construction: both go through `results.best_cells`, so `cells.build_cells` sees the same
    known fingerprints and dataset names.  The report called it itself with the names of its metric
    table, which a new named dataset (here 'newset') would not be in at first: its lines would have
    been named data in the sweep's table and a file in the report."""
    from rnnalg.data import dataset
    from rnnalg.sweep import cells
    from rnnalg.sweep.results import format_table

    monkeypatch.setattr(dataset, "NAMED", {**dataset.NAMED, "newset": None})

    calls = []
    build = cells.build_cells

    def spy(lines, known, names):
        calls.append((known, frozenset(names)))
        return build(lines, known, names)

    monkeypatch.setattr(cells, "build_cells", spy)
    lines = [_line(1, 8.5, 8.6), _line(2, 8.7, 8.8)]
    format_table(lines)
    _report(tmp_path, lines)
    assert len(calls) == 2 and calls[0] == calls[1] and "newset" in calls[0][1]
