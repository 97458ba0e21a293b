"""The named datasets load with exactly the statistics verified in ../shared/data/README.md."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from _shared import shared_data
from test_data_embedded import MUSIC_STATS, music_stats
from rnnalg.data import load_dataset, metric_for, roll_to_notes, tokens_to_text
from rnnalg.errors import DataError, UsageError

JSON_FILES = {"jsb": "JSB_Chorales.json", "piano": "Piano_midi.json"}


@pytest.fixture(scope="module")
def loaded():
    """Each dataset loaded once for the module (the text ones from the shared data folder)."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = load_dataset(name, data_dir=str(shared_data("ptb", "ptb_char")))
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


def test_embedded_jsb_equals_the_json():
    obj = json.loads((shared_data("music") / "music" / JSON_FILES["jsb"]).read_text())
    ds = load_dataset("jsb")
    for split in ("train", "valid", "test"):
        assert len(ds.splits[split]) == len(obj[split])
        for roll, piece in zip(ds.splits[split], obj[split]):
            assert roll_to_notes(roll) == [sorted(step) for step in piece]


def test_music_rolls_match_the_json_notes(loaded):
    obj = json.loads((shared_data("music") / "music" / JSON_FILES["piano"]).read_text())
    ds = loaded("piano")
    for split in ("valid", "test"):
        assert [roll_to_notes(r) for r in ds.splits[split]] == obj[split]


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
    lines = (shared_data() / "ptb" / "ptb.valid.txt").read_text().split("\n")[:3]
    n = sum(len(line.split()) + 1 for line in lines)
    assert tokens_to_text(ds.splits["valid"][0][:n], ds.vocab, "word") == \
        "".join(" ".join(line.split()) + "\n" for line in lines)


def test_ptb_char(loaded):
    ds = loaded("ptb-char")
    assert (ds.kind, ds.unit, ds.vocab_size, metric_for(ds)[0]) == ("text", "char", 50, "bpc")
    assert list(ds.vocab) == sorted(ds.vocab) and ds.vocab[0] == "\n" and "_" in ds.vocab
    sizes = {s: len(v[0]) for s, v in ds.splits.items()}
    assert sizes == {"train": 5017482, "valid": 393042, "test": 442423}
    newline = ds.vocab.index("\n")
    assert [int((v[0] == newline).sum()) for v in ds.splits.values()] == [42068, 3370, 3761]
    assert [len(np.unique(v[0])) for v in ds.splits.values()] == [50, 50, 48]
    raw = (shared_data() / "ptb_char" / "ptb.char.test.txt").read_text()
    assert tokens_to_text(ds.splits["test"][0], ds.vocab, "char") == raw[0::2]


def test_unknown_name_and_wrong_unit(tmp_path):
    with pytest.raises(DataError) as err:
        load_dataset("bach")
    assert "bach" in str(err.value) and "ptb-char" in str(err.value)
    with pytest.raises(UsageError):
        load_dataset("jsb", unit="word")
