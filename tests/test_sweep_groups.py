"""ASHA's groups (`[sweep.asha] group_by`): which trials compete, the pruning decisions per group
on a fake trial stream, the sweep file's checks, `--dry-run`, and the groups a resume keeps."""
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from rnnalg.cli import main
from rnnalg.errors import UsageError
from rnnalg.sweep.groups import describe_groups, group_fields, group_of, groups_of, rung_epochs
from rnnalg.sweep.sweepfile import load_sweep
from rnnalg.sweep.trials import expand

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ASHA = """\
[sweep.asha]
grace_period = 10
reduction_factor = 3
max_epochs = 200
"""
GROUPED = ASHA + 'group_by = ["weight_noise"]\n'


def sweep_text(asha=GROUPED):
    """Two models; RNN: 2 noises × 3 lr samples; DOT(S) without noise (6 trials a model)."""
    return f"""\
[sweep]
datasets = ["jsb"]
samples = 3
{asha}
[train]
epochs = 200
weight_noise = [0.0, 0.02]
lr = {{ loguniform = [3e-4, 3e-3] }}

[model.rnn]
spec = "{EXAMPLES / 'rnn.rnn'}"
set = {{ H = [8, 16] }}

[model.dots]
spec = ["{EXAMPLES / 'dots.rnn'}", "{EXAMPLES / 'dots_star.rnn'}"]
set = {{ H = 8 }}
train = {{ weight_noise = 0.0 }}
"""


def write(tmp_path, text, name="s.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_group_is_dataset_model_and_the_values_of_group_by(tmp_path):
    sweep = load_sweep(write(tmp_path, sweep_text()))
    trials = expand(sweep)
    fields = group_fields(sweep.asha)
    assert fields == ("dataset", "model", "weight_noise")
    assert group_of(trials[0].to_json(), fields) == ("jsb", "rnn", 0.0)
    groups = groups_of(trials, sweep.asha)
    assert {label: len(ids) for label, ids in groups.items()} == {
        "jsb · rnn · weight_noise=0.0": 6, "jsb · rnn · weight_noise=0.02": 6,  # 2 sizes × 3 samples
        "jsb · dots · weight_noise=0.0": 6}  # DOT(S) has no noise axis: one group (2 specs × 3)
    assert all(t.flags["weight_noise"] == 0.02 for t in trials if t.id in groups["jsb · rnn · weight_noise=0.02"])
    # any grid axis: a size, the spec; per = "dataset" drops the model
    by_size = group_fields({"group_by": ["set.H", "spec"], "per": "dataset"})
    assert by_size == ("dataset", "set.H", "spec")
    assert {group_of(t.to_json(), by_size) for t in trials} == {
        ("jsb", 8, "rnn.rnn"), ("jsb", 16, "rnn.rnn"), ("jsb", 8, "dots.rnn"), ("jsb", 8, "dots_star.rnn")}
    assert groups_of(trials, {"grace_period": 10}) == {  # no group_by: one group per (dataset, model)
        "jsb · rnn": [t.id for t in trials[:12]], "jsb · dots": [t.id for t in trials[12:]]}


def test_the_rungs_are_where_rays_asha_puts_them():
    assert rung_epochs({"grace_period": 10, "reduction_factor": 3}, 200) == [10, 30, 90]
    assert rung_epochs({"grace_period": 1, "reduction_factor": 2}, 8) == [1, 2, 4, 8]
    # a grace past the epochs is capped at max_t = epochs + 1, which no trial reaches: no rung
    assert rung_epochs({"grace_period": 5}, 3) == []


def stream(trials, valid):
    """A fake Tune trial per sweep trial, as GroupedASHA sees it."""
    return {t.id: SimpleNamespace(trial_id=t.id, config={"trial": t.to_json()}) for t in trials if t.id in valid}


def decide(asha, trials, valid: dict, epoch: int = 10) -> dict:
    """Each trial's decision when it reports `valid[id]` at `epoch`, in the order of `valid`."""
    from ray.tune.schedulers import TrialScheduler

    from rnnalg.sweep.scheduler import GroupedASHA

    scheduler = GroupedASHA(asha, max_epochs=200)
    fake = stream(trials, valid)
    for trial_id in valid:
        scheduler.on_trial_add(None, fake[trial_id])
    names = {TrialScheduler.CONTINUE: "continue", TrialScheduler.STOP: "stop"}
    return {i: names[scheduler.on_trial_result(None, fake[i], {"epoch": epoch, "valid": v})]
            for i, v in valid.items()}


def test_grouped_asha_keeps_the_best_noisy_trial_that_per_model_asha_stops(tmp_path):
    """The issue's case in numbers: at the first rung (epoch 10) the noisy trials (8.6-8.9) all
    trail the noise-free ones (8.0-8.2).  Per model, every noisy trial is stopped; grouped by
    weight noise, the best noisy trial goes on, and each group keeps its own best third."""
    pytest.importorskip("ray")
    sweep = load_sweep(write(tmp_path, sweep_text()))
    trials = [t for t in expand(sweep) if t.model == "rnn" and t.sizes["H"] == 8]
    quiet = [t.id for t in trials if t.flags["weight_noise"] == 0.0]
    noisy = [t.id for t in trials if t.flags["weight_noise"] == 0.02]
    assert len(quiet) == len(noisy) == 3
    # alternating arrivals at epoch 10, as two trials at a time would bring them
    valid = {quiet[0]: 8.0, noisy[0]: 8.6, quiet[1]: 8.1, noisy[1]: 8.7, quiet[2]: 8.2, noisy[2]: 8.9}
    per_model = decide({"grace_period": 10, "reduction_factor": 3}, trials, valid)
    assert [per_model[i] for i in valid] == ["continue", "stop", "continue", "stop", "stop", "stop"]
    grouped = decide(sweep.asha, trials, valid)
    assert [grouped[i] for i in valid] == ["continue", "continue", "stop", "stop", "stop", "stop"]
    # the same stream at epoch 9 (before the first rung): nobody is judged yet
    early = decide(sweep.asha, trials, valid, epoch=9)
    assert set(early.values()) == {"continue"}


BAD_GROUPS = [
    ('group_by = ["momentum"]',
     "s.toml: sweep.asha.group_by: error: 'momentum' is not a grid axis of this file: ASHA groups trials by "
     "a flag given as a list, set.NAME or spec (this file's axes: set.H, spec, weight_noise)"),
    ('group_by = ["lr"]', "s.toml: sweep.asha.group_by: error: 'lr' is not a grid axis of this file"),
    ('group_by = ["epochs"]', "s.toml: sweep.asha.group_by: error: 'epochs' is not a grid axis of this file"),
    ('group_by = ["set.Q"]', "s.toml: sweep.asha.group_by: error: 'set.Q' is not a grid axis of this file"),
    ('group_by = "weight_noise"',
     "s.toml: sweep.asha.group_by: error: expected a list of grid axes, e.g. [\"weight_noise\"], "
     "got 'weight_noise'"),
    ('group_by = ["weight_noise", "weight_noise"]',
     "s.toml: sweep.asha.group_by: error: 'weight_noise' is listed twice"),
    ('group_by = ["model"]',
     "s.toml: sweep.asha.group_by: error: 'model' is not a grid axis: trials are always grouped by dataset"),
]


@pytest.mark.parametrize("line, message", BAD_GROUPS)
def test_a_group_by_that_is_not_a_grid_axis_names_the_file_and_key(tmp_path, monkeypatch, capsys, line, message):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, sweep_text(ASHA + line + "\n"))
    assert main(["sweep", "s.toml", "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(message), err
    assert "Traceback" not in err


def test_a_flag_listed_only_in_one_models_table_is_a_grid_axis(tmp_path):
    text = sweep_text(ASHA + 'group_by = ["batch_size"]\n').replace(
        "set = { H = [8, 16] }", "set = { H = [8, 16] }\ntrain = { batch_size = [4, 8] }")
    sweep = load_sweep(write(tmp_path, text))
    groups = groups_of(expand(sweep), sweep.asha)
    assert list(groups) == ["jsb · rnn · batch_size=4", "jsb · rnn · batch_size=8",
                            "jsb · dots · batch_size=default"]  # DOT(S) runs at train's default


def test_dry_run_lists_the_groups_and_their_rungs(tmp_path, capsys):
    assert main(["sweep", str(write(tmp_path, sweep_text())), "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-5:] == ["ASHA: 3 groups by (dataset, model, weight_noise); each keeps its best 1/3 "
                        "at epochs 10, 30, 90",
                        "  jsb · rnn · weight_noise=0.0: 6 trials",
                        "  jsb · rnn · weight_noise=0.02: 6 trials",
                        "  jsb · dots · weight_noise=0.0: 6 trials",
                        "18 trials"]


def test_the_grouped_musedata_search_splits_each_model_by_noise():
    root = Path(__file__).resolve().parents[1]
    sweep = load_sweep(root / "experiments" / "musedata_search_grouped.toml")
    ungrouped = load_sweep(root / "experiments" / "musedata_search.toml")
    assert sweep.asha == {**ungrouped.asha, "group_by": ["weight_noise"]}
    trials = expand(sweep)
    assert [t.id for t in trials] == [t.id for t in expand(ungrouped)]  # the same 60 trials
    sizes = {label: len(ids) for label, ids in groups_of(trials, sweep.asha).items()}
    assert len(sizes) == 9 and sizes.pop("musedata · dots_star · weight_noise=0.0") == 12
    assert set(sizes.values()) == {6}
    assert describe_groups(trials, sweep.asha)[0].endswith("at epochs 10, 30, 90")


def test_sweep_json_records_the_groups_and_a_resume_keeps_them(tmp_path):
    pytest.importorskip("ray")
    from rnnalg.sweep.runner import prepare_out

    sweep = load_sweep(write(tmp_path, sweep_text()))
    trials = expand(sweep)
    out = tmp_path / "out"
    prepare_out(out, trials, resume=False, force=False, asha=sweep.asha)
    state = json.loads((out / "sweep.json").read_text())
    assert state["asha"]["fields"] == ["dataset", "model", "weight_noise"]
    assert state["asha"]["groups"] == groups_of(trials, sweep.asha)
    prepare_out(out, trials, resume=True, force=False, asha=sweep.asha)  # the same groups: fine
    prepare_out(out, trials, resume=True, force=False, asha=None)  # no ASHA now: nothing is pruned,
    assert json.loads((out / "sweep.json").read_text())["asha"] == state["asha"]  # the record stays
    ungrouped = {k: v for k, v in sweep.asha.items() if k != "group_by"}
    with pytest.raises(UsageError, match=r"groups trials by \(dataset, model\), but the trials of .* were "
                                         r"pruned in groups by \(dataset, model, weight_noise\)"):
        prepare_out(out, trials, resume=True, force=False, asha=ungrouped)
    # a sweep.json of before group_by (no "asha" key): its groups had no grid axis
    (out / "sweep.json").write_text(json.dumps({"trials": state["trials"]}))
    prepare_out(out, trials, resume=True, force=False, asha=None)  # (a resume without ASHA keeps it so)
    assert "asha" not in json.loads((out / "sweep.json").read_text())
    with pytest.raises(UsageError, match="pruned in groups without group_by"):
        prepare_out(out, trials, resume=True, force=False, asha=sweep.asha)
    prepare_out(out, trials, resume=True, force=False, asha=ungrouped)
    assert json.loads((out / "sweep.json").read_text())["asha"]["fields"] == ["dataset", "model"]
    # a sweep without ASHA before may add grouped ASHA on a resume
    (out / "sweep.json").write_text(json.dumps({"trials": state["trials"], "asha": None}))
    prepare_out(out, trials, resume=True, force=False, asha=sweep.asha)


def test_sweep_help_documents_the_asha_table(capsys):
    assert main(["sweep", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for key in ("grace_period", "reduction_factor", "max_epochs", 'per = "model"', 'group_by = ["weight_noise"]'):
        assert key in out
    assert "--dry-run list the trials (id, parameters, command) and ASHA's groups" in out


# ---- a resumed sweep's rungs start with what the earlier invocation reported --------------------

RESUMED_ASHA = {"grace_period": 1, "reduction_factor": 2, "group_by": ["weight_noise"]}  # rungs 1, 2, 4


def test_a_resumed_sweep_prunes_as_the_uninterrupted_one_would(tmp_path):
    """One group, four trials; rungs at epochs 1, 2, 4.  Before the interruption: a ended (epochs
    1-4), b was pruned at rung 1 (and finished epoch 2 before Tune stopped it, which ASHA never
    saw), c has a checkpoint after epoch 1, d had not started; a noisy trial ran in a group of
    its own.  After it: c reports epoch 2, d epoch 1.  The uninterrupted sweep stops both; a
    scheduler that starts with empty rungs (the resume before) let both go on."""
    pytest.importorskip("ray")
    from ray.tune.schedulers import TrialScheduler

    from rnnalg.sweep.rungs import earlier_curves
    from rnnalg.sweep.scheduler import GroupedASHA

    sweep = load_sweep(write(tmp_path, sweep_text()))
    trials = [t for t in expand(sweep) if t.model == "rnn"]
    a, b, c, d = [t for t in trials if t.flags["weight_noise"] == 0.0][:4]
    noisy = next(t for t in trials if t.flags["weight_noise"] == 0.02)
    curves = {a.id: [8.0, 7.8, 7.7, 7.6], b.id: [8.5, 8.3], c.id: [8.2], noisy.id: [9.5, 9.4]}
    before = [(a, 1), (b, 1), (c, 1), (noisy, 1), (noisy, 2), (a, 2), (a, 3), (a, 4)]
    after = [(c, 2, 7.9), (d, 1, 8.4)]
    names = {TrialScheduler.CONTINUE: "continue", TrialScheduler.STOP: "stop"}

    def fake(t):
        return SimpleNamespace(trial_id=f"tune-{t.id}", config={"trial": t.to_json()})

    def decisions(scheduler, events):
        tune_trials = {}
        for t, epoch, valid in events:
            if t.id not in tune_trials:
                tune_trials[t.id] = fake(t)
                scheduler.on_trial_add(None, tune_trials[t.id])
            yield names[scheduler.on_trial_result(None, tune_trials[t.id], {"epoch": epoch, "valid": valid})]

    uninterrupted = list(decisions(GroupedASHA(RESUMED_ASHA, 4), [(t, e, curves[t.id][e - 1]) for t, e in before]
                                   + after))
    assert uninterrupted[:3] == ["continue", "stop", "continue"] and uninterrupted[-2:] == ["stop", "stop"]

    # what the interruption left: results lines for a, b and the noisy trial, c's run folder
    out = tmp_path / "out"
    for t, epochs in ((a, 4), (b, 1), (c, None), (noisy, 2)):
        (out / "runs" / t.id).mkdir(parents=True)
        (out / "runs" / t.id / "metrics.jsonl").write_text("".join(
            json.dumps({"epoch": e, "valid": v, "train_loss": v + 0.1}) + "\n" for e, v in enumerate(curves[t.id], 1)))
    lines = {a.id: {"status": "ok", "epochs": 4, "curve": [[1, 8.0]]},  # the run folder's curve is preferred
             b.id: {"status": "pruned", "epochs": 1, "curve": None},
             noisy.id: {"status": "failed", "error": "NaN"}}  # no epochs: its whole curve
    ended, continued = earlier_curves(trials, lines, out)
    assert [(j["id"], len(curve)) for j, curve in ended] == [(a.id, 4), (b.id, 1), (noisy.id, 2)]
    assert continued == {c.id: [(1, 8.2)]}
    assert list(decisions(GroupedASHA(RESUMED_ASHA, 4, ended, continued), after)) == uninterrupted[-2:]
    assert list(decisions(GroupedASHA(RESUMED_ASHA, 4), after)) == ["continue", "continue"]  # empty rungs
    # b's epoch 2, never reported, would have let c go on (cutoff 8.05 at rung 2 instead of 7.8)
    unread = [(j, [(e, v) for e, v in enumerate(curves[j["id"]], 1)]) for j, _ in ended]
    assert list(decisions(GroupedASHA(RESUMED_ASHA, 4, unread, continued), after))[0] == "continue"
