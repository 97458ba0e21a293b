"""Every numeric flag is validated by one table (rnnalg.values): a bad value names the flag, exit 2."""
from pathlib import Path

import pytest

from rnnalg.cli import build_parser, main
from rnnalg.errors import UsageError
from rnnalg.train.config import TrainConfig, resolve

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SPEC = str(EXAMPLES / "rnn.rnn")


def test_no_numeric_flag_escapes_the_table():
    """A flag parsed by bare int/float would accept -1, 0 or nan unchecked."""
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    loose = [(name, action.option_strings) for name, p in sub.choices.items() for action in p._actions
             if action.type in (int, float)]
    assert loose == []


@pytest.mark.parametrize("argv, flag", [
    (["train", SPEC, "--seed", "-1"], "--seed"),
    (["bench", SPEC, "--seed", "-1"], "--seed"),
    (["sample", SPEC, "--checkpoint", "x", "--seed", "-1"], "--seed"),
    (["train", SPEC, "--batch-size", "0"], "--batch-size"),
    (["eval", SPEC, "--checkpoint", "x", "--batch-size", "0"], "--batch-size"),
    (["sample", SPEC, "--checkpoint", "x", "--temperature", "nan"], "--temperature"),
    (["sample", SPEC, "--checkpoint", "x", "--temperature", "0"], "--temperature"),
    (["sample", SPEC, "--checkpoint", "x", "--steps", "0"], "--steps"),
    (["train", SPEC, "--steps", "0"], "--steps"),
    (["train", SPEC, "--epochs", "-2"], "--epochs"),
    (["train", SPEC, "--epochs", "1.5"], "--epochs"),
    (["train", SPEC, "--lr", "inf"], "--lr"),
    (["train", SPEC, "--clip", "nan"], "--clip"),
    (["train", SPEC, "--momentum", "1"], "--momentum"),
    (["train", SPEC, "--time-limit", "0"], "--time-limit"),
    (["bench", SPEC, "-T", "0"], "-T"),
    (["bench", SPEC, "--warmup", "-1"], "--warmup"),
])
def test_bad_values_name_the_flag(argv, flag, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"argument {flag}" in err and "must be" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # no run folder, no sample


@pytest.mark.parametrize("field, value, flag", [
    ("batch_size", 0, "--batch-size"),  # used to mean "the default" (4 for music)
    ("seed", -1, "--seed"),
    ("lr", float("nan"), "--lr"),
    ("epochs", 2.5, "--epochs"),
    ("eval_batch_size", 0, "--batch-size"),
])
def test_config_from_the_api_or_a_checkpoint_is_checked_by_the_same_table(field, value, flag):
    with pytest.raises(UsageError, match=f"^{flag} must be"):
        resolve(TrainConfig().replace(**{field: value}), "frame")


def test_unset_batch_size_takes_the_unit_default():
    assert resolve(TrainConfig(), "frame").batch_size == 4
    assert resolve(TrainConfig(batch_size=7), "char").batch_size == 7
