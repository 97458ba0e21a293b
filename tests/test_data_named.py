"""The named datasets load with exactly the statistics verified in ../shared/data/README.md."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnnalg.data import load_dataset, metric_for, roll_to_notes, tokens_to_text
from rnnalg.errors import DataError, UsageError

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not (SHARED / "README.md").is_file(),
                                  reason=f"shared data folder not found at {SHARED}")

# dataset -> split -> (sequences, time steps, min length, max length, empty steps,
#                      max notes per step, lowest note, highest note)   [README §3]
MUSIC_STATS = {
    "jsb": {"train": (229, 13807, 25, 129, 18, 4, 43, 96),
            "valid": (76, 4602, 32, 144, 29, 4, 48, 96),
            "test": (77, 4725, 32, 160, 17, 4, 45, 96)},
    "nottingham": {"train": (694, 176561, 40, 1788, 487, 9, 31, 93),
                   "valid": (173, 45513, 96, 1473, 51, 8, 34, 91),
                   "test": (170, 44463, 63, 1793, 19, 9, 36, 89)},
    "musedata": {"train": (524, 245202, 9, 3457, 12962, 14, 21, 96),
                 "valid": (135, 82755, 63, 3723, 4412, 15, 21, 100),
                 "test": (124, 64339, 45, 4273, 5042, 14, 21, 105)},
    "piano": {"train": (87, 75911, 111, 3857, 4917, 12, 21, 108),
              "valid": (12, 8540, 209, 1637, 251, 11, 24, 104),
              "test": (25, 19036, 65, 2645, 652, 10, 21, 108)},
}
JSON_FILES = {"jsb": "JSB_Chorales.json", "nottingham": "Nottingham.json",
              "musedata": "MuseData.json", "piano": "Piano_midi.json"}


def music_stats(rolls):
    block = np.concatenate(rolls)
    active = np.flatnonzero(block.any(axis=0))
    lengths = [len(r) for r in rolls]
    return (len(rolls), len(block), min(lengths), max(lengths), int((block.sum(1) == 0).sum()),
            int(block.sum(1).max()), 21 + int(active[0]), 21 + int(active[-1]))


@pytest.fixture(scope="module")
def loaded():
    """Each shared dataset loaded once for the module."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = load_dataset(name, data_dir=str(SHARED))
        return cache[name]
    return get


def test_jsb_is_embedded_and_needs_no_data_folder(monkeypatch):
    monkeypatch.delenv("RNNALG_DATA", raising=False)
    ds = load_dataset(None)
    assert (ds.name, ds.kind, ds.unit, ds.vocab, ds.vocab_size) == ("jsb", "music", "frame", None, 88)
    assert ds.source.endswith("jsb_chorales.npz") and Path(ds.source).is_file()
    for split, expected in MUSIC_STATS["jsb"].items():
        assert music_stats(ds.splits[split]) == expected
        assert all(r.dtype == np.uint8 and r.shape[1] == 88 for r in ds.splits[split])
    assert metric_for(ds)[0] == "nll"


@needs_shared
def test_embedded_jsb_equals_the_json():
    obj = json.loads((SHARED / "music" / JSON_FILES["jsb"]).read_text())
    ds = load_dataset("jsb")
    for split in ("train", "valid", "test"):
        assert len(ds.splits[split]) == len(obj[split])
        for roll, piece in zip(ds.splits[split], obj[split]):
            assert roll_to_notes(roll) == [sorted(step) for step in piece]


@needs_shared
@pytest.mark.parametrize("name", ["nottingham", "musedata", "piano"])
def test_music_statistics(loaded, name):
    ds = loaded(name)
    assert (ds.kind, ds.unit, ds.vocab_size) == ("music", "frame", 88)
    assert ds.source == str(SHARED / "music" / JSON_FILES[name])
    for split, expected in MUSIC_STATS[name].items():
        assert music_stats(ds.splits[split]) == expected, split


@needs_shared
def test_music_rolls_match_the_json_notes(loaded):
    obj = json.loads((SHARED / "music" / JSON_FILES["piano"]).read_text())
    ds = loaded("piano")
    for split in ("valid", "test"):
        assert [roll_to_notes(r) for r in ds.splits[split]] == obj[split]


@needs_shared
def test_ptb_word(loaded):
    ds = loaded("ptb-word")
    assert (ds.kind, ds.unit, ds.vocab_size, metric_for(ds)[0]) == ("text", "word", 10000, "ppl")
    assert list(ds.vocab) == sorted(ds.vocab) and "<eos>" in ds.vocab and "<unk>" in ds.vocab
    sizes = {s: len(v[0]) for s, v in ds.splits.items()}
    assert sizes == {"train": 929589, "valid": 73760, "test": 82430}
    assert all(len(v) == 1 and v[0].dtype == np.int32 for v in ds.splits.values())
    eos = ds.vocab.index("<eos>")
    assert [int((v[0] == eos).sum()) for v in ds.splits.values()] == [42068, 3370, 3761]
    unk = ds.vocab.index("<unk>")
    assert [int((v[0] == unk).sum()) for v in ds.splits.values()] == [45020, 3485, 4794]
    lines = (SHARED / "ptb" / "ptb.valid.txt").read_text().split("\n")[:3]
    n = sum(len(line.split()) + 1 for line in lines)
    assert tokens_to_text(ds.splits["valid"][0][:n], ds.vocab, "word") == \
        "".join(" ".join(line.split()) + "\n" for line in lines)


@needs_shared
def test_ptb_char(loaded):
    ds = loaded("ptb-char")
    assert (ds.kind, ds.unit, ds.vocab_size, metric_for(ds)[0]) == ("text", "char", 50, "bpc")
    assert list(ds.vocab) == sorted(ds.vocab) and ds.vocab[0] == "\n" and "_" in ds.vocab
    sizes = {s: len(v[0]) for s, v in ds.splits.items()}
    assert sizes == {"train": 5017482, "valid": 393042, "test": 442423}
    newline = ds.vocab.index("\n")
    assert [int((v[0] == newline).sum()) for v in ds.splits.values()] == [42068, 3370, 3761]
    assert [len(np.unique(v[0])) for v in ds.splits.values()] == [50, 50, 48]
    raw = (SHARED / "ptb_char" / "ptb.char.test.txt").read_text()
    assert tokens_to_text(ds.splits["test"][0], ds.vocab, "char") == raw[0::2]


@needs_shared
def test_data_folder_from_environment(monkeypatch):
    monkeypatch.setenv("RNNALG_DATA", str(SHARED))
    ds = load_dataset("piano")
    assert [len(ds.splits[s]) for s in ("train", "valid", "test")] == [87, 12, 25]


def test_named_dataset_without_a_data_folder_says_how_to_set_it(monkeypatch):
    monkeypatch.delenv("RNNALG_DATA", raising=False)
    with pytest.raises(DataError) as err:
        load_dataset("nottingham")
    assert "--data-dir" in str(err.value) and "RNNALG_DATA" in str(err.value)


def test_missing_data_folder_and_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNALG_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataError) as err:
        load_dataset("ptb-word")
    assert str(tmp_path / "nowhere") in str(err.value) and "RNNALG_DATA" in str(err.value)
    with pytest.raises(DataError) as err:
        load_dataset("musedata", data_dir=str(tmp_path))
    msg = str(err.value)
    assert str(tmp_path / "music" / "MuseData.json") in msg and "--data-dir" in msg


def test_unknown_name_and_wrong_unit(tmp_path):
    with pytest.raises(DataError) as err:
        load_dataset("bach")
    assert "bach" in str(err.value) and "ptb-char" in str(err.value)
    with pytest.raises(UsageError):
        load_dataset("jsb", unit="word")
