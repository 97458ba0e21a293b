"""Every error of an `rnnalg search` file names the search file and the line of its key: the
[search] table's own keys, a seed that cannot be read or lacks the sized `let`, and
`cpus_per_trial` above --cpus (found only when the generated OUT/sweep.toml is run)."""
from pathlib import Path

import pytest

from rnnalg.cli import main
from rnnalg.sweep.keyline import key_line

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

SEARCH = f"""\
# a small search
[search]
seeds = ["{EXAMPLES / 'rnn.rnn'}"]
size = "H"
budget = 3000
max_candidates = 2
moves = ["deepen_transition"]

[sweep]
datasets = ["jsb"]
cpus_per_trial = 1

[train]
epochs = 1
"""


def _search(tmp_path, capsys, text, *flags):
    search_file = tmp_path / "s.toml"
    search_file.write_text(text)
    code = main(["search", str(search_file), "--out", str(tmp_path / "out"), *flags])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "sweep.toml" not in err, err
    return code, search_file, err


@pytest.mark.parametrize("old, new, message", [
    ("budget = 3000", "budget = 0", "line 5: search.budget: error: expected a positive integer"),
    ("max_candidates = 2", "max_candidates = true", "line 6: search.max_candidates: error: expected a positive"),
    ("budget = 3000", "budget = 3000\nrounds = -1", "line 6: search.rounds: error: expected an integer >= 0"),
    ('size = "H"', "size = 200", 'line 4: search.size: error: expected the name of a `let` size, e.g. "H"'),
    ('size = "H"', 'size = "H"\nlabels = ["a", "b"]', "line 5: search.labels: error: expected one label"),
    ('moves = ["deepen_transition"]', 'moves = [\n    "deepen_transition",\n    "fly",\n]',
     "line 7: search.moves: error: expected a list of moves from"),
    ("budget = 3000", "budget = 3000\nbugdet = 4", "line 6: search.bugdet: error: unknown key"),
    ("[train]", "[model.a]\nspec = \"x.rnn\"\n\n[train]", "line 13: model: error: a search file has no [model.*]"),
])
def test_a_mistake_in_the_search_table_names_its_line(tmp_path, capsys, old, new, message):
    code, search_file, err = _search(tmp_path, capsys, SEARCH.replace(old, new), "--dry-run")
    assert code == 1 and err.startswith(f"{search_file}: {message}"), err


@pytest.mark.parametrize("old, new, message", [
    # 10 G parameters: accepted before, and sized (H = 70,666); 10^18: a traceback from sympy's root finder
    ("budget = 3000", "budget = 10_000_000_000", "line 5: search.budget: error: 10,000,000,000 is more than the "
                                                 "largest accepted, 1,000,000,000: 4 GB of float32 weights"),
    ("budget = 3000", "budget = 1_000_000_000_000_000_000", "line 5: search.budget: error: "
                                                            "1,000,000,000,000,000,000 is more than the largest"),
    # more candidates than a sweep's 10,000 trials (generated, possibly for hours, before the sweep refused them)
    ("max_candidates = 2", "max_candidates = 1_000_000", "line 6: search.max_candidates: error: 1,000,000 is more "
                                                         "than the largest accepted, 10,000: each candidate is at "
                                                         "least one trial, and a sweep runs at most 10,000"),
])
def test_a_budget_beyond_what_can_run_is_refused_naming_the_largest_accepted(tmp_path, capsys, old, new, message):
    code, search_file, err = _search(tmp_path, capsys, SEARCH.replace(old, new), "--dry-run")
    assert code == 1 and err.startswith(f"{search_file}: {message}"), err
    assert not (tmp_path / "out").exists()


def test_rounds_end_with_the_first_that_finds_no_new_candidate(monkeypatch):
    """`rounds = 10**12` is no hang: after a round of duplicates only, no later round has a candidate
    (each round went on over an empty generation before)."""
    from rnnalg.algebra import search
    from rnnalg.front.parser import load

    calls = []
    real = search._round_robin
    monkeypatch.setattr(search, "_round_robin", lambda queues: calls.append(len(queues)) or real(queues))
    found, tally = search.candidates([("RNN", load(EXAMPLES / "rnn.rnn"))], "H", 50000, rounds=10**5,
                                     moves=("swap_activation",))
    assert len(found) == 3 and tally.duplicates == 4  # tanh, sigmoid, relu; round 2 only swaps back
    assert len(calls) == 3  # rounds 0, 1 and 2; round 3 has nothing to move


def test_a_seed_that_cannot_be_read_is_the_seeds_line(tmp_path, capsys):
    code, search_file, err = _search(tmp_path, capsys, SEARCH.replace(str(EXAMPLES / "rnn.rnn"), "nope.rnn"),
                                     "--dry-run")
    assert code == 1 and err.startswith(f"{search_file}: line 3: search.seeds: error: cannot read spec file "
                                        f"{tmp_path / 'nope.rnn'}"), err


def test_a_size_the_seeds_do_not_let_is_the_sizes_line(tmp_path, capsys):
    """(it was ignored: every candidate kept its own size, the budget unused)"""
    code, search_file, err = _search(tmp_path, capsys, SEARCH.replace('size = "H"', 'size = "Q"'), "--dry-run")
    assert code == 1 and err.startswith(f"{search_file}: line 4: search.size: error: {EXAMPLES / 'rnn.rnn'} "
                                        f"has no `let Q` to size to the budget (its sizes: H)"), err


def test_a_budget_below_a_seeds_smallest_size_is_the_budgets_line(tmp_path, capsys):
    """(it was ignored: no size met it, so every candidate kept its own)"""
    code, search_file, err = _search(tmp_path, capsys, SEARCH.replace("budget = 3000", "budget = 5"), "--dry-run")
    assert code == 1 and err.startswith(f"{search_file}: line 5: search.budget: error: 5 parameters is below "
                                        f"{EXAMPLES / 'rnn.rnn'}'s 266 at H = 1"), err


def test_a_seed_the_checker_refuses_is_located_in_the_seed(tmp_path, capsys):
    """(it was dropped as one of the candidates 'refused by the checker', the search run without it)"""
    seed = tmp_path / "bad.rnn"
    seed.write_text((EXAMPLES / "rnn.rnn").read_text().replace("tanh(x ⊕ h)", "tanh(x ⊕ q)"))
    assert "tanh(x ⊕ q)" in seed.read_text()
    code, _, err = _search(tmp_path, capsys, SEARCH.replace(str(EXAMPLES / "rnn.rnn"), "bad.rnn"), "--dry-run")
    assert code == 1 and err.startswith(f"{seed}:") and "unbound name 'q'" in err, err
    assert not (tmp_path / "out").exists()


def test_cpus_per_trial_above_the_local_ray_is_the_search_files_line(tmp_path, capsys):
    """Checked when the generated sweep file runs (not --dry-run); it named OUT/sweep.toml."""
    pytest.importorskip("ray.tune")
    code, search_file, err = _search(tmp_path, capsys, SEARCH.replace("cpus_per_trial = 1", "cpus_per_trial = 64"),
                                     "--cpus", "2")
    assert code == 2 and err.startswith(f"{search_file}: line 11: sweep.cpus_per_trial = 64 is more than the 2 "
                                        f"CPUs of the local Ray (--cpus): no trial could start"), err


def test_a_table_given_only_by_its_sub_tables_is_at_the_first_of_them():
    text = '[sweep]\ndatasets = ["jsb"]\n\n[model.a]\nspec = "a.rnn"\n[model.b]\nspec = "b.rnn"\n'
    assert key_line(text, "model") == 4 and key_line(text, "model.b") == 6 and key_line(text, "sweep") == 1


def test_resume_and_force_together_are_refused_before_anything_is_written(tmp_path, capsys):
    code, _, err = _search(tmp_path, capsys, SEARCH, "--resume", "--force")
    assert code == 2 and "--resume and --force exclude each other" in err
    assert not (tmp_path / "out").exists()  # (the candidates were written first)


def test_a_data_file_the_search_file_names_relative_is_named_as_written(tmp_path, capsys):
    """A dataset path relative to the search file is resolved for loading but shown as written: a
    missing one is the search file's `sweep.datasets` before any candidate is written (it was the
    generated sweep.toml's absolute path, 'relative to the sweep file', after the candidates)."""
    code, search_file, err = _search(tmp_path, capsys, SEARCH.replace('"jsb"', '"data/none.json"'), "--dry-run")
    assert code == 1 and err.startswith(f"{search_file}: line 10: sweep.datasets: error: 'data/none.json' is "
                                        f"neither a named dataset ("), err
    assert err.rstrip().endswith("nor a file relative to the search file") and str(tmp_path / "data") not in err
    assert not (tmp_path / "out").exists()


def test_an_out_that_cannot_be_a_folder_is_a_usage_error(tmp_path, capsys):
    """(a NotADirectoryError traceback from pathlib's mkdir before)"""
    (tmp_path / "file").write_text("x")
    for out in ("file", "file/deeper"):
        search_file = tmp_path / "s.toml"
        search_file.write_text(SEARCH)
        assert main(["search", str(search_file), "--out", str(tmp_path / out), "--dry-run"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"--out {tmp_path / out}: cannot create its candidates/ folder: Not a directory"), err
