"""A trial's command line names its spec and data file as the sweep (or search) file gives them,
relative to the folder `rnnalg sweep` runs in, so it can be pasted there (sweepfile.command_path).
A data file was printed by its absolute path before, although `Trial.command` said "paths as written"."""
import json
import os
import shlex
from pathlib import Path

import pytest

from rnnalg.cli import main
from rnnalg.sweep.linetypes import line_mistake
from rnnalg.sweep.rerun import rerun_command
from rnnalg.sweep.sweepfile import load_sweep, train_parser
from rnnalg.sweep.trials import Trial, expand

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SWEEP = """\
[sweep]
datasets = ["../data/small.json", "jsb"]
[train]
epochs = 1
[model.rnn]
spec = "../specs/rnn.rnn"
set = { H = 4 }
"""


@pytest.fixture
def project(tmp_path):
    """tmp_path/exp/s.toml naming tmp_path/data/small.json as ../data/small.json (and its spec
    tmp_path/specs/rnn.rnn as ../specs/rnn.rnn)."""
    for folder in ("exp", "data", "specs"):
        (tmp_path / folder).mkdir()
    (tmp_path / "specs" / "rnn.rnn").write_text((EXAMPLES / "rnn.rnn").read_text())
    piece = [[60, 64], [62], [], [65, 69]]  # the sweep loads it once before any trial, as a trial will
    (tmp_path / "data" / "small.json").write_text(json.dumps({"train": [piece], "valid": [piece], "test": [piece]}))
    (tmp_path / "exp" / "s.toml").write_text(SWEEP)
    return tmp_path


def dry_run_data(argv, capsys, spec=None) -> list:
    """The --data values of the commands `rnnalg sweep|search … --dry-run` prints (all of whose
    spec is `spec`, if given)."""
    assert main(argv) == 0
    words = [shlex.split(line.split("parameters  ", 1)[1]) for line in capsys.readouterr().out.splitlines()
             if "parameters  rnnalg train " in line]
    args = [train_parser().parse_args(w[2:]) for w in words]
    assert spec is None or {a.spec for a in args} == {spec}
    return [a.data for a in args]


@pytest.mark.parametrize("folder, named, shown", [
    (".", "exp/s.toml", "data/small.json"),  # from the project: relative to it
    ("exp", "s.toml", "../data/small.json"),  # from the sweep file's folder: exactly as written
    ("exp", "../exp/s.toml", "../data/small.json"),
])
def test_dry_run_names_a_data_file_relative_to_where_it_runs(project, monkeypatch, capsys, folder, named, shown):
    monkeypatch.chdir(project / folder)
    assert dry_run_data(["sweep", named, "--dry-run"], capsys,
                        spec=shown.replace("data/small.json", "specs/rnn.rnn")) == [shown, "jsb"]
    assert Path(shown).resolve() == project / "data" / "small.json"  # the pasted command finds the file


def test_dot_dot_after_a_symbolic_link_is_kept(tmp_path, project, monkeypatch, capsys):
    """`link/../data/small.json` is the file only as the system resolves it (link's real parent):
    collapsing the `..` names another path, `data/small.json` here (the spec's was collapsed before)."""
    (tmp_path / "elsewhere").mkdir()
    os.symlink(project / "exp", tmp_path / "elsewhere" / "link")
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert dry_run_data(["sweep", "link/s.toml", "--dry-run"], capsys, spec="link/../specs/rnn.rnn") == \
        ["link/../data/small.json", "jsb"]
    assert Path("link/../data/small.json").resolve() == project / "data" / "small.json"
    # a sweep file named by its absolute path: absolute paths
    assert dry_run_data(["sweep", str(project / "exp" / "s.toml"), "--dry-run"], capsys,
                        spec=str(project / "specs" / "rnn.rnn")) == [str(project / "data" / "small.json"), "jsb"]


def test_a_search_names_its_data_file_relative_to_where_it_runs(project, monkeypatch, capsys):
    """The generated sweep.toml names the data file by its absolute path; the commands do not."""
    (project / "exp" / "search.toml").write_text(
        f'[search]\nseeds = ["{EXAMPLES / "rnn.rnn"}"]\nsize = "H"\nbudget = 3000\nmax_candidates = 1\n'
        '[sweep]\ndatasets = ["../data/small.json"]\n')
    monkeypatch.chdir(project)
    assert dry_run_data(["search", "exp/search.toml", "--dry-run", "--out", "out"], capsys) == ["data/small.json"]
    assert str(project / "data" / "small.json") in (project / "out" / "sweep.toml").read_text()


def test_the_results_lines_command_and_its_rerun_follow_the_same_rule(project, monkeypatch):
    monkeypatch.chdir(project)
    trial = expand(load_sweep("exp/s.toml"))[0]
    assert trial.dataset == str(project / "data" / "small.json")  # what the trial's worker loads
    line = {"status": "ok", "epochs": 3, "trial": trial.to_json(), "command": trial.command()}
    assert line_mistake(line) is None
    assert Trial.from_json(line["trial"]) == trial
    assert " --data data/small.json " in rerun_command(line)
    old = {k: v for k, v in trial.to_json().items() if k != "dataset_shown"}  # a line of before
    assert Trial.from_json(old).command() == trial.command().replace("data/small.json", trial.dataset)
    assert line_mistake({**line, "trial": {**line["trial"], "dataset_shown": 3}}) == \
        "'trial.dataset_shown' is 3: expected a string"
