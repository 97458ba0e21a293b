"""Models too large for the machine are refused with a message before anything is allocated."""
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import rnnalg
from rnnalg.cli import main
from rnnalg.errors import ResourceError
from rnnalg.lower import footprint

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DOTS = str(EXAMPLES / "dots.rnn")
HUGE = ["--set", "H=1000000"]  # about 4e12 parameters: terabytes


@pytest.mark.parametrize("argv", [
    ["train", DOTS, *HUGE, "--out", "run"],
    ["bench", DOTS, *HUGE, "-T", "10"],
])
def test_training_and_bench_refuse_before_allocating(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "needs at least" in err and "of memory" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # no run folder


@pytest.mark.parametrize("data", ["jsb", "text"])
def test_the_batch_estimate_is_bounded_by_the_data(data, tmp_path):
    """--steps and --batch-size beyond the data make no larger batches: nothing to refuse."""
    from rnnalg.train.session import _batch_positions
    from rnnalg.data import load_dataset
    from rnnalg.train.config import TrainConfig

    if data == "text":
        data = tmp_path / "corpus.txt"
        data.write_text("abc\n" * 500)
    dataset = load_dataset(str(data))
    parts = dataset.splits["train"]
    padded = len(parts) * max(map(len, parts))  # every piece (or the one stream) in one batch
    for steps, batch in ((10**12, 10**9), (10**12, 1), (1, 10**9), (50, 3)):
        config = TrainConfig(steps=steps, batch_size=batch)
        assert 1 <= _batch_positions(dataset, config) <= padded


def test_a_twenty_digit_let_is_refused_naming_the_spec(tmp_path, capsys):
    spec = tmp_path / "big.rnn"
    spec.write_text(Path(DOTS).read_text().replace("let H = 200", "let H = 99999999999999999999"))
    assert main(["train", str(spec), "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{spec}: error: to train") and "H=99999999999999999999" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", ["eval", "sample"])
def test_eval_and_sample_refuse_before_reading(command, tmp_path, capsys):
    """The sizes are refused before the checkpoint is even looked for."""
    out = ["--out", str(tmp_path / "s.mid")] if command == "sample" else []
    assert main([command, DOTS, "--checkpoint", str(tmp_path / "no-run"), *HUGE, *out]) == 1
    assert "needs at least" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_refusal_says_what_the_copies_and_the_item_size_are(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", DOTS, *HUGE, "--out", "run"]) == 1
    err = capsys.readouterr().err
    assert ("4,000,355,000,088 parameters × 4 copies (the parameters, their gradients, the optimiser's two "
            "moments or velocity, the best parameters) × 4 bytes per number (float32) = 58.2 TiB") in err
    model = rnnalg.compile(rnnalg.check(rnnalg.load(DOTS), {"H": 1_000_000}), dtype=np.float64)
    with pytest.raises(ResourceError, match=r"parameters × 1 copy \(the parameters\) × 8 bytes per number "
                                            r"\(float64\) = 29.1 TiB"):
        model.init_params(np.random.default_rng(0))


def test_the_api_refuses_to_initialise_too_large_a_model():
    model = rnnalg.compile(rnnalg.check(rnnalg.load(DOTS), {"H": 1_000_000}))
    with pytest.raises(ResourceError, match="to initialise") as info:
        model.init_params(np.random.default_rng(0))
    assert "--set" not in str(info.value)  # the API speaks Python, not the command line
    assert "sizes={NAME: VALUE}" in str(info.value)


def test_parameter_estimate_matches_the_arrays_made():
    for dtype in (np.float32, np.float64):
        model = rnnalg.compile(rnnalg.check(rnnalg.load(DOTS), {"H": 12}), dtype)
        params = model.init_params(np.random.default_rng(0))
        got, _ = footprint.estimate(model.program, copies=1, itemsize=np.dtype(dtype).itemsize)
        assert got == sum(a.nbytes for a in params.values())


def test_the_limit_is_the_smaller_of_memory_and_ulimit(monkeypatch):
    resource = pytest.importorskip("resource")
    monkeypatch.setattr(resource, "getrlimit", lambda _: (12345, resource.RLIM_INFINITY))
    assert footprint.memory_limit() == 12345


def test_float32_gaussian_init_holds_no_float64_matrix():
    """The float64 numbers cast to float32, without a float64 copy of a matrix at any time."""
    program = rnnalg.check(rnnalg.load(str(EXAMPLES / "rnn.rnn")), {"H": 1500})
    model = rnnalg.compile(program)
    tracemalloc.start()
    params = model.init_params(np.random.default_rng(7))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    total = sum(a.nbytes for a in params.values())
    largest = max(a.nbytes for a in params.values())
    assert peak < total + largest  # a float64 copy of the largest matrix would be 2 × largest
    wide = rnnalg.compile(program, np.float64).init_params(np.random.default_rng(7))
    assert all(np.array_equal(params[k], wide[k].astype(np.float32)) for k in params)


def test_format_bytes():
    assert [footprint.format_bytes(n) for n in (512, 1536, 7 * 2**40, 10**40)] == \
        ["512 B", "1.5 KiB", "7 TiB", "1e+40 bytes"]
