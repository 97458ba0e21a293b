"""Every `rnnalg` command README.md shows runs, in order, as written (training made small)."""
import re
import shlex
import shutil
from pathlib import Path

import numpy as np

import rnnalg
from _shared import shared_data
from ptb_server import PtbServer
from rnnalg.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")

# appended so the suite stays fast: later flags win over the command's own
SMALLER = {
    "train": ["--set", "H=8", "--epochs", "1", "--time-limit", "20", "--quiet"],
    "bench": ["--set", "H=8", "--repeats", "2"],
    "compile": ["--set", "H=8"],
    "sweep": ["--dry-run"],  # checks the file and every spec, lists the trials; tests/test_sweep.py runs one
}


# a command the README shows exiting otherwise: `equiv` of two different specs exits 3
EXIT = {"equiv": 3}


def readme_commands():
    blocks = re.findall(r"```console\n(.*?)```", README, flags=re.S)
    return [line[2:].strip() for block in blocks for line in block.splitlines() if line.startswith("$ rnnalg ")]


def test_readme_shows_every_command():
    shown = {shlex.split(c)[1] for c in readme_commands()}
    assert shown == {"check", "compile", "bench", "train", "eval", "sample", "data", "sweep", "export",
                     "cost", "equiv", "search"}


def test_readme_commands_run_as_written(tmp_path, monkeypatch, capsys):
    """From an empty data folder: `data fetch ptb` gets PTB from a local server copy."""
    server = PtbServer(shared_data("ptb") / "ptb")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    shutil.copytree(ROOT / "experiments", tmp_path / "experiments")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RNNALG_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("RNNALG_PTB_SOURCES", server.url("good"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    with server:
        run_commands(capsys)
    assert "/good/ptb.train.txt" in server.requests
    assert (tmp_path / "dots_model.py").exists() and (tmp_path / "dots.mid").exists()
    assert (tmp_path / "runs" / "dots" / "metrics.jsonl").exists()


def run_commands(capsys):
    for command in readme_commands():
        argv = shlex.split(command)[1:]
        argv += SMALLER.get(argv[0], [])
        expected = EXIT.get(argv[0], 0)
        assert main(argv) == expected, (command, capsys.readouterr().err)
        out = capsys.readouterr().out
        if argv[0] == "train" and "dots" in argv[1]:
            assert "test NLL per frame" in out
        if argv[0] == "sample" and "char" in argv[1]:
            assert len(out) >= 150  # 200 characters of text (line ends included)
        if argv[:2] == ["data", "list"]:
            assert re.search(r"^ptb-char +cached ", out, re.M)


def test_readme_python_example_runs_as_written(monkeypatch):
    block = re.search(r"```python\n(.*?)```", README, flags=re.S).group(1)
    monkeypatch.chdir(ROOT)
    namespace = {}  # nothing given: the block defines its own data (before: xs, ys undefined)
    exec(compile(block, "README.md", "exec"), namespace)
    assert np.isfinite(namespace["loss"]) and namespace["count"] == namespace["mask"].sum()
    B = namespace["xs"].shape[1]
    assert namespace["xs"].shape[2] == 88 and namespace["probs"]["y"].shape == (B, 88)


def test_readme_says_where_bit_for_bit_holds():
    text = " ".join(README.split())
    assert "bit for bit on the same machine with the same numpy and BLAS" in text


def test_readme_error_example_is_what_check_prints(tmp_path, monkeypatch, capsys):
    spec, shown = re.search(r"For this `bad.rnn`\n\n  ```\n(.*?)```.*?prints.*?```\n(.*?)```", README, flags=re.S).groups()
    unindent = lambda block: "".join(line[2:] + "\n" for line in block.rstrip().splitlines())  # noqa: E731
    (tmp_path / "bad.rnn").write_text(unindent(spec), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["check", "bad.rnn"]) == 1
    assert capsys.readouterr().err == unindent(shown)


def test_readme_sweep_file_is_valid(tmp_path):
    from rnnalg.sweep.sweepfile import load_sweep
    from rnnalg.sweep.trials import expand

    block = re.search(r"```toml\n(.*?)```", README, flags=re.S).group(1)
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "readme.toml").write_text(block)
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    trials = expand(load_sweep(tmp_path / "experiments" / "readme.toml"))
    assert len(trials) == 2 * 2 * 2  # datasets × weight noises × seeds (one lr sample each)
