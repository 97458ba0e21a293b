"""The fingerprint of a dataset as loaded: the same data has the same one in every file format
and under every name; the table of the named datasets' fingerprints is what loading gives."""
import json

import numpy as np
import pytest

from _shared import shared_data
from rnnalg.data import music
from rnnalg.data.dataset import load_dataset
from rnnalg.data.fingerprint import KNOWN_FINGERPRINTS, fingerprint, known_name

SHIPPED = ("jsb", "nottingham", "musedata", "piano")


@pytest.mark.parametrize("name", SHIPPED)
def test_the_shipped_music_sets_have_their_known_fingerprints(name):
    assert fingerprint(load_dataset(name)) == KNOWN_FINGERPRINTS[name]
    assert known_name(KNOWN_FINGERPRINTS[name]) == name


@pytest.mark.parametrize("name, path", [("jsb", "music/JSB_Chorales.json"), ("nottingham", "music/Nottingham.json"),
                                        ("musedata", "music/MuseData.json"), ("piano", "music/Piano_midi.json")])
def test_the_data_folders_json_has_the_fingerprint_of_the_shipped_npz(name, path):
    """The file format takes no part: BL's JSON in the data folder is the packaged npz's data."""
    root = shared_data(path)
    assert fingerprint(load_dataset(str(root / path))) == KNOWN_FINGERPRINTS[name]


@pytest.mark.parametrize("name", ["ptb-char", "ptb-word"])
def test_the_penn_treebank_sets_have_their_known_fingerprints(name):
    root = shared_data("ptb/ptb.train.txt", "ptb_char/ptb.char.train.txt")
    assert fingerprint(load_dataset(name, data_dir=str(root))) == KNOWN_FINGERPRINTS[name]


def test_a_file_named_after_one_dataset_holding_another_has_the_others_fingerprint(tmp_path):
    """Issue 17 item 2: nottingham.json holding JSB Chorales is JSB Chorales, whatever its name."""
    jsb = load_dataset("jsb")
    splits = {s: [music.roll_to_notes(roll) for roll in jsb.splits[s]] for s in music.SPLITS}
    (tmp_path / "nottingham.json").write_text(json.dumps(splits))
    copy = load_dataset(str(tmp_path / "nottingham.json"))
    assert copy.name == "nottingham"  # its stem: the name alone would mislead
    assert known_name(fingerprint(copy)) == "jsb"


def test_one_note_more_is_other_data(tmp_path):
    jsb = load_dataset("jsb")
    splits = {s: [music.roll_to_notes(roll) for roll in jsb.splits[s]] for s in music.SPLITS}
    splits["test"][5][3] = sorted(set(splits["test"][5][3]) | {60})
    assert splits["test"][5][3] != music.roll_to_notes(jsb.splits["test"][5])[3]
    (tmp_path / "jsb.json").write_text(json.dumps(splits))
    digest = fingerprint(load_dataset(str(tmp_path / "jsb.json")))
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert digest != KNOWN_FINGERPRINTS["jsb"] and known_name(digest) is None


def test_a_texts_fingerprint_covers_its_vocabulary_and_tokens(tmp_path):
    (tmp_path / "a.txt").write_text("abz\n" + "abc\n" * 39)
    (tmp_path / "b.txt").write_text("abz\n" + "abd\n" * 39)  # the same ids, another symbol behind one
    a, b = (load_dataset(str(tmp_path / f)) for f in ("a.txt", "b.txt"))
    assert [np.array_equal(a.splits[s][0], b.splits[s][0]) for s in music.SPLITS] == [True] * 3
    assert fingerprint(a) != fingerprint(b)
    assert fingerprint(a) == fingerprint(load_dataset(str(tmp_path / "a.txt")))
    assert fingerprint(a) != fingerprint(load_dataset(str(tmp_path / "a.txt"), min_count=2))  # z: <unk>
