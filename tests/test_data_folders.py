"""Where a named dataset is found: the package, then --data-dir, then RNNALG_DATA, then the cache."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from _shared import shared_data
from rnnalg.cli import main
from rnnalg.data import fetch
from rnnalg.data import load_dataset
from rnnalg.data.folders import cache_dir
from rnnalg.data.registry import embedded_path
from rnnalg.errors import DataError

WORDS = " the cat sat \n the <unk> sat \n"


def make_folder(root: Path, words: str = WORDS) -> Path:
    """A tiny data folder with PTB's layout (word and char files)."""
    for split in ("train", "valid", "test"):
        (root / "ptb").mkdir(parents=True, exist_ok=True)
        (root / "ptb" / f"ptb.{split}.txt").write_text(words)
        (root / "ptb_char").mkdir(exist_ok=True)
        (root / "ptb_char" / f"ptb.char.{split}.txt").write_text("a b _ a \n ")
    return root


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Three candidate folders, none set yet; the cache is XDG_CACHE_HOME/rnnalg."""
    monkeypatch.delenv("RNNALG_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return {"flag": tmp_path / "flag", "env": tmp_path / "env", "cache": tmp_path / "xdg" / "rnnalg"}


def source_of(name, data_dir=None) -> str:
    return load_dataset(name, data_dir=data_dir).source


def test_lookup_order_data_dir_then_environment_then_cache(places, monkeypatch):
    for place in places.values():
        make_folder(place)
    monkeypatch.setenv("RNNALG_DATA", str(places["env"]))
    assert source_of("ptb-word", str(places["flag"])) == str(places["flag"] / "ptb")
    assert source_of("ptb-word") == str(places["env"] / "ptb")
    monkeypatch.delenv("RNNALG_DATA")
    assert source_of("ptb-char") == str(places["cache"] / "ptb_char")


def test_a_folder_counts_only_if_it_holds_every_file(places, monkeypatch):
    make_folder(places["env"])
    make_folder(places["cache"])
    (places["env"] / "ptb" / "ptb.test.txt").unlink()
    monkeypatch.setenv("RNNALG_DATA", str(places["env"]))
    assert source_of("ptb-word") == str(places["cache"] / "ptb")
    assert source_of("ptb-char") == str(places["env"] / "ptb_char")


def test_the_package_comes_first_for_the_music_sets(places):
    folder = make_folder(places["flag"])
    (folder / "music").mkdir()
    (folder / "music" / "Nottingham.json").write_text(json.dumps({"train": [], "valid": [], "test": []}))
    assert source_of("nottingham", str(folder)) == str(embedded_path("nottingham"))
    assert source_of("jsb", str(places["flag"] / "not-there")) == str(embedded_path("jsb"))


def test_a_missing_dataset_says_the_command_that_fetches_it(places, monkeypatch):
    monkeypatch.setenv("RNNALG_DATA", str(places["env"]))
    with pytest.raises(DataError) as err:
        load_dataset("ptb-char")
    message = str(err.value)
    assert "dataset 'ptb-char' is not on this machine: run `rnnalg data fetch ptb`" in message
    assert f"{places['env']} (RNNALG_DATA): no such folder" in message
    assert f"{places['cache']} (cache): no such folder" in message


def test_train_on_a_missing_dataset_exits_1_with_the_fetch_command(places, capsys):
    root = Path(__file__).resolve().parents[1]
    code = main(["train", str(root / "examples" / "char_rnn.rnn"), "--data", "ptb-char", "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 1 and "rnnalg data fetch ptb" in err and "Traceback" not in err


def test_data_dir_that_is_not_a_folder_is_an_error(places):
    with pytest.raises(DataError) as err:
        load_dataset("ptb-word", data_dir=str(places["flag"]))
    assert str(places["flag"]) in str(err.value) and "--data-dir" in str(err.value)


def test_cache_dir_honours_xdg_else_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "x" / "rnnalg"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr("sys.platform", "linux")
    assert cache_dir() == tmp_path / "home" / ".cache" / "rnnalg"


def test_data_list_shows_status_and_place(places, monkeypatch, capsys):
    make_folder(places["env"])
    (places["env"] / "ptb_char" / "ptb.char.valid.txt").unlink()
    monkeypatch.setenv("RNNALG_DATA", str(places["env"]))
    assert main(["data", "list"]) == 0
    rows = {line.split()[0]: line.split(None, 2)[1:] for line in capsys.readouterr().out.splitlines()[1:7]}
    assert rows["jsb"] == ["embedded", str(embedded_path("jsb"))]
    assert rows["piano"] == ["embedded", str(embedded_path("piano"))]
    assert rows["ptb-word"] == ["corrupt", f"{places['env'] / 'ptb'} (RNNALG_DATA); ptb.train.txt does not have "
                                "its listed size and checksums (and 2 more); rnnalg data fetch ptb replaces "
                                "what is damaged"]  # a toy folder is not Penn Treebank
    assert rows["ptb-char"] == ["missing", "get it with: rnnalg data fetch ptb"]


def test_data_list_verifies_a_cached_copy(places, monkeypatch, capsys):
    """The real files are 'cached, verified'; one changed byte makes them 'corrupt'."""
    real = shared_data("ptb/ptb.train.txt")
    for rel in (*(s.rel for s in fetch.PTB_WORDS.values()), *(s.rel for s in fetch.PTB_CHARS.values())):
        (places["env"] / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(real / rel, places["env"] / rel)
    monkeypatch.setenv("RNNALG_DATA", str(places["env"]))
    assert main(["data", "list"]) == 0
    rows = {line.split()[0]: line.split(None, 2)[1:] for line in capsys.readouterr().out.splitlines()[1:7]}
    assert rows["ptb-word"] == ["cached", f"{places['env'] / 'ptb'} (RNNALG_DATA), verified"]
    assert rows["ptb-char"] == ["cached", f"{places['env'] / 'ptb_char'} (RNNALG_DATA), verified"]
    damaged = places["env"] / "ptb_char" / "ptb.char.valid.txt"
    data = bytearray(damaged.read_bytes())
    data[1000] ^= 1
    damaged.write_bytes(bytes(data))
    assert main(["data", "list"]) == 0
    rows = {line.split()[0]: line.split(None, 2)[1:] for line in capsys.readouterr().out.splitlines()[1:7]}
    assert rows["ptb-char"][0] == "corrupt" and "ptb.char.valid.txt does not have its listed" in rows["ptb-char"][1]
    assert rows["ptb-word"][0] == "cached"


def test_data_list_verbose_gives_licence_and_provenance(places, capsys):
    assert main(["data", "list", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "LDC99T42" in out and "never shipped" in out and "Boulanger-Lewandowski" in out
    assert "CC BY-SA" in out and "Mikolov" in out
    assert f"the cache ({places['cache']})" in out


def test_fetching_an_embedded_set_is_a_no_op(places, capsys):
    assert main(["data", "fetch", "musedata"]) == 0
    assert "musedata ships inside the package" in capsys.readouterr().out
    assert not places["cache"].exists()
