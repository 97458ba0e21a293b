"""A path into the data folder that would load wrongly names the dataset to use; --unit fits the data."""
import json

import pytest

from rnnalg.cli import main
from rnnalg.data import load_dataset
from rnnalg.errors import DataError, UsageError

PIECES = [[[60, 64], [62]], [[55], [57, 60], []]]
MUSIC = {"train": PIECES, "valid": PIECES, "test": PIECES}


@pytest.fixture
def data_dir(tmp_path):
    """A small copy of the shared data folder's layout."""
    root = tmp_path / "data"
    (root / "music").mkdir(parents=True)
    (root / "music" / "JSB_Chorales.json").write_text(json.dumps(MUSIC))
    (root / "music" / "JSB_Chorales.mat").write_bytes(b"MATLAB 5.0 MAT-file\x00\xff\xfe" * 8)
    (root / "music" / "Nottingham.json").write_text(json.dumps(MUSIC))
    for folder, stem, text in (("ptb_char", "ptb.char", "a b _ c\n"), ("ptb", "ptb", "the cat sat\n")):
        (root / folder).mkdir()
        for split in ("train", "valid", "test"):
            (root / folder / f"{stem}.{split}.txt").write_text(text * 40)
    return root


@pytest.mark.parametrize("rel, unit, name", [
    ("music/JSB_Chorales.mat", None, "jsb"),
    ("ptb_char", None, "ptb-char"),
    ("ptb_char", "char", "ptb-char"),  # spaced symbols: a plain read would be wrong either way
    ("ptb_char/ptb.char.valid.txt", None, "ptb-char"),
    ("ptb", None, "ptb-word"),  # words read as characters
    ("ptb/ptb.train.txt", "char", "ptb-word"),
    ("music", None, "jsb"),
    (".", None, "jsb"),
])
def test_a_part_of_the_data_folder_names_the_dataset(data_dir, rel, unit, name):
    with pytest.raises(DataError) as err:
        load_dataset(str(data_dir / rel), unit=unit)
    assert f"did you mean `--data {name} --data-dir {data_dir.resolve()}`" in str(err.value)


def test_what_reads_right_as_a_path_still_loads(data_dir):
    assert load_dataset(str(data_dir / "music" / "JSB_Chorales.json")).kind == "music"
    words = load_dataset(str(data_dir / "ptb"), unit="word")
    assert words.unit == "word" and "cat" in words.vocab


def test_a_mat_file_through_the_cli(data_dir, tmp_path, capsys):
    spec = tmp_path / "m.rnn"
    spec.write_text("input x : binary[88]\noutput y : binary[88]\nstate h : 4\nh' = tanh(x ⊕ h)\ny = ▷ h'\n")
    mat = data_dir / "music" / "JSB_Chorales.mat"
    assert main(["train", str(spec), "--data", str(mat), "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{mat}: error: this is a MATLAB file") and "UTF-8" not in err
    assert not (tmp_path / "run").exists()


def test_music_json_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(MUSIC).encode())
    dataset = load_dataset(str(path))
    assert [len(p) for p in dataset.splits["train"]] == [2, 3]


@pytest.mark.parametrize("unit", ["word", "char"])
def test_unit_on_music_advises_leaving_it_out(unit):
    """It used to suggest `frame`, which --unit then rejects."""
    with pytest.raises(UsageError) as err:
        load_dataset("jsb", unit=unit)
    assert str(err.value) == f"--unit {unit}: jsb is music (piano-roll frames); --unit is for text data: leave it out"


def test_unit_on_a_named_text_dataset(data_dir):
    with pytest.raises(UsageError, match=r"--unit word: ptb-char is read as chars; use --unit char, or leave"):
        load_dataset("ptb-char", data_dir=str(data_dir), unit="word")
