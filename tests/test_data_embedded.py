"""The four music sets ship inside the package and are exactly the shared data folder's JSON."""
from __future__ import annotations

import configparser
import io
import json
import re
from fnmatch import fnmatch

import numpy as np
import pytest

from _shared import ROOT, shared_data
from rnnalg.data import load_dataset, music
from rnnalg.data.dataset import NAMED
from rnnalg.data.registry import ORIGINS, PACKAGE_DATA, embedded_path
from rnnalg.errors import DataError

EMBEDDED = ("jsb", "nottingham", "musedata", "piano")

# dataset -> split -> (sequences, time steps, min length, max length, empty steps,
#                      max notes per step, lowest note, highest note)   [data README §3]
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
README_TITLES = {"JSB Chorales": "jsb", "Nottingham": "nottingham", "MuseData": "musedata",
                 "Piano-midi.de": "piano"}


def music_stats(rolls):
    block = np.concatenate(rolls)
    active = np.flatnonzero(block.any(axis=0))
    lengths = [len(r) for r in rolls]
    return (len(rolls), len(block), min(lengths), max(lengths), int((block.sum(1) == 0).sum()),
            int(block.sum(1).max()), 21 + int(active[0]), 21 + int(active[-1]))


@pytest.fixture
def no_data_folder(tmp_path, monkeypatch):
    """No RNNALG_DATA and an empty cache: only the package can provide a dataset."""
    monkeypatch.delenv("RNNALG_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_the_registry_embeds_exactly_the_music_sets():
    assert tuple(n for n, o in ORIGINS.items() if o.embedded) == EMBEDDED
    assert set(ORIGINS) == set(NAMED)
    assert all(NAMED[n].kind == "music" for n in EMBEDDED)


@pytest.mark.parametrize("name", EMBEDDED)
def test_embedded_set_loads_offline_with_the_published_statistics(name, no_data_folder):
    ds = load_dataset(name, data_dir=None)
    assert ds.source == str(embedded_path(name)) and (ds.kind, ds.unit, ds.vocab_size) == ("music", "frame", 88)
    for split, expected in MUSIC_STATS[name].items():
        assert music_stats(ds.splits[split]) == expected, split


def test_the_statistics_above_are_the_readme_table():
    readme = (shared_data("README.md") / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| dataset | split | sequences"):].split("\n\n")[0]
    found, name = {}, None
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        name = README_TITLES.get(cells[0], name)
        numbers = [int(re.sub(r"\(.*\)|,", "", c).strip()) for c in (cells[2], cells[3], cells[5], cells[6])]
        low, high = map(int, re.split(r"[–-]", cells[4].replace(",", "")))
        nlow, nhigh = map(int, cells[7].split("–"))
        found.setdefault(name, {})[cells[1]] = (numbers[0], numbers[1], low, high, numbers[2], numbers[3],
                                                nlow, nhigh)
    assert found == MUSIC_STATS


def flat(pieces):
    """The raw JSON split as the three arrays of the embedded form, computed independently."""
    notes = [n for piece in pieces for step in piece for n in sorted(step)]
    return notes, [len(step) for piece in pieces for step in piece], [len(piece) for piece in pieces]


@pytest.mark.parametrize("name", EMBEDDED)
def test_embedded_set_is_the_json_piece_for_piece_note_for_note(name):
    obj = json.loads((shared_data(NAMED[name].paths[0]) / NAMED[name].paths[0]).read_text())
    with np.load(embedded_path(name), allow_pickle=False) as z:
        arrays = dict(z)
    assert set(arrays) == {f"{s}_{f}" for s in music.SPLITS for f in music.NPZ_FIELDS}
    for split in music.SPLITS:
        notes, step_lengths, piece_lengths = flat(obj[split])
        assert arrays[f"{split}_notes"].dtype == np.uint8
        assert arrays[f"{split}_notes"].tolist() == notes
        assert arrays[f"{split}_step_lengths"].tolist() == step_lengths
        assert arrays[f"{split}_piece_lengths"].tolist() == piece_lengths


def test_the_four_sets_are_small_and_packaged():
    files = [embedded_path(n) for n in EMBEDDED]
    assert sum(f.stat().st_size for f in files) < 900_000  # about 0.8 MB for all four
    assert sorted(p.name for p in PACKAGE_DATA.iterdir() if p.suffix == ".npz") == sorted(f.name for f in files)
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    patterns = cfg["options.package_data"]["rnnalg"].split()
    assert all(any(fnmatch(f"datasets/{f.name}", p) for p in patterns) for f in files)


def test_npz_round_trip_and_inconsistent_lengths_are_refused():
    splits = music.compact_splits({"train": [[[60], [60, 64]], [[], [40], [41]]], "valid": [[[21], [108]]],
                                   "test": [[[50, 50], []]]}, "x.json")
    buf = io.BytesIO()
    music.write_npz(buf, splits)
    back = music.read_npz(io.BytesIO(buf.getvalue()), "x.npz")
    for s in music.SPLITS:
        for field in ("notes", "step_starts", "piece_starts"):
            assert np.array_equal(getattr(back[s], field), getattr(splits[s], field))
    with np.load(io.BytesIO(buf.getvalue())) as z:
        arrays = dict(z)
    arrays["valid_step_lengths"] = np.array([1, 2], dtype=np.uint8)  # 3 notes claimed, 2 stored
    bad = io.BytesIO()
    np.savez(bad, **arrays)
    with pytest.raises(DataError) as err:
        music.read_npz(io.BytesIO(bad.getvalue()), "bad.npz")
    assert "inconsistent lengths" in str(err.value) and err.value.where == "valid"
