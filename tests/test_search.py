"""`rnnalg search`: candidates by the paper's moves, checked, deduplicated by the canonical form,
sized to a parameter budget; --dry-run over experiments/search_jsb.toml; one tiny run on Ray."""
import json
from pathlib import Path

import pytest

from rnnalg import load_program
from rnnalg.algebra.moves import MOVES, neighbours
from rnnalg.algebra.search import candidates, size_to_budget
from rnnalg.cli import main
from rnnalg.front.parser import load
from rnnalg.front.unparse import unparse

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def test_every_move_applies_to_dts():
    found = {what.split("(")[0] for what, _ in neighbours(load(EXAMPLES / "dts.rnn"), "H")}
    assert found == set(MOVES) - {"remove_gate"}  # DT(S) has no gate


def test_gate_moves():
    """LSTM without one of its gates; RNN with an output gate on h'."""
    from rnnalg.checking import check
    from rnnalg.front.parser import parse

    removed = dict(neighbours(load(EXAMPLES / "lstm.rnn"), "H", moves=("remove_gate",)))
    assert set(removed) == {"remove_gate(c', f)", "remove_gate(c', i)", "remove_gate(h', o)"}
    program = check(parse(unparse(removed["remove_gate(h', o)"])))
    assert program.param_count == load_program(EXAMPLES / "lstm.rnn").param_count - (200 * 200 + 88 * 200 + 200)
    (what, gated), = neighbours(load(EXAMPLES / "rnn.rnn"), "H", moves=("add_gate",))
    assert "d1 = sigmoid(x ⊕ h)" in unparse(gated) and "h' = d1 * tanh(x ⊕ h)" in unparse(gated)


def test_the_paper_moves_reach_the_papers_variants():
    """RNN + deepen_output is DO-RNN; RNN + stack is sRNN-2 (the same model by `equiv`)."""
    from rnnalg import equivalent
    from rnnalg.front.parser import parse
    from rnnalg.checking import check

    variants = dict(neighbours(load(EXAMPLES / "rnn.rnn"), "H"))
    stacked = check(parse(unparse(variants["stack(h')"])))
    assert equivalent(stacked, load_program(EXAMPLES / "srnn2.rnn", {"H": 200}))


def test_candidates_are_checked_distinct_and_sized():
    from rnnalg.checking import check
    from rnnalg.front.parser import parse

    budget = 231088
    found, tally = candidates([("DT(S)", load(EXAMPLES / "dts.rnn"))], "H", budget, rounds=2)
    assert len({c.canonical for c in found}) == len(found) and tally.duplicates > 0
    for c in found:
        program, size = size_to_budget(c.text, "<c>", "H", budget)
        assert (size, program.param_count) == (c.size, c.parameters)
        # the nearest size: one step either way is no closer to the budget
        for other in (size - 1, size + 1):
            try:
                count = check(parse(c.text.replace("let H = 200", f"let H = {other}"))).param_count
            except Exception:
                continue
            assert abs(c.parameters - budget) <= abs(count - budget)


def test_swapping_back_is_a_duplicate():
    """tanh -> relu -> tanh is the seed again: dropped by the canonical form."""
    found, tally = candidates([("RNN", load(EXAMPLES / "rnn.rnn"))], "H", 50000, rounds=2,
                              moves=("swap_activation",))
    assert len(found) == 3  # tanh (the seed), sigmoid, relu
    assert (tally.generated, tally.duplicates) == (6, 4)  # round 2: each swap of a swap is one of the three


def test_dry_run_of_the_committed_search_file(tmp_path, capsys):
    code = main(["search", str(ROOT / "experiments" / "search_jsb.toml"), "--dry-run", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    lines = [json.loads(line) for line in (tmp_path / "candidates.jsonl").read_text().splitlines()]
    assert len(lines) == 64 and len({c["canonical"] for c in lines}) == 64
    assert all(abs(c["parameters"] - 231088) <= 0.01 * 231088 for c in lines)
    assert lines[0]["seed"] == "DT(S)" and lines[1]["seed"] == "DOT(S)" and lines[1]["size"] == 200
    # the limit keeps both seeds' second-round variants: within a round the seeds alternate
    second = [c["seed"] for c in lines if len(c["moves"]) == 2]
    assert second and abs(second.count("DT(S)") - second.count("DOT(S)")) <= 1
    assert "64 trials" in out and "rnnalg train" in out
    assert (tmp_path / "candidates" / "c064.rnn").exists()
    # the candidates compete in one ASHA cell per dataset (per model, ASHA would stop none)
    import tomllib
    asha = tomllib.loads((tmp_path / "sweep.toml").read_text())["sweep"]["asha"]
    assert asha == {"per": "dataset", "grace_period": 3, "reduction_factor": 3, "max_epochs": 60}


def test_the_search_gives_its_sweep_each_candidates_description_for_the_results_lines(tmp_path, monkeypatch):
    """Each results line of a search carries its candidate (spec text, moves …) under `search`."""
    from rnnalg.commands import sweep as sweep_command

    given = []
    monkeypatch.setattr(sweep_command, "run", lambda args: given.append(args) or 0)
    search_file = ROOT / "experiments" / "search_jsb.toml"
    assert main(["search", str(search_file), "--dry-run", "--out", str(tmp_path)]) == 0
    lines = [json.loads(line) for line in (tmp_path / "candidates.jsonl").read_text().splitlines()]
    fields = given[0].model_fields
    assert sorted(fields) == [c["name"] for c in lines]
    for c in lines:
        assert fields[c["name"]] == {"search": {"file": str(search_file), "size_name": "H", **c}}
    assert fields["c003"]["search"]["moves"] == ["deepen_transition(h')"]
    assert fields["c003"]["search"]["spec"] == \
        (tmp_path / "candidates" / "c003.rnn").read_text().split("\n", 2)[2]  # the file less its 2 comment lines


def test_bad_search_files_are_located(tmp_path, capsys):
    bad = tmp_path / "s.toml"
    bad.write_text('[search]\nseeds = ["x.rnn"]\nsize = "H"\nbudget = -3\n[sweep]\ndatasets = ["jsb"]\n')
    assert main(["search", str(bad), "--dry-run"]) == 1
    assert f"{bad}: line 4: search.budget: error: expected a positive integer" in capsys.readouterr().err
    bad.write_text('[search]\nseeds = ["x.rnn"]\nsize = "H"\nbudget = 3\nmoves = ["fly"]\n')
    assert main(["search", str(bad), "--dry-run"]) == 1
    assert f"{bad}: line 5: search.moves: error: expected a list of moves from" in capsys.readouterr().err


def test_a_tiny_search_trains_through_the_sweep_machinery(tmp_path, capsys, monkeypatch):
    """... on a data file the search file names relative to itself: its lines' `data_label` is the
    path as written (it was the absolute path of the generated sweep.toml), as `rnnalg sweep`'s, and
    their `command` names it relative to the folder the search ran in (it was absolute too)."""
    import shutil

    from rnnalg.data.fingerprint import KNOWN_FINGERPRINTS
    from rnnalg.data.registry import embedded_path

    pytest.importorskip("ray.tune")
    (tmp_path / "data").mkdir()
    shutil.copy(embedded_path("jsb"), tmp_path / "data" / "chorales.npz")
    spec = tmp_path / "s.toml"
    spec.write_text(f'[search]\nseeds = ["{EXAMPLES / "rnn.rnn"}"]\nsize = "H"\nbudget = 3000\nrounds = 1\n'
                    'max_candidates = 2\nmoves = ["deepen_transition"]\n'
                    '[sweep]\ndatasets = ["data/chorales.npz"]\nseeds = [1]\n[train]\nepochs = 1\ntime_limit = 20\n')
    monkeypatch.chdir(tmp_path.parent)
    assert main(["search", f"{tmp_path.name}/s.toml", "--out", str(tmp_path / "out"), "--cpus", "2"]) == 0
    results = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert all(f" --data {tmp_path.name}/data/chorales.npz " in r["command"] for r in results)
    assert sorted(r["trial"]["model"] for r in results) == ["c001", "c002"]
    assert {(r["data_label"], r["data_fingerprint"]) for r in results} == {("data/chorales.npz",
                                                                             KNOWN_FINGERPRINTS["jsb"])}
    assert "data/chorales.npz  " in capsys.readouterr().out  # the table at the end, as written
    assert all(r["status"] == "ok" and r["params"] <= 3100 for r in results)
    described = {r["trial"]["model"]: r["search"] for r in results}  # for `rnnalg report`
    assert described["c002"]["moves"] == ["deepen_transition(h')"] and described["c001"]["moves"] == []
    assert described["c002"]["spec"] in (tmp_path / "out" / "candidates" / "c002.rnn").read_text()
    params = {r["trial"]["model"]: r["params"] for r in results}
    assert described["c002"]["file"] == f"{tmp_path.name}/s.toml" and described["c002"]["parameters"] == params["c002"]


SMALL_SEARCH = f"""\
[search]
seeds = ["{EXAMPLES / 'rnn.rnn'}"]
size = "H"
budget = 3000
max_candidates = 2
moves = ["deepen_transition"]

[sweep]
datasets = ["jsb"]

[sweep.asha]
grace_period = 1
group_by = ["momentum"]

[train]
epochs = 1
lr = [0.01, 0.02]
"""


@pytest.mark.parametrize("change, message", [
    ({}, "line 13: sweep.asha.group_by: error: 'momentum' is not a grid axis of this file: ASHA groups "
         "trials by a flag given as a list, set.NAME or spec (this file's axes: lr)"),
    ({'group_by = ["momentum"]': 'group_by = ["lr"]', "grace_period = 1": "grace_period = 0"},
     "line 12: sweep.asha.grace_period: error: expected an integer >= 1, got 0"),
    ({'group_by = ["momentum"]': 'group_by = ["lr"]', "lr = [0.01, 0.02]": 'lr = [0.01, "fast"]'},
     "line 17: train.lr: error: argument --lr: must be a finite number > 0, got 'fast'"),
])
def test_a_mistake_in_the_search_files_sweep_tables_names_the_search_file_and_line(tmp_path, capsys, change,
                                                                                    message):
    """The generated OUT/sweep.toml holds the search file's [sweep], [train] and [data.*] tables;
    an error found when it is read is the search file's (it named OUT/sweep.toml before)."""
    text = SMALL_SEARCH
    for old, new in change.items():
        text = text.replace(old, new)
    search_file = tmp_path / "s.toml"
    search_file.write_text(text)
    assert main(["search", str(search_file), "--dry-run", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{search_file}: {message}"), err
    assert "sweep.toml" not in err and "Traceback" not in err


def test_the_line_of_a_key_in_toml_text():
    from rnnalg.sweep.keyline import key_line

    text = ('[sweep]\ndatasets = ["jsb"]\nasha = { group_by = ["lr"] }\n[train]\n"lr" = 0.1\n'
            '[data.piano]\ntime_limit = 9\n[sweep . "x"]\nasha.per = "model"\n')
    assert key_line(text, "sweep.asha.group_by") == 3  # inside an inline table: the table's line
    assert key_line(text, "train.lr") == 5 and key_line(text, "data.piano.time_limit") == 7
    assert key_line(text, "sweep.x.asha.per") == 9 and key_line(text, "data.piano") == 6
    assert key_line(text, "data.jsb.lr") is None and key_line(text, "model.c001.set.H") is None


def test_a_variant_no_size_fits_is_not_a_candidate_and_is_named(tmp_path, capsys):
    """DOT(S) + add_shortcut(y, x) has 8,191 parameters at H = 1: no H meets a budget of 3,000. It was
    a candidate at its seed's H = 200 (238,832 parameters), listed and trained beside 3,000-parameter
    rivals; now it is counted and named, and not in the sweep."""
    found, tally = candidates([("DOT(S)", load(EXAMPLES / "dots.rnn"))], "H", 3000, moves=("add_shortcut",))
    assert [c.label for c in found] == ["DOT(S)", "DOT(S) + add_shortcut(h', x)", "DOT(S) + add_shortcut(o, h)",
                                        "DOT(S) + add_shortcut(y, h)"]
    assert all(c.parameters < 3300 for c in found)
    assert tally.unsized == ["DOT(S) + add_shortcut(y, x): 8,191 parameters at H = 1, above the budget of 3,000"]
    search_file = tmp_path / "s.toml"
    search_file.write_text(f'[search]\nseeds = ["{EXAMPLES / "dots.rnn"}"]\nlabels = ["DOT(S)"]\nsize = "H"\n'
                           'budget = 3000\nmoves = ["add_shortcut"]\n[sweep]\ndatasets = ["jsb"]\n')
    assert main(["search", str(search_file), "--dry-run", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "1 that no H sizes to the budget" in out
    assert "  not sized, not trained: DOT(S) + add_shortcut(y, x): 8,191 parameters at H = 1, above the budget " \
           "of 3,000\n" in out
    assert "H = 200" not in (tmp_path / "out" / "sweep.toml").read_text() and "4 trials" in out


def test_a_seed_whose_parameters_do_not_depend_on_the_size_is_the_sizes_line(tmp_path, capsys):
    """`size = "K"`, a `let` no parameter depends on: no K meets the budget, and every candidate kept
    K = 5 and its own count (silently) before."""
    seed = tmp_path / "rnn_k.rnn"
    seed.write_text("let K = 5\n" + (EXAMPLES / "rnn.rnn").read_text())
    search_file = tmp_path / "s.toml"
    search_file.write_text('[search]\nseeds = ["rnn_k.rnn"]\nsize = "K"\nbudget = 100000\n'
                           '[sweep]\ndatasets = ["jsb"]\n')
    assert main(["search", str(search_file), "--dry-run", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{search_file}: line 3: search.size: error: rnn_k.rnn's "), err
    assert "parameters do not depend on K: no value of it sizes the seed to the budget" in err


def test_without_ray_a_search_writes_no_candidates(tmp_path, capsys, monkeypatch):
    """The `sweep` extra missing (`import ray.tune` fails): the error names it before the
    candidates are generated or written; --dry-run, which needs no Ray, still writes them."""
    import sys

    search_file = tmp_path / "s.toml"
    search_file.write_text(f'[search]\nseeds = ["{EXAMPLES / "rnn.rnn"}"]\nsize = "H"\nbudget = 2000\nrounds = 1\n'
                           '[sweep]\ndatasets = ["jsb"]\n')
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setitem(sys.modules, "ray.tune", None)
    assert main(["search", str(search_file), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == ("rnnalg search (it trains through rnnalg sweep) needs Ray Tune: "
                                       "pip install 'rnnalg[sweep]'\n")
    assert not (tmp_path / "out").exists()
    assert main(["search", str(search_file), "--out", str(tmp_path / "out"), "--dry-run"]) == 0
    assert (tmp_path / "out" / "sweep.toml").exists()
