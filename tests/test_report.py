"""`rnnalg report`: what it refuses (issue 17 items 4 and 10), which data may stand beside the
paper's figure (item 2), seeds, spreads and the significance line (issue 16), the figures (item 18)."""
import json
import math
import sys

import pytest

from rnnalg.cli import main

JSB_SHA = "d7" * 32


def line(model="RNN", dataset="jsb", test=8.5, valid=8.6, seed=1234, status="ok", flags=None, **extra):
    flags = {"epochs": 200, "lr": 0.001, **(flags or {}), "seed": seed}
    config = f"{model}-{dataset}-" + "-".join(f"{k}{v}" for k, v in sorted(flags.items()) if k != "seed")
    return {"trial": {"id": f"{config}-s{seed}", "config_id": config, "label": model, "dataset": dataset,
                      "dataset_label": dataset, "flags": flags, "sizes": {"H": 10}, "spec_shown": f"{model}.rnn"},
            "status": status, "error": None, "metric": "nll", "test": test, "best_valid": valid,
            "best_epoch": 3, "epochs": 5, "stopped": "early stop", "seconds": 10.0, "params": 1234,
            "curve": [[1, 9.0], [2, 8.8], [3, 8.7]], "command": f"rnnalg train {model}.rnn --seed {seed}",
            "commit": "abc123", **extra}


def write(path, lines):
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def report(tmp_path, *files, figures=False):
    out = tmp_path / "out"
    code = main(["report", *map(str, files), "--out", str(out), *([] if figures else ["--no-figures"])])
    results = out / "RESULTS.md"
    return code, (results.read_text() if results.exists() else None)


# ---- refusals (issue 17 item 4) ------------------------------------------------------------

@pytest.mark.parametrize("content", ["", "\n  \n"])
def test_an_empty_results_file_is_refused_by_name(tmp_path, capsys, content):
    path = tmp_path / "empty.jsonl"
    path.write_text(content)
    assert report(tmp_path, path) == (1, None)
    assert capsys.readouterr().err.startswith(f"{path}: error: holds no results lines")


def test_one_empty_file_among_good_ones_is_refused(tmp_path, capsys):
    good = write(tmp_path / "good.jsonl", [line()])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert report(tmp_path, good, empty) == (1, None)
    assert str(empty) in capsys.readouterr().err


def test_a_foreign_json_lines_file_is_refused(tmp_path, capsys):
    path = tmp_path / "metrics.jsonl"  # a run's metrics, not a sweep's results
    path.write_text('{"epoch": 1, "valid": 8.7}\n')
    assert report(tmp_path, path) == (1, None)
    assert capsys.readouterr().err.startswith(f"{path}: line 1: error: not a results line")


def test_the_same_trial_twice_with_different_figures_names_both_lines(tmp_path, capsys):
    a = write(tmp_path / "a.jsonl", [line(model="DOT(S)"), line(test=8.5)])
    b = write(tmp_path / "b.jsonl", [line(test=8.4)])
    assert report(tmp_path, a, b) == (1, None)
    err = capsys.readouterr().err
    assert err.startswith(f"{b}: line 1: error: trial RNN-jsb-epochs200-lr0.001-s1234 is also at {a}: line 2 "
                          "with different figures (test 8.5 there, 8.4 here)")


def test_the_same_trial_twice_with_the_same_figures_counts_once(tmp_path):
    a = write(tmp_path / "a.jsonl", [line()])
    b = write(tmp_path / "b.jsonl", [line()])
    code, text = report(tmp_path, a, b)
    assert code == 0 and "| JSB Chorales | RNN | 8.500 | 1 |" in text


def test_the_same_trial_run_from_two_folders_counts_once(tmp_path):
    """Run from examples/ and from its parent, its spec and run folder are written otherwise: one
    trial, once in the budget (it counted twice, the trial being told by its id and command)."""
    here = line(command="rnnalg train RNN.rnn --seed 1234", run_dir="/a/runs/RNN-jsb-s1234")
    there = line(command="rnnalg train examples/RNN.rnn --seed 1234", run_dir="/b/sweeps/x/runs/RNN-jsb-s1234")
    there["trial"]["spec_shown"] = "examples/RNN.rnn"
    code, text = report(tmp_path, write(tmp_path / "a.jsonl", [here]), write(tmp_path / "b.jsonl", [there]))
    assert code == 0 and "| JSB Chorales | RNN | 8.500 | 1 |" in text
    assert "| 10 | 10 |" in text  # wall s and budget s: one trial's 10 s (the budget was 20)


def test_the_same_trial_from_two_folders_with_different_figures_is_refused(tmp_path, capsys):
    a = write(tmp_path / "a.jsonl", [line(command="rnnalg train RNN.rnn --seed 1234")])
    b = write(tmp_path / "b.jsonl", [line(test=8.4, command="rnnalg train ../RNN.rnn --seed 1234")])
    assert report(tmp_path, a, b) == (1, None)
    assert capsys.readouterr().err.startswith(f"{b}: line 1: error: trial RNN-jsb-epochs200-lr0.001-s1234 is "
                                              f"also at {a}: line 1 with different figures")


def test_two_programs_of_one_spec_file_name_are_two_trials_by_their_fingerprints(tmp_path):
    """Two searches' c001.rnn are different programs (their lines' spec fingerprints say so): both
    lines count, their different figures no conflict (with the same command they were refused)."""
    from rnnalg.sweep.collect import collect

    first, second = line(spec_fingerprint="a1" * 32), line(test=8.4, spec_fingerprint="b2" * 32)
    older = line()  # written before spec fingerprints: the first's trial, by all it says
    files = [write(tmp_path / "a.jsonl", [first]), write(tmp_path / "b.jsonl", [second, older])]
    assert collect(files) == [older, second]  # (a trial's later line stands in its first's place)


def _row(text, dataset="JSB Chorales", model="RNN"):
    """The cells of one table row of RESULTS.md: [dataset, model, ours, n, paper, Δ, params, configs, …]."""
    row = next(x for x in text.splitlines() if x.startswith(f"| {dataset} | {model} |"))
    return [c.strip() for c in row.strip("|").split("|")]


def test_two_programs_of_one_spec_file_name_are_two_configurations(tmp_path):
    """Configurations are told apart as trials are (by spec fingerprint): two programs with one file
    name, sizes and flags pooled their seeds into one configuration (n = 3, the mean of both).  A
    line written before fingerprints is a seed of its name's one program (DT: not split off)."""
    first = [line(seed=s, test=t, spec_fingerprint="a1" * 32) for s, t in ((1, 8.5), (2, 8.7))]
    second = line(seed=3, test=8.1, valid=8.0, spec_fingerprint="b2" * 32)
    dt = [line(model="DT", seed=1, spec_fingerprint="c3" * 32), line(model="DT", seed=2, test=8.7)]
    code, text = report(tmp_path, write(tmp_path / "r.jsonl", [*first, second, *dt]))
    assert code == 0
    assert [_row(text)[i] for i in (2, 3, 7)] == ["8.100", "1", "2"]  # the second program, chosen on validation
    assert [_row(text, model="DT")[i] for i in (2, 3, 7)] == ["8.600 ± 0.141", "2", "1"]


# ---- no tracebacks (issue 17 item 10) ----------------------------------------------------------

def test_a_non_utf8_results_file_is_a_located_error(tmp_path, capsys):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(json.dumps(line()).encode() + b"\n{\"trial\": \"caf\xe9\"}\n")
    assert report(tmp_path, path) == (1, None)
    assert capsys.readouterr().err.startswith(f"{path}: line 2: error: not UTF-8 text")


@pytest.mark.parametrize("where, value, message", [
    # each was a Python traceback from inside the report (TypeError, ValueError, StatisticsError …)
    (("seconds",), "x", "'seconds' is \"x\": expected a number"),
    (("command",), [], "'command' is []: expected a string"),
    (("trial", "label"), None, "'trial.label' is None: expected a string"),
    (("trial", "dataset"), float("nan"), "'trial.dataset' is nan: expected a string"),
    (("trial", "flags"), "x", "'trial.flags' is \"x\": expected an object"),
    (("trial", "flags", "seed"), [], "'trial.flags.seed' is []: expected an integer (--seed)"),
    (("trial", "flags", "time_limit"), "x", "'trial.flags.time_limit' is \"x\": expected a finite number "
                                             "(--time-limit)"),
    (("trial", "flags", "time_limit"), float("nan"), "'trial.flags.time_limit' is nan: expected a finite number"),
    (("search",), {"file": "s.toml", "size_name": ["H"], "name": "c001", "seed": "RNN", "moves": [], "size": 10,
                   "parameters": 1234, "spec": "let H = 10\n"}, "'search.size_name' is ['H']: expected a string"),
])
def test_a_field_of_the_wrong_type_is_a_located_error(tmp_path, capsys, where, value, message):
    bad = line(seed=2, flags={"time_limit": 60})
    obj = bad
    for key in where[:-1]:
        obj = obj[key]
    obj[where[-1]] = value
    path = write(tmp_path / "r.jsonl", [line(flags={"time_limit": 60}), bad])
    assert report(tmp_path, path) == (1, None)
    err = capsys.readouterr().err
    assert err.startswith(f"{path}: line 2: error: not a results line: {message}"), err


def test_a_nan_test_figure_is_listed_not_averaged(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(line(seed=1, test=8.5)) + "\n"
                    + json.dumps(line(seed=2, test=8.7)) + "\n"
                    + json.dumps(line(seed=3)).replace('"test": 8.5', '"test": NaN') + "\n")
    code, text = report(tmp_path, path, figures=True)
    assert code == 0
    assert "| JSB Chorales | RNN | 8.600 ± 0.141 | 2 |" in text
    assert "| RNN-jsb-epochs200-lr0.001-s3 | ok | test nan, best valid 8.6: not a finite figure |" in text


def test_out_may_name_a_folder_not_yet_there(tmp_path):
    path = write(tmp_path / "r.jsonl", [line()])
    out = tmp_path / "new" / "deeper"
    assert main(["report", str(path), "--out", str(out), "--no-figures"]) == 0
    assert (out / "RESULTS.md").exists() and not (out / "figures").exists()


# ---- which data stands beside the paper (issue 17 item 2) ------------------------------------

@pytest.fixture
def known(monkeypatch):
    from rnnalg.sweep import dataid

    monkeypatch.setattr(dataid, "known_fingerprints", lambda: {"jsb": JSB_SHA})


def test_a_cell_is_compared_with_the_paper_only_on_the_named_sets_data(tmp_path, known):
    path = write(tmp_path / "r.jsonl", [
        line(data_label="jsb", data_fingerprint=JSB_SHA),
        line(model="DT(S)", data_label="jsb", data_fingerprint="ab" * 32),  # e.g. Nottingham under jsb's name
        line(model="DOT(S)"),  # written before fingerprints
    ])
    code, text = report(tmp_path, path)
    assert code == 0
    assert "| JSB Chorales | RNN | 8.500 | 1 | 8.338 R | +0.162 |" in text
    assert ("| JSB Chorales | RNN | 8.500 | 1 | 8.338 R | +0.162 | 1,234 | 1 | 3 / 5 | 10 | 10 | early stop |  |  |"
            in text)  # verified: no note
    assert ("| `jsb (data abababababab…)` | DT(S) | 8.500 | 1 |  |  |" in text
            and "| data abababababab…: not the named set's data |" in text)
    assert "| JSB Chorales | DT(S) | not run | | 8.278 R |" in text  # the paper's row stays unmatched
    assert "| JSB Chorales | DOT(S) | 8.500 | 1 | 8.44 Q | +0.060 |" in text and "| not fingerprinted |" in text


def test_data_given_by_path_is_labelled_by_its_path_and_never_compared(tmp_path, known):
    new = line(data_label="data/jsb.json", data_fingerprint="cd" * 32)
    old = line(model="DT(S)")
    old["trial"]["dataset"] = "/home/me/jsb.json"  # before data_label: the label was the file's stem
    code, text = report(tmp_path, write(tmp_path / "r.jsonl", [new, old]))
    assert code == 0
    assert "| `data/jsb.json` | RNN | 8.500 | 1 |  |  |" in text
    assert "| `/home/me/jsb.json` | DT(S) | 8.500 | 1 |  |  |" in text
    assert "| JSB Chorales | RNN | not run | | 8.338 R |" in text
    assert text.count("| data given by path |") == 2


def test_without_a_fingerprint_table_a_fingerprinted_line_is_not_compared(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "rnnalg.data.fingerprint", None)  # import fails
    code, text = report(tmp_path, write(tmp_path / "r.jsonl", [line(data_label="jsb", data_fingerprint=JSB_SHA)]))
    assert code == 0
    assert "no known fingerprint to check it against" in text and "| JSB Chorales | RNN | not run |" in text


def test_lines_before_fingerprints_share_the_cell_of_the_verified_lines(tmp_path, known):
    """A configuration's seed run before fingerprints existed and its fresh seeds run after are one
    cell (n = 3), the data column saying how many of its lines are not fingerprinted."""
    old = line(seed=1234, test=8.4)
    fresh = [line(seed=s, test=t, data_label="jsb", data_fingerprint=JSB_SHA) for s, t in ((1, 8.5), (2, 8.6))]
    code, text = report(tmp_path, write(tmp_path / "r.jsonl", [old, *fresh]))
    assert code == 0
    assert "| JSB Chorales | RNN | 8.500 ± 0.100 | 3 | 8.338 R |" in text
    assert "| 1 of 3 lines not fingerprinted |" in text and text.count("| JSB Chorales | RNN | 8.500") == 1


# ---- choice on validation, seeds, spread and the verdict (issue 16) --------------------------

def search_and_seeds(rnn_tests, deep_tests):
    """Two configurations per model at the search's seed 1234; the chosen one again with seeds 1-3."""
    lines = []
    for model, tests in (("RNN", rnn_tests), ("DOT(S)", deep_tests)):
        good, bad = {"lr": 0.002}, {"lr": 0.0005}
        lines += [line(model, flags=good, valid=8.5, test=8.0), line(model, flags=bad, valid=8.9, test=7.0)]
        lines += [line(model, flags=good, seed=s, test=t, valid=t + 0.1) for s, t in zip((1, 2, 3), tests)]
    return lines


def test_the_figure_is_over_the_fresh_seeds_of_the_configuration_chosen_on_validation(tmp_path):
    path = write(tmp_path / "r.jsonl", search_and_seeds([8.8, 8.9, 9.0], [8.3, 8.4, 8.5]))
    code, text = report(tmp_path, path)
    assert code == 0
    # lr 0.002 wins on validation at seed 1234 (8.5 < 8.9) although lr 0.0005 has the better test figure
    assert "| JSB Chorales | RNN | 8.900 ± 0.100 | 3 | 8.338 R | +0.562 | 1,234 | 2 | 3 / 5, 3 / 5, 3 / 5 |" in text
    assert "| 50 | early stop |" in text  # budget: all five trials of the cell
    pruned = line(flags={"lr": 0.03}, status="pruned", test=None, valid=9.9)
    code, text = report(tmp_path, write(tmp_path / "r.jsonl", [*search_and_seeds([8.8, 8.9, 9.0], [8.3, 8.4, 8.5]),
                                                               pruned]))
    assert "| JSB Chorales | RNN | 8.900 ± 0.100 | 3 | 8.338 R | +0.562 | 1,234 | 3 |" in text  # 3 tried
    assert ("- JSB Chorales: the best deep variant on validation, DOT(S) (8.400 ± 0.100, n = 3), vs the RNN "
            "(8.900 ± 0.100, n = 3): lower by 0.500, 2 SE = 0.163: **beats the RNN by more than 2 standard "
            "errors**.") in text
    commands = [r for r in text.split("## Commands", 1)[1].splitlines() if r.startswith("| JSB Chorales, RNN |")]
    assert commands == [f"| JSB Chorales, RNN | {s} | `rnnalg train RNN.rnn --seed {s} --epochs 5` | abc123 |"
                        for s in (1, 2, 3)]  # the fresh seeds the figure averages, not the search's 1234


def test_a_gain_within_two_standard_errors_is_said_plainly(tmp_path):
    path = write(tmp_path / "r.jsonl", search_and_seeds([8.8, 8.9, 9.0], [8.7, 8.8, 8.9]))
    code, text = report(tmp_path, path)
    assert "lower by 0.100, 2 SE = 0.163: does **not** beat the RNN by more than 2 standard errors." in text


def test_one_seed_gives_no_verdict(tmp_path):
    code, text = report(tmp_path, write(tmp_path / "r.jsonl", [line(), line("DT(S)", test=8.0)]))
    assert "lower by 0.500: no verdict: a cell has one seed" in text


def test_standard_error_of_a_difference():
    from rnnalg.sweep.stats import difference

    d = difference([9.0, 9.2, 9.4], [8.0, 8.1, 8.2])
    assert math.isclose(d.gain, 1.1) and math.isclose(d.se, math.sqrt(0.04 / 3 + 0.01 / 3))
    assert d.significant is True
    assert difference([9.0], [8.0, 8.1]).significant is None


# ---- the figures (issue 17 item 18) ---------------------------------------------------------------

def test_figures_keep_one_colour_per_model_mark_the_paper_and_keep_legends_off_the_data(tmp_path):
    from rnnalg.sweep import figures
    from rnnalg.sweep.cells import build_cells
    from rnnalg.sweep.report import MODELS, shown

    colors = pytest.importorskip("matplotlib.colors")
    lines = [line(m, d, test=t) for d, t in (("jsb", 8.4), ("nottingham", 3.3))
             for m in (("DT(S)", "RNN") if d == "jsb" else ("RNN", "DT(S)"))]  # first-seen order differs
    cells = build_cells(lines, {}, {"jsb", "nottingham"})
    panels = {}
    for c in cells:
        panels.setdefault(shown(c), []).append(c)
    for fig in (figures._dots(panels, list(MODELS[:2]), "NLL"), figures._curves(panels, list(MODELS[:2]), "NLL")):
        assert fig.legends and all(ax.get_legend() is None for ax in fig.axes)  # below the panels
        colours = [{colors.to_hex(x.get_color()) for x in ax.lines if x.get_linestyle() != "--"} for ax in fig.axes]
        assert colours[0] == colours[1] and len(colours[0]) == 2  # the same two colours in both panels
    dots = figures._dots(panels, list(MODELS[:2]), "NLL")
    marks = {t.get_text() for ax in dots.axes for t in ax.texts}
    assert {"R", "n=1"} <= marks  # the paper's RNN and DT(S) music figures are recalled
    curves = figures._curves(panels, list(MODELS[:2]), "NLL")
    assert all(ax.xaxis.get_major_locator()._integer for ax in curves.axes)


def test_report_writes_the_dot_plot_and_curves(tmp_path):
    pytest.importorskip("matplotlib")
    code, text = report(tmp_path, write(tmp_path / "r.jsonl", [line()]), figures=True)
    assert code == 0 and "![music_dots](figures/music_dots.png)" in text
    assert (tmp_path / "out" / "figures" / "music_dots.png").stat().st_size > 1000


def test_a_longer_time_limit_supersedes_the_same_seeds_shorter_run(tmp_path):
    cut = [line(seed=s, test=9.0, valid=9.1, flags={"time_limit": 75}, stopped="time limit") for s in (1234, 1, 2)]
    full = [line(seed=s, test=t, valid=t + 0.1, flags={"time_limit": 600}) for s, t in ((1, 8.6), (2, 8.8))]
    other = line(seed=1234, test=8.0, valid=9.5, flags={"lr": 0.01, "time_limit": 75})
    code, text = report(tmp_path, write(tmp_path / "r.jsonl", [*cut, *full, other]))
    # one configuration (lr 1e-3) whatever the limit: chosen at seed 1234 (9.1 < 9.5); seeds 1 and 2 from
    # the 600-s reruns; every trial in the budget (6 × 10 s)
    assert "| JSB Chorales | RNN | 8.700 ± 0.141 | 2 | 8.338 R | +0.362 | 1,234 | 2 | 3 / 5, 3 / 5 | 10 | 60 |" in text


def test_a_run_with_more_epochs_supersedes_the_same_seeds_capped_run_as_one_configuration(tmp_path):
    """The epoch cap is a budget, as the time limit is (ptb_char.toml's 20-minute trials and
    ptb_char_hours.toml's 60-epoch ones): one configuration, the longer run standing for its seed."""
    short = line(seed=1234, test=9.0, valid=9.1, flags={"epochs": 100, "time_limit": 600}, stopped="time limit")
    hours = line(seed=1234, test=8.5, valid=8.6, flags={"epochs": 60})
    more = [line(seed=s, test=8.6, valid=8.7, flags={"epochs": e}) for s, e in ((1, 4), (1, 60))]
    code, text = report(tmp_path, write(tmp_path / "r.jsonl", [short, hours, *more]))
    # seed 1234: the run with no time limit; seed 1: its 60-epoch run, not the 4-epoch one; 1 configuration
    assert code == 0
    assert "| JSB Chorales | RNN | 8.550 ± 0.071 | 2 | 8.338 R | +0.212 | 1,234 | 1 |" in text
    assert "ran one configuration" not in text


def test_issue_20_cells_follow_the_paper_models_and_an_unsearched_row_is_said_so(tmp_path):
    search = [line(flags={"lr": lr}, valid=v) for lr, v in ((0.001, 8.6), (0.002, 8.7))]
    cells = [line(m, test=8.4 + i / 10) for i, m in enumerate(("LN-LSTM", "minGRU", "GRU", "LSTM"))]
    code, text = report(tmp_path, write(tmp_path / "r.jsonl", [*cells, *search, line("DOT(S)", test=8.2)]))
    assert code == 0
    rows = [r.split(" | ")[1] for r in text.splitlines() if r.startswith("| JSB Chorales | ") and "not run" not in r]
    assert rows[:6] == ["RNN", "DOT(S)", "LSTM", "GRU", "minGRU", "LN-LSTM"]
    assert ("- JSB Chorales: DOT(S), LSTM, GRU, minGRU, LN-LSTM ran one configuration, not the search the "
            "others had (up to 2 configurations): not comparable as tuned rows.") in text
    assert "the best deep variant on validation, DOT(S)" in text  # the cells never enter the verdict
    code, text = report(tmp_path, write(tmp_path / "r.jsonl", [line(), line("LSTM")]))
    assert "ran one configuration" not in text  # nothing was searched: nothing to set apart


# ---- the other papers' anchors (issue 16 item 4) -------------------------------------------

def test_an_anchor_is_marked_quoted_only_with_its_quoting_source_named_and_addressed(tmp_path):
    from rnnalg.sweep.paper import ANCHORS, QUOTING_SOURCES
    from rnnalg.sweep.report import DATASET_NAMES

    assert {a.mark for a in ANCHORS} == {"Q", "R"}  # some quoted, some still recalled
    _, text = report(tmp_path, write(tmp_path / "r.jsonl", [line()]))
    table = text[text.index("## Other papers"):].splitlines()
    for a in ANCHORS:
        row = next(r for r in table if r.startswith(f"| {DATASET_NAMES[a.dataset]} | {a.model} | ")
                   and f"| {a.source}" in r)  # two papers may give the same cell (JSB GRU)
        assert f"| {a.value:g} {a.mark} |" in row
        assert (a.mark == "Q") == bool(a.quoted_in) == (f"; quoted by {a.quoted_in} |" in row), row
        if a.quoted_in:
            assert f"- {a.quoted_in}: {QUOTING_SOURCES[a.quoted_in]}" in table


# ---- the commands table: each figure trial's rerun command -----------------------------------

def test_the_commands_table_gives_each_figure_trials_rerun_command(tmp_path):
    """Not the recorded command (its --time-limit stops where the load lets it, and it lacks the
    thread count and data folder): per seed, `rerun.rerun_command`, which reruns to the figure."""
    from rnnalg.sweep.rerun import rerun_command

    lines = []
    for seed, epochs in ((1, 43), (2, 40)):
        x = line(seed=seed, flags={"time_limit": 600}, epochs=epochs, threads=1, backend="fast")
        x["command"] = f"rnnalg train RNN.rnn --data jsb --set H=10 --epochs 200 --time-limit 600 --seed {seed}"
        x["trial"]["data_dir"] = "/data"
        lines.append(x)
    lines.append(line(seed=3, flags={"time_limit": 600}, epochs=0, status="ok"))  # no finished epoch: as recorded
    code, text = report(tmp_path, write(tmp_path / "r.jsonl", lines))
    assert code == 0
    rows = [r for r in text.split("## Commands", 1)[1].splitlines() if r.startswith("| JSB Chorales, RNN |")]
    assert rows == [f"| JSB Chorales, RNN | {x['trial']['flags']['seed']} | `{want}` | abc123 |" for x, want in
                    zip(lines, [rerun_command(lines[0]), rerun_command(lines[1]), lines[2]["command"]])]
    assert "`RNNALG_BACKEND=fast rnnalg train RNN.rnn --data jsb --set H=10 --seed 2 --epochs 40 --threads 1 " \
           "--data-dir /data`" in rows[1]


def test_out_naming_a_file_is_a_usage_error_not_a_traceback(tmp_path, capsys):
    from rnnalg.cli import main
    results, out = tmp_path / "r.jsonl", tmp_path / "RESULTS.md"
    results.write_text("{}\n")
    out.write_text("old\n")
    assert main(["report", str(results), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"--out {out}: not a folder" in err and "Traceback" not in err
    assert out.read_text() == "old\n"
