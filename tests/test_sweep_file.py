"""Sweep files: located errors, the expansion into trials, the best-per-cell choice (no Ray)."""
import shlex
from pathlib import Path

import pytest

from rnnalg.cli import main
from rnnalg.sweep.cells import BUDGET_FLAGS
from rnnalg.sweep.results import best_cells, format_table
from rnnalg.sweep.sweepfile import load_sweep, train_parser
from rnnalg.sweep.trials import expand, load_params

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
GOOD = f"""\
[sweep]
datasets = ["jsb", "nottingham"]
seeds = [1, 2]
samples = 3

[train]
time_limit = 60
weight_noise = [0.0, 0.02]
lr = {{ loguniform = [1e-4, 1e-2] }}

[data.nottingham]
time_limit = 90

[model.rnn]
label = "RNN"
spec = "{EXAMPLES / 'rnn.rnn'}"
set = {{ H = [8, 16] }}

[model.dots]
spec = "{EXAMPLES / 'dots.rnn'}"
train = {{ nesterov = true, optimizer = "sgd" }}
"""


def write(tmp_path, text, name="s.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_expansion_is_the_product_in_a_fixed_order(tmp_path):
    trials = expand(load_sweep(write(tmp_path, GOOD)))
    # rnn: 2 datasets × 2 sizes × 2 noises × 3 samples × 2 seeds; dots: 2 × 2 × 3 × 2
    assert len(trials) == 48 + 24 and len({t.id for t in trials}) == 72
    assert trials[0].id.startswith("rnn-jsb-H8-wn0.0-lr") and trials[0].id.endswith("-s1")
    assert [t.flags["seed"] for t in trials[:4]] == [1, 2, 1, 2]
    assert {t.flags["time_limit"] for t in trials if t.dataset == "nottingham"} == {90}
    lrs = [t.flags["lr"] for t in trials]
    assert all(1e-4 <= lr <= 1e-2 for lr in lrs) and len(set(lrs)) == 3 * 4  # 3 samples per grid point
    again = expand(load_sweep(write(tmp_path, GOOD)))
    assert again == trials  # the same file gives the same trials


def test_sample_k_is_the_same_for_every_model_and_dataset(tmp_path):
    trials = expand(load_sweep(write(tmp_path, GOOD)))
    first = {}  # grid point 0 (wn 0, H 8) of each model and dataset -> its sampled lrs
    for t in trials:
        if t.flags["weight_noise"] == 0.0 and t.sizes.get("H", 8) == 8 and t.flags["seed"] == 1:
            first.setdefault((t.model, t.dataset), []).append(t.flags["lr"])
    assert len(first) == 4 and len(set(map(tuple, first.values()))) == 1
    assert len(set(first["rnn", "jsb"])) == 3


def test_a_trial_is_a_train_command_line(tmp_path):
    trial = expand(load_sweep(write(tmp_path, GOOD)))[-1]
    argv = shlex.split(trial.command())
    assert argv[:2] == ["rnnalg", "train"]
    args = train_parser().parse_args(argv[2:])
    assert (args.spec, args.data, args.seed, args.nesterov, args.optimizer) == \
        (str(EXAMPLES / "dots.rnn"), "nottingham", 2, True, "sgd")


def test_dry_run_lists_trials_with_parameter_counts(tmp_path, capsys):
    assert main(["sweep", str(write(tmp_path, GOOD)), "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "72 trials"
    assert " 1,568 parameters " in out[0]  # RNN H=8 (rnnalg compile --set H=8)


BAD = [
    ("[sweep]\ndatasets = [\"jsb\"]\nseed = [1]\n", "s.toml: line 3: sweep.seed: error: unknown key 'seed'"),
    ("[sweep]\ndatasets = [\"jsb\", \"mozart\"]\n", "s.toml: line 2: sweep.datasets: error: 'mozart' is neither"),
    ("[sweep]\ndatasets = \"jsb\"\n", "s.toml: line 2: sweep.datasets: error: expected a non-empty list"),
    ("[sweep]\ndatasets = [\"jsb\"]\nseeds = [1, -2]\n", "s.toml: line 3: sweep.seeds: error: expected integers >= 0"),
    ("[sweep]\ndatasets = [\"jsb\"]\nseeds = [1, 2, 1]\n[model.a]\nspec = \"a.rnn\"\n",
     "s.toml: line 3: sweep.seeds: error: seed 1 is listed twice"),  # was an AssertionError's traceback
    ("[sweep]\ndatasets = [\"jsb\"]\n[train]\nlr = \"fast\"\n",
     "s.toml: line 4: train.lr: error: argument --lr: must be a finite number > 0, got 'fast'"),
    ("[sweep]\ndatasets = [\"jsb\"]\n[train]\nlearning_rate = 0.1\n",
     "s.toml: line 4: train.learning_rate: error: unknown key 'learning_rate'"),
    ("[sweep]\ndatasets = [\"jsb\"]\n[train]\nseed = 3\n", "s.toml: line 4: train.seed: error: unknown key 'seed'"),
    ("[sweep]\ndatasets = [\"jsb\"]\n[train]\noptimizer = [\"adam\", \"rmsprop\"]\n",
     "s.toml: line 4: train.optimizer: error: argument --optimizer: invalid choice: 'rmsprop'"),
    ("[sweep]\ndatasets = [\"jsb\"]\n[train]\nepochs = { uniform = [1, 9] }\n",
     "s.toml: line 4: train.epochs: error: only float flags take a random range"),
    ("[sweep]\ndatasets = [\"jsb\"]\n[train]\nlr = { loguniform = [0, 1] }\n",
     "s.toml: line 4: train.lr.loguniform: error: expected LOW < HIGH and LOW > 0, got [0, 1]"),
    ("[sweep]\ndatasets = [\"jsb\"]\n[train]\nlr = { normal = [0, 1] }\n",
     "s.toml: line 4: train.lr: error: a range is written"),
    ("[sweep]\ndatasets = [\"jsb\"]\n[data.piano]\nepochs = 3\n",
     "s.toml: line 3: data.piano: error: 'piano' is not in sweep.datasets (jsb)"),
    ("[sweep]\ndatasets = [\"jsb\"]\n", "s.toml: model: error: no models"),
    ("[sweep]\ndatasets = [\"jsb\"]\n[model.\"DOT(S)\"]\nspec = \"x.rnn\"\n",
     "s.toml: line 3: model.DOT(S): error: a model's key may hold only letters"),
    ("[sweep]\ndatasets = [\"jsb\"]\n[model.a]\nspec = \"missing.rnn\"\n",
     "s.toml: line 4: model.a.spec: error: no such file: missing.rnn"),
    (f"[sweep]\ndatasets = [\"jsb\"]\n[model.a]\nspec = \"{EXAMPLES / 'rnn.rnn'}\"\nset = {{ H = 0 }}\n",
     "s.toml: line 5: model.a.set.H: error: expected integers >= 1, got 0"),
    (f"[sweep]\ndatasets = [\"jsb\"]\n[model.a]\nspec = \"{EXAMPLES / 'rnn.rnn'}\"\nsizes = {{ H = 4 }}\n",
     "s.toml: line 5: model.a.sizes: error: unknown key 'sizes' (expected one of: label, spec, set, train)"),
    ("[sweep]\ndatasets = [\"jsb\"\n", "s.toml: error: not valid TOML: "),
    (f"[sweep]\ndatasets = [\"jsb\"]\n[train]\nmomentum = [0.9, 1.5]\n[model.a]\nspec = \"{EXAMPLES / 'rnn.rnn'}\"\n",
     "s.toml: line 4: train.momentum: error: argument --momentum: must be a number in [0, 1), got 1.5"),
    ("[sweep]\ndatasets = [\"jsb\"]\n[sweep.asha]\nreduction_factor = 1\n",
     "s.toml: line 4: sweep.asha.reduction_factor: error: expected an integer >= 2"),
    ("[sweep]\ndatasets = [\"jsb\"]\n[sweep.asha]\nper = \"seed\"\n",
     "s.toml: line 4: sweep.asha.per: error: must be one of 'model', 'dataset', not 'seed'"),
]


@pytest.mark.parametrize("text, message", BAD)
def test_a_bad_sweep_file_names_the_file_and_key(tmp_path, monkeypatch, capsys, text, message):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, text)
    assert main(["sweep", "s.toml", "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(message), err
    assert "Traceback" not in err


def test_a_spec_error_stops_the_sweep_before_it_starts(tmp_path, capsys):
    (tmp_path / "bad.rnn").write_text("input x : binary[88]\noutput y : binary[88]\nstate h : 8\n"
                                      "h' = tanh(x ⊕ q)\ny = ▷ h'\n")
    write(tmp_path, "[sweep]\ndatasets = [\"jsb\"]\n[model.a]\nspec = \"bad.rnn\"\n")
    assert main(["sweep", str(tmp_path / "s.toml"), "--dry-run"]) == 1
    assert "bad.rnn:4:15: error: unbound name 'q'" in capsys.readouterr().err


def line(model, config, seed, valid, test, status="ok"):
    return {"trial": {"id": f"{config}-s{seed}", "config_id": config, "label": model, "dataset_label": "jsb"},
            "status": status, "best_valid": valid, "test": test, "metric": "nll", "params": 100,
            "seconds": 10.0}


def test_the_best_configuration_is_chosen_on_validation_never_on_test():
    lines = [line("RNN", "a", 1, 8.0, 9.0), line("RNN", "a", 2, 8.2, 9.2),  # mean valid 8.1
             line("RNN", "b", 1, 8.3, 7.0), line("RNN", "b", 2, 8.3, 7.0),  # better test, worse valid
             line("RNN", "c", 1, 1.0, 1.0, status="failed")]
    [cell] = best_cells(lines)
    # configurations tried, the failed one too (as the report counts them: one rule, cells.py)
    assert cell.config_id == "a" and cell.test == [9.0, 9.2] and cell.configs == 3
    assert "9.100 ± 0.141" in format_table(lines)
    assert "1 failed: c-s1" in format_table(lines)


def test_a_missing_dataset_stops_the_sweep_before_it_starts(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("RNNALG_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # an empty cache
    path = write(tmp_path, f"[sweep]\ndatasets = [\"jsb\", \"ptb-char\"]\n"
                           f"[model.a]\nspec = \"{EXAMPLES / 'char_rnn.rnn'}\"\n")
    assert main(["sweep", str(path), "--dry-run"]) == 1
    assert "dataset 'ptb-char' is not on this machine" in capsys.readouterr().err
    assert main(["sweep", str(path), "--dry-run", "--data-dir", str(tmp_path / "none")]) == 1
    assert "data folder (from --data-dir) is not a directory" in capsys.readouterr().err


EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


@pytest.mark.parametrize("name", ["music", "ptb_char", "ptb_word"])
def test_the_experiment_files_give_comparable_parameter_counts(name):
    trials = expand(load_sweep(EXPERIMENTS / f"{name}.toml"))
    counts = load_params(trials)
    assert max(counts.values()) <= 1.1 * min(counts.values())
    assert all(t.flags.get("time_limit") for t in trials)  # every trial has a budget


SWEEP_FILES = [p for p in sorted(EXPERIMENTS.glob("*.toml")) if "\n[search]" not in "\n" + p.read_text()]


@pytest.mark.parametrize("path", SWEEP_FILES, ids=lambda p: p.stem)
def test_every_experiment_file_loads_and_its_specs_check(path):
    """A committed sweep file (and every spec it names: experiments/specs/ too) still parses and
    checks at its sizes, with a parameter count for each trial (search files: test_search.py)."""
    trials = expand(load_sweep(path))
    assert trials and all(n > 0 for n in load_params(trials, path).values())


def test_a_spec_is_fingerprinted_by_its_checked_program_not_its_file(tmp_path):
    """The results lines' `spec_fingerprint` (collect.py tells trials apart by it): a copy of a spec
    in another folder, under another name and reformatted, is the same program; other sizes are not."""
    from rnnalg.sweep.trials import check_specs, spec_fingerprints

    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "copy.rnn").write_text("# a copy\n\n" + (EXAMPLES / "rnn.rnn").read_text())
    specs = (("a", EXAMPLES / "rnn.rnn", 8), ("b", tmp_path / "elsewhere" / "copy.rnn", 8),
             ("c", EXAMPLES / "rnn.rnn", 9), ("d", EXAMPLES / "dts.rnn", 8))
    models = "".join(f'[model.{name}]\nspec = "{path}"\nset = {{ H = {h} }}\n' for name, path, h in specs)
    trials = expand(load_sweep(write(tmp_path, f'[sweep]\ndatasets = ["jsb"]\nseeds = [1]\n{models}')))
    found = spec_fingerprints(check_specs(trials))
    a, b, c, d = (found[t.id] for t in trials)
    assert a == b and len({a, c, d}) == 3 and all(len(x) == 64 for x in (a, c, d))


def _flags_per_dataset(trials):
    """{dataset: the set of train flag settings its trials use}."""
    flags = {}
    for t in trials:
        flags.setdefault(t.dataset, set()).add(tuple(sorted(t.flags.items())))
    return flags


# issue 20's rows: the new cells at the paper rows' settings and parameter budget
@pytest.mark.parametrize("name, beside", [("music_cells", "music"), ("ptb_char_cells", "ptb_char")])
def test_the_cells_rows_share_the_paper_rows_settings_and_budget(name, beside):
    cells, paper = (expand(load_sweep(EXPERIMENTS / f"{n}.toml")) for n in (name, beside))
    paper_flags = _flags_per_dataset(paper)
    assert all(paper_flags[d] == f for d, f in _flags_per_dataset(cells).items())
    counts = list(load_params(cells).values()) + list(load_params(paper).values())
    assert max(counts) <= 1.1 * min(counts)


def test_the_word_lstm_rows_budget_and_the_tied_rows_width():
    """The untied LSTM sits in ptb_word.toml's budget; the tied one (an extra row) matches its H."""
    cells, paper = (expand(load_sweep(EXPERIMENTS / f"{n}.toml")) for n in ("ptb_word_cells", "ptb_word"))
    assert _flags_per_dataset(cells) == _flags_per_dataset(paper)
    counts = load_params(cells)
    untied, tied = (next(t for t in cells if t.model == m) for m in ("lstm", "lstm_tied"))
    budget = list(load_params(paper).values()) + [counts[untied.id]]
    assert max(budget) <= 1.1 * min(budget)
    assert tied.sizes == untied.sizes and counts[tied.id] < counts[untied.id]


def test_without_ray_the_sweep_says_which_extra_to_install(tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "ray.tune", None)  # as if the sweep extra were not installed
    path = write(tmp_path, f"[sweep]\ndatasets = [\"jsb\"]\n[model.a]\nspec = \"{EXAMPLES / 'rnn.rnn'}\"\n")
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "rnnalg sweep needs Ray Tune: pip install 'rnnalg[sweep]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_trial_that_needs_more_cpus_than_the_local_ray_has_is_refused(tmp_path, capsys):
    path = write(tmp_path, f"[sweep]\ndatasets = [\"jsb\"]\ncpus_per_trial = 2\n"
                           f"[model.a]\nspec = \"{EXAMPLES / 'rnn.rnn'}\"\n")
    assert main(["sweep", str(path), "--cpus", "1", "--out", str(tmp_path / "out")]) == 2
    assert "s.toml: line 3: sweep.cpus_per_trial = 2 is more than the 1 CPUs" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_existing_results_file_is_not_overwritten_without_resume_or_force(tmp_path, capsys):
    path = write(tmp_path, f"[sweep]\ndatasets = [\"jsb\"]\n[model.a]\nspec = \"{EXAMPLES / 'rnn.rnn'}\"\n")
    (tmp_path / "kept.jsonl").write_text("{}\n")
    assert main(["sweep", str(path), "--results", str(tmp_path / "kept.jsonl"), "--out", str(tmp_path / "o")]) == 2
    assert "kept.jsonl: already holds results" in capsys.readouterr().err
    assert (tmp_path / "kept.jsonl").read_text() == "{}\n" and not (tmp_path / "o").exists()


def _configurations(trials, dataset):
    """{(model, spec, sizes, flags without the budget: seed, time limit)} of one dataset's trials,
    as `rnnalg report` tells configurations apart (cells.BUDGET_FLAGS)."""
    return {(t.model, Path(t.spec).name, tuple(sorted(t.sizes.items())),
             tuple(sorted((k, v) for k, v in t.flags.items() if k not in BUDGET_FLAGS)))
            for t in trials if t.dataset == dataset}


# issue 16's seed files: fresh seeds of a configuration another file chose, so `rnnalg report`
# counts them as that configuration's seeds only if spec, sizes and flags are exactly the same
@pytest.mark.parametrize("name, beside, dataset, fresh", [
    ("nottingham_seeds", "music_long", "nottingham", {1, 2}),
    ("nottingham_seeds_more", "music_long", "nottingham", {1, 2}),
    ("nottingham_seed3", "music_long", "nottingham", {3}),
    ("nottingham_search_seeds", "nottingham_search", "nottingham", {1, 2, 3}),
    ("nottingham_noise_seeds", "nottingham_search_noise", "nottingham", {1, 2, 3}),
    ("musedata_seeds", "music_long", "musedata", {1, 2}),
    ("musedata_seeds_more", "music_long", "musedata", {1, 2}),
    ("musedata_seed3", "music_long", "musedata", {3}),
    ("musedata_dots_star_seed4", "music_long", "musedata", {4}),
    ("musedata_search_seeds", "musedata_search", "musedata", {1, 2, 3}),
    ("piano_seeds", "music", "piano", {1, 2}),
    ("piano_search_seeds", "piano_search", "piano", {1, 2, 3}),
    ("piano_seed3", "music", "piano", {3})])
def test_the_seed_files_repeat_their_configuration(name, beside, dataset, fresh):
    seeds, chosen = (expand(load_sweep(EXPERIMENTS / f"{n}.toml")) for n in (name, beside))
    ours = _configurations(seeds, dataset)
    assert ours and ours <= _configurations(chosen, dataset)
    assert {t.flags["seed"] for t in seeds} == fresh


@pytest.mark.parametrize("content, message", [
    (b"", "line 1, col 1: error: malformed JSON"),
    (b'{"train": [\xff]}', "line 1, col 12: error: file is not valid UTF-8"),
])
def test_a_data_file_that_does_not_load_stops_the_sweep_before_any_trial(content, message, tmp_path, capsys):
    """An empty or binary data file: the loader's error naming it and the position, in --dry-run
    too (it listed the trials, and each would have failed inside Ray)."""
    (tmp_path / "d.json").write_bytes(content)
    path = write(tmp_path, f"[sweep]\ndatasets = [\"d.json\"]\n[model.a]\nspec = \"{EXAMPLES / 'rnn.rnn'}\"\n")
    assert main(["sweep", str(path), "--dry-run"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"{tmp_path / 'd.json'}: {message}") and err.count("\n") == 1
