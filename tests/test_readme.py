"""README.md shows only what runs and what is true.

Every shell command of its code blocks runs as written (training made small), in order, in a
fresh folder: the ones that need Penn Treebank only where a copy of it is (tests/_shared.py);
every Python block runs as written; the main job's output block is the one
tools/readme_main_job.py writes; its claims about the paper's figures, the sweep files,
`rnnalg bench` and `rnnalg sample` hold.
"""
import glob
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _shared import shared_data
from ptb_server import PtbServer
from rnnalg.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
FLAT = " ".join(README.split())  # the text with every line break and indent a single space

# appended so the suite stays fast: later flags win over the command's own
SMALLER = {
    "train": ["--set", "H=8", "--epochs", "1", "--time-limit", "3", "--quiet"],
    "bench": ["--set", "H=8", "--repeats", "2"],
    "compile": ["--set", "H=8"],
    "sweep": ["--dry-run"],  # checks the file, every spec and the data, lists the trials; test_sweep.py runs one
    "search": ["--dry-run"],  # writes and lists the candidates; test_search.py trains a tiny search
}
# the steps of the shell blocks that no test runs, and why
NOT_RUN = {
    "python3 -m venv": "makes a virtual environment",
    ". .venv/bin/activate": "enters it",
    "pip install": "installs the project (CI does: .ci/run)",
    "pytest": "the test suite itself",
}


# a command the README shows exiting otherwise: `equiv` of two different specs exits 3
EXIT = {"equiv": 3}


def _load_tool(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = sys.modules[name] = importlib.util.module_from_spec(spec)  # dataclasses look it up there
    spec.loader.exec_module(module)
    return module


main_job = _load_tool("readme_main_job")


# --------------------------------------------------------------------------- the commands


def shown_commands():
    """Each shell command README.md's code blocks show, in order, once: the `$ ` lines of its
    ```console blocks and every `&&` step of its ```sh blocks, comments dropped."""
    commands = []
    for kind, body in re.findall(r"```(console|sh)\n(.*?)```", README, flags=re.S):
        for line in body.splitlines():
            if kind == "console":
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            for step in re.sub(r"\s+#.*$", "", line).split("&&"):
                if step.strip() and step.strip() not in commands:
                    commands.append(step.strip())
    return commands


def rnnalg_commands(select):
    return [c for c in shown_commands() if c.startswith("rnnalg ") and select(c)]


def needs_ptb(command: str) -> bool:
    return re.search(r"ptb|\bchar_|\bword_", command) is not None


def run_commands(commands, capsys) -> dict:
    """Run each command (SMALLER appended, globs expanded); {command: its stdout}."""
    outputs = {}
    for command in commands:
        argv = []
        for arg in shlex.split(command)[1:]:
            expanded = sorted(glob.glob(arg)) if glob.has_magic(arg) else [arg]
            assert expanded, f"{command}: {arg} matches no file"
            argv += expanded
        argv += SMALLER.get(argv[0], [])
        assert main(argv) == EXIT.get(argv[0], 0), (command, capsys.readouterr().err)
        outputs[command] = capsys.readouterr().out
    return outputs


def output_of(outputs: dict, prefix: str) -> str:
    found = [out for command, out in outputs.items() if command.startswith(prefix)]
    assert len(found) == 1, f"README.md shows {len(found)} commands starting {prefix!r}"
    return found[0]


@pytest.fixture
def readme_folder(tmp_path, monkeypatch):
    """A fresh folder holding examples/ and experiments/ (without RESULTS.md), empty data and caches."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    shutil.copytree(ROOT / "experiments", tmp_path / "experiments")
    (tmp_path / "experiments" / "RESULTS.md").unlink()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RNNALG_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return tmp_path


def test_readme_shows_every_command():
    shown = {shlex.split(c)[1] for c in rnnalg_commands(lambda c: True)}
    assert shown >= {"check", "compile", "bench", "train", "eval", "sample", "data", "sweep", "report", "export",
                     "cost", "equiv", "search"}


def test_every_shell_step_shown_is_run_here_or_named_as_not_run():
    others = [c for c in shown_commands() if not c.startswith("rnnalg ")]
    assert others and all(c.startswith(tuple(NOT_RUN)) for c in others), others


def test_readme_commands_run_as_written(readme_folder, capsys):
    """Without Penn Treebank (the music ships inside the package): all but the PTB commands."""
    outputs = run_commands(rnnalg_commands(lambda c: not needs_ptb(c)), capsys)
    assert "test NLL per frame" in output_of(outputs, "rnnalg train examples/dots.rnn")
    assert (readme_folder / "runs" / "dots" / "metrics.jsonl").exists()
    assert (readme_folder / "dots_model.py").exists()
    assert_sample_counts_are_the_midi_files(output_of(outputs, "rnnalg sample examples/dots.rnn"),
                                            readme_folder / "dots.mid")
    assert (readme_folder / "experiments" / "RESULTS.md").read_text().startswith("# Results")


def inline_commands():
    """The `rnnalg …` commands README.md shows in its prose (`…` spans outside the code blocks) that
    name a spec of examples/: [(environment, command)]."""
    prose = re.sub(r"```.*?```", "", README, flags=re.S)
    found = []
    for span in re.findall(r"`([^`]+)`", prose):
        said = re.fullmatch(r"((?:[A-Z_]+=\S+ )*)(rnnalg .*)", " ".join(span.split()))
        if said and re.search(r"\bexamples/\w+\.rnn\b", said.group(2)):
            found.append((dict(v.split("=", 1) for v in said.group(1).split()), said.group(2)))
    return found


def test_readme_inline_commands_run_as_written(readme_folder, capsys, monkeypatch):
    """Those of the prose (a conditioned LSTM's training, the main job's repeat with --force)."""
    from threadpoolctl import threadpool_limits

    commands = inline_commands()
    assert len(commands) >= 2, commands
    for environment, command in commands:
        blas = environment.pop("OPENBLAS_NUM_THREADS", None)  # read at numpy's start: too late here
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        with threadpool_limits(int(blas) if blas else None, user_api="blas"):
            run_commands([command], capsys)


def test_readme_ptb_commands_run_as_written(readme_folder, capsys, monkeypatch):
    """From an empty data folder: `data fetch ptb` gets PTB from a local server's copy."""
    server = PtbServer(shared_data("ptb") / "ptb")
    monkeypatch.setenv("RNNALG_PTB_SOURCES", server.url("good"))
    with server:
        outputs = run_commands(rnnalg_commands(lambda c: needs_ptb(c) or c == "rnnalg data list"), capsys)
    assert "/good/ptb.train.txt" in server.requests
    assert re.search(r"^ptb-char +cached ", outputs["rnnalg data list"], re.M)
    assert len(output_of(outputs, "rnnalg sample examples/char_rnn.rnn")) >= 150  # 200 characters


def assert_sample_counts_are_the_midi_files(printed: str, midi_path: Path):
    """`sample` says N notes (the MIDI note-ons) and K key-frames (a note held d frames counts d)."""
    mido = pytest.importorskip("mido")
    said = re.search(r"^(\d+) frames, (\d+) notes \(MIDI note-ons.*; (\d+) key-frames sounding\)", printed, re.M)
    assert said, printed
    frames, notes, key_frames = map(int, said.groups())
    now, started, ons, held = 0, {}, 0, 0
    for message in mido.MidiFile(str(midi_path)).tracks[0]:
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            started[message.note], ons = now, ons + 1
        elif message.type in ("note_on", "note_off"):
            held += (now - started.pop(message.note)) // 480  # one quarter note (480 ticks) a frame
    assert (ons, held, now) == (notes, key_frames, frames * 480) and notes < key_frames


def test_sample_counts_a_held_key_as_one_note_and_each_of_its_frames():
    from rnnalg.commands.sample import note_counts

    roll = np.zeros((6, 88), np.float32)
    roll[0:3, 40] = roll[4, 40] = 1  # two notes of one key: 3 frames, then 1 after a rest
    roll[2:6, 50] = 1  # one note held to the end
    assert note_counts(roll) == (3, 8)


def test_no_command_shown_names_a_path_outside_the_checkout():
    """(before: `--data-dir ../shared/data`, a folder of the development machine)"""
    for command in shown_commands():
        assert not [arg for arg in shlex.split(command) if arg.startswith("../")], command


# --------------------------------------------------------------------------- the Python blocks


def python_blocks():
    """[(line of README.md where the block's code starts, code)] of every ```python block."""
    return [(README.count("\n", 0, m.start(1)), m.group(1)) for m in re.finditer(r"```python\n(.*?)```", README, re.S)]


# runs the blocks in one fresh interpreter, as a reader would (in the test process, other tests
# have imported rnnalg's subpackages already); prints what the test checks as JSON
RUN_BLOCKS = """
import json, sys
namespace = {}
for line, code in json.load(sys.stdin):
    exec(compile("\\n" * line + code, sys.argv[1], "exec"), namespace)  # tracebacks name README lines
n = namespace
print(json.dumps({"loss": float(n["loss"]), "count": float(n["count"]), "masked": float(n["mask"].sum()),
                  "xs": n["xs"].shape, "probs": n["probs"]["y"].shape, "result": n["result"]}))
"""


def test_readme_python_blocks_run_as_written(readme_folder):
    done = subprocess.run([sys.executable, "-c", RUN_BLOCKS, str(ROOT / "README.md")],
                          input=json.dumps(python_blocks()), capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert np.isfinite(seen["loss"]) and seen["count"] == seen["masked"] > 0
    assert seen["xs"][2] == 88 and seen["probs"] == [seen["xs"][1], 88]
    result = seen["result"]
    assert result["metric"] == "nll" and np.isfinite(result["test"]) and result["epochs"] == 2
    assert json.loads((readme_folder / "runs" / "gru16" / "result.json").read_text())["test"] == result["test"]
    assert "examples/gru.rnn: autograd max rel err" in done.stdout


def test_import_rnnalg_alone_reaches_train_testing_and_data():
    """As the README's Python section uses them, in a fresh interpreter (before: AttributeError)."""
    code = ("import rnnalg; print(rnnalg.train.train.__module__, rnnalg.testing.main.__module__, "
            "rnnalg.data.load_dataset.__module__, 'train' in dir(rnnalg))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["rnnalg.train.session", "rnnalg.testing", "rnnalg.data.dataset", "True"]


def test_an_unknown_attribute_of_rnnalg_is_still_an_attribute_error():
    import rnnalg

    with pytest.raises(AttributeError, match="no attribute 'trian'"):
        rnnalg.trian


# --------------------------------------------------------------------------- the main job's block


def test_the_main_job_block_is_the_generated_one():
    """Markers, output lines and the made-by line (not the figures: they depend on the machine)."""
    assert main_job.main_command(README) == ["rnnalg", "train", "examples/dots.rnn"]
    lines, made = main_job.parse_block(README)
    epochs = [line for line in lines if main_job.EPOCH_LINE.match(line)]
    assert len(epochs) == main_job.EPOCHS_SHOWN and lines[0] == epochs[0]
    assert main_job.TEST_LINE.match(lines[-1]) and lines[-1].endswith("; runs/dots)")
    last = int(re.match(r"epoch +(\d+)/", epochs[-1]).group(1))
    assert re.search(rf"\b{last} epochs\b", lines[-1])  # the closing line counts the epochs shown
    assert main_job.MADE_LINE.match(made), made
    assert main_job.SCRIPT in made and "numpy backend, 1 BLAS thread" in made


def test_the_main_job_script_writes_and_checks_its_block(tmp_path, capsys):
    small = ("--set", "H=8", "--epochs", "2")
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")
    assert main_job.main(["--readme", str(readme)], extra=small) == 0
    written = readme.read_text(encoding="utf-8")
    lines, made = main_job.parse_block(written)
    assert re.match(r"epoch +1/2 ", lines[0]) and main_job.TEST_LINE.match(lines[-1]) and main_job.MADE_LINE.match(made)
    start, end = main_job.block_span(README)
    assert written.startswith(README[:start]) and written.endswith(README[end:])  # only the block changed
    assert main_job.main(["--check", "--readme", str(readme)], extra=small) == 0
    figure = re.search(r"test NLL per frame: (\d+\.\d{4})", written).group(1)
    readme.write_text(written.replace(figure, "9.9999"), encoding="utf-8")
    capsys.readouterr()
    assert main_job.main(["--check", "--readme", str(readme)], extra=small) == 1
    diff = capsys.readouterr()
    assert f"+test NLL per frame: {figure}" in diff.out and "is stale" in diff.err


def test_the_main_job_check_refuses_a_readme_without_its_block(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(README.replace(main_job.END, ""), encoding="utf-8")
    assert main_job.main(["--check", "--readme", str(readme)]) == 1
    assert "must hold the line" in capsys.readouterr().err


# --------------------------------------------------------------------------- claims


def test_the_papers_figures_are_marked_unverified_where_the_readme_gives_them():
    """In a table, a "paper" column's figures carry Q or R; in prose, a recalled figure
    (rnnalg/sweep/paper.py) is marked R or its paragraph says unverified (before: 8.34 / 8.28 as fact)."""
    from rnnalg.sweep.paper import PAPER, RECALLED

    spellings = lambda figures: {s for f in figures for s in (repr(f.value), f"{f.value:.2f}")}  # noqa: E731
    recalled = spellings(f for f in PAPER if f.provenance == RECALLED) - spellings(f for f in PAPER
                                                                                 if f.provenance != RECALLED)
    table_cells = prose_hits = 0
    for paragraph in re.split(r"\n\s*\n", README):
        if paragraph.lstrip().startswith("|"):
            rows = [[cell.strip() for cell in row.strip().strip("|").split("|")]
                    for row in paragraph.strip().splitlines()]
            for i in (i for i, head in enumerate(rows[0]) if head.startswith("paper")):
                cells = [row[i] for row in rows[2:] if row[i]]
                assert all(re.fullmatch(r"[\d.]+ [QR]", cell) for cell in cells), cells
                table_cells += len(cells)
            continue
        for spelling in recalled:
            for hit in re.finditer(rf"(?<![\d.]){re.escape(spelling)}(?![\d])", paragraph):
                prose_hits += 1
                assert paragraph[hit.end():].startswith(" R") or "unverified" in paragraph, \
                    f"README.md gives the paper's {spelling} as fact:\n{paragraph}"
    assert table_cells >= 3 and prose_hits >= 1  # the results excerpt's column; the set-up section


def test_what_the_readme_says_music_toml_runs_for_dots_star():
    from rnnalg.sweep.sweepfile import load_sweep

    said = re.search(r"`spec = (\[[^`]*\])` \(DOT\(S\)\\\* with dropout ([\d.]+) and ([\d.]+)\); "
                     r"`music.toml` runs only the first, `([\w.]+)`", FLAT)
    assert said, "README.md: the dropout variants of DOT(S)* and what music.toml runs"
    variants = json.loads(said.group(1))
    for path, rate in zip(variants, said.group(2, 3)):
        assert f"dropout[{rate}]" in (ROOT / "experiments" / path).read_text(encoding="utf-8")
    dots_star = next(m for m in load_sweep(ROOT / "experiments" / "music.toml").models if m.label == "DOT(S)*")
    assert [Path(spec).name for spec, _ in dots_star.specs] == [said.group(4)] == [Path(variants[0]).name]


def test_bench_readme_example_is_what_bench_prints(capsys):
    """bench/README.md's example output has the lines `rnnalg bench` prints today (the figures,
    the backend and the compile note aside); before: one line, without backend and first call."""
    text = (ROOT / "bench" / "README.md").read_text(encoding="utf-8")
    example = r"`(?:\w+=\S+ )*(rnnalg bench [^`]+)`\s+printed[^`]*?:\n\n```\n(.*?)```"
    command, shown = re.search(example, text, re.S).groups()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):  # its OPENBLAS_NUM_THREADS=1 (the variable: too late here)
        assert main(shlex.split(command)[1:] + SMALLER["bench"]) == 0
    def shape(out):
        lines = [re.sub(r" \(compiles .*\)$", "", line) for line in out.strip().splitlines()]
        return [re.sub(r"\d[\d.,]*[kM]?", "#", re.sub(r" (numpy|fast),", ",", line)) for line in lines]

    assert shape(shown) == shape(capsys.readouterr().out)
    assert re.search(r"B=16 T=100 float32 (numpy|fast), unsplit, BLAS on 1 thread ", shown)


def test_readme_cost_block_is_what_cost_prints(capsys, monkeypatch):
    """Every line `rnnalg cost examples/dots.rnn --measure` prints, as README.md shows it (before: without
    the static rows); the traced line, which --measure's T=200 and 600 runs take ~10 s to make, by its
    form and its 1.0× (bench/README.md's BPTT memory table has every example's)."""
    block = re.search(r"\n  ```\n  \$ (rnnalg cost examples/dots\.rnn --measure)\n(.*?)  ```", README, re.S)
    assert block, "README.md: the output block of `rnnalg cost examples/dots.rnn --measure`"
    shown = [line[2:] for line in block.group(2).rstrip("\n").split("\n")]
    traced = [line for line in shown if line.startswith("traced:")]
    assert len(traced) == 1 and re.search(r" [\d,]+  \(1\.0× the minimum\)$", traced[0]), traced
    monkeypatch.chdir(ROOT)
    assert main(shlex.split(block.group(1))[1:-1]) == 0
    assert capsys.readouterr().out.rstrip("\n").split("\n") == [line for line in shown if line not in traced]


def test_the_speed_section_quotes_the_latest_quiet_sitting():
    """README.md's Speed section names bench/README.md's latest quiet sitting (its first) and quotes
    figures that sitting gives (before: the 08:47 sitting's, after the 12:15 one was written)."""
    bench = (ROOT / "bench" / "README.md").read_text(encoding="utf-8")
    latest = re.search(r"^### Quiet sitting, \d{4}-\d\d-\d\d (\d\d:\d\d)", bench, re.M)
    sitting = bench[latest.start():bench.index("\n### ", latest.end())]
    speed = " ".join(README[README.index("## Speed"):README.index("## Development")].split())
    said = re.search(rf"in the latest, {latest.group(1)} UTC, ([^)]*)\)", speed)
    assert said, f"README.md's Speed section does not quote the quiet sitting of {latest.group(1)}"
    figures = re.findall(r"\d+(?:\.\d+)?", said.group(1))
    assert len(figures) >= 2 and [f for f in figures if f not in sitting] == [], said.group(1)


def test_pytest_says_why_a_test_skipped(tmp_path):
    """setup.cfg's pytest options list each skip with its reason (-rs)."""
    (tmp_path / "test_skips.py").write_text("import pytest\n\n\ndef test_x():\n    pytest.skip('no data here')\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-c", str(ROOT / "setup.cfg"), "-p", "no:cacheprovider",
                           str(tmp_path / "test_skips.py")], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"SKIPPED \[1\] .*test_skips.py:\d+: no data here", done.stdout), done.stdout


def test_the_readme_test_command_is_what_ci_runs():
    """README.md's test command, step by step, is what `.ci/run` runs: its pip upgrade aside, and
    CI=true before pytest, which README.md explains below the command."""
    block = re.search(r"The tests \(what CI runs, `\.ci/run`\):\s*```sh\n(.*?)```", README, re.S)
    assert block, "README.md lacks its test command (The tests (what CI runs, `.ci/run`):)"
    shown = [step.strip() for step in block.group(1).strip().split("&&")]
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    run = [line for line in lines if line and not line.startswith(("#", "set -", "cd "))
           and line != "python -m pip install --quiet --upgrade pip"]
    assert run[-1].startswith("CI=true "), run[-1]
    assert run[:-1] + [run[-1][len("CI=true "):]] == shown, (run, shown)


def test_readme_says_where_bit_for_bit_holds():
    assert "bit for bit on the same machine with the same numpy and BLAS" in FLAT


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


def test_the_language_screen_is_examples_dots_rnn():
    import rnnalg

    block = re.search(r"## The language in one screen\n\n```\n(.*?)```", README, flags=re.S).group(1)
    assert rnnalg.check(rnnalg.parse(block, "README.md")) == rnnalg.load_program(ROOT / "examples" / "dots.rnn")


def _options(parser, prog="rnnalg"):
    """(command, option strings) of every option of `parser` and its subcommands, --help aside."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, f"{prog} {name}")
        elif action.option_strings and not isinstance(action, argparse._HelpAction):
            yield prog, action.option_strings


def test_readme_names_every_option_of_every_command():
    """What `rnnalg COMMAND --help` lists, README.md names (by any of its spellings): bench's
    --clock, --dtype, --repeats and --warmup, eval's --split, train's --quiet, report's
    --no-figures and --version were missing."""
    from rnnalg.cli import build_parser

    missing = [f"{command} {'/'.join(names)}" for command, names in _options(build_parser())
               if not any(re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", README) for n in names)]
    assert not missing, missing


def test_the_diverged_trials_batch_lengths_are_their_data_orders():
    """The steps README gives for two failed trials are the length of the batch their error names:
    MuseData DOT(S)* seed 1 (batch 8, the 35th update, its results line's error) and the first
    LN-LSTM trial on Piano-midi.de (batch 4, seed 1234, the fifth update)."""
    from itertools import islice

    from rnnalg.data import load_dataset
    from rnnalg.train.feed import batches
    from rnnalg.train.state import seeded_rngs

    def steps(data, batch_size, seed, update):
        order = batches(load_dataset(data), "train", batch_size, None, seeded_rngs(seed)["data"])
        return next(islice(order, update - 1, None)).mask.shape[0]

    lines = (ROOT / "experiments" / "results" / "musedata_seeds_more.jsonl").read_text().splitlines()
    failed = [json.loads(line) for line in lines if '"failed"' in line]
    assert [(f["trial"]["id"], f["trial"]["flags"]["batch_size"]) for f in failed] == [("dots_star-musedata-tl900-s1", 8)]
    assert "became nan at epoch 1, step 35;" in failed[0]["error"]
    said = re.search(r"seed 1 diverged \(NaN at the 35th update of epoch 1, .*? over the batch's ([\d,]+) steps", FLAT)
    assert said and int(said.group(1).replace(",", "")) == steps("musedata", 8, 1, 35)
    said = re.search(r"stopped at its fifth update: its gradient over ([\d,]+) steps of BPTT", FLAT)
    assert said and int(said.group(1).replace(",", "")) == steps("piano", 4, 1234, 5)
