"""Bad data files raise DataError naming the file and a position, never a traceback."""
from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest

from rnnalg.data import load_dataset, text_to_tokens
from rnnalg.data.safe_pickle import load_plain_pickle
from rnnalg.errors import DataError

GOOD = {"train": [[[60, 64], [62], []]], "valid": [[[60], [61]]], "test": [[[21, 108], [50]]]}


def write(path, content):
    if isinstance(content, (dict, list)):
        content = json.dumps(content)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return str(path)


def error_of(path, **kw) -> DataError:
    with pytest.raises(DataError) as err:
        load_dataset(path, **kw)
    assert err.value.file == str(path)
    return err.value


def test_good_user_json_loads(tmp_path):
    ds = load_dataset(write(tmp_path / "tiny.json", GOOD))
    assert (ds.name, ds.kind, ds.unit, ds.vocab_size) == ("tiny", "music", "frame", 88)
    roll = ds.splits["train"][0]
    assert roll.shape == (3, 88) and roll.dtype == np.uint8
    assert np.flatnonzero(roll[0]).tolist() == [60 - 21, 64 - 21] and not roll[2].any()
    assert np.flatnonzero(ds.splits["test"][0][0]).tolist() == [0, 87]


@pytest.mark.parametrize("content, where", [
    ('{"train": [[[60, 64], [62]]], "valid": [', "line 1, col 41"),  # truncated: at the end
    ('{"train": [[[60]]],\n "valid": [[[60] [61]]]}', "line 2, col 18"),  # missing comma before [61]
    ('', "line 1, col 1"),
])
def test_malformed_json_reports_line_and_column(tmp_path, content, where):
    err = error_of(write(tmp_path / "bad.json", content))
    assert err.where == where and "malformed JSON" in str(err)


def test_non_utf8_json(tmp_path):
    err = error_of(write(tmp_path / "bad.json", b'{"train":\n [\xff]}'))
    assert err.where == "line 2, col 3" and "UTF-8" in str(err)


@pytest.mark.parametrize("obj, message", [
    ([[[[60]]]], "top level must be an object"),
    ({"train": [[[60], [61]]], "valid": [[[60], [61]]]}, "missing split(s) 'test'"),
    ({"train": {"a": 1}, "valid": [], "test": []}, "split 'train' must be a list"),
])
def test_wrong_structure(tmp_path, obj, message):
    err = error_of(write(tmp_path / "bad.json", obj))
    assert message in str(err)


@pytest.mark.parametrize("train, where, message", [
    ([[[60], [61]], [[60], [20]]], "train[1][1][0]", "note 20 is outside the piano range 21..108"),
    ([[[60], [61, 109]]], "train[0][1][1]", "note 109 is outside"),
    ([[[60], [61.5]]], "train[0][1][0]", "note 61.5 is not an integer"),
    ([[[60], [True]]], "train[0][1][0]", "note True is not an integer"),
    ([[[60], ["61"]]], "train[0][1][0]", "note '61' is not an integer"),
    ([[[60], 61]], "train[0][1]", "a time step must be a list"),
    ([[[60], [61]], 5], "train[1]", "a piece must be a list"),
    ([[[60], [61]], []], "train[1]", "piece has 0 time step(s)"),
    ([[[60], [61]], [[60]]], "train[1]", "piece has 1 time step(s)"),
    ([], "train", "has no pieces"),
])
def test_bad_pieces_are_located(tmp_path, train, where, message):
    err = error_of(write(tmp_path / "bad.json", {**GOOD, "train": train}))
    assert err.where == where and message in str(err), str(err)
    assert str(err).startswith(f"{tmp_path / 'bad.json'}: {where}: error:")


def test_missing_and_unreadable_files(tmp_path):
    err = error_of(str(tmp_path / "absent.json"))
    assert "no such file or directory" in str(err)
    from rnnalg.data.music import read_json
    with pytest.raises(DataError) as e:
        read_json(str(tmp_path))  # a directory is not a readable file
    assert "is a directory, not a regular file" in str(e.value)


# ---- text --------------------------------------------------------------------------------

def text_dir(tmp_path, train, valid, test, prefix=""):
    for split, content in (("train", train), ("valid", valid), ("test", test)):
        write(tmp_path / f"{prefix}{split}.txt", content)
    return str(tmp_path)


def test_char_symbol_outside_the_vocabulary(tmp_path):
    text_dir(tmp_path, "abc\nabc\n", "abc\naxc\n", "cab\n")
    with pytest.raises(DataError) as err:
        load_dataset(str(tmp_path))
    assert err.value.file == str(tmp_path / "valid.txt") and err.value.where == "line 2, col 2"
    assert "'x' is not in the vocabulary" in str(err.value)


def test_unknown_words_map_to_unk_only_if_the_vocabulary_has_it(tmp_path):
    (tmp_path / "a").mkdir()
    text_dir(tmp_path / "a", "the cat <unk>\nsat\n", "the dog sat\n", "a cat\n", prefix="x.")
    ds = load_dataset(str(tmp_path / "a"), unit="word")
    assert ds.vocab == ("<eos>", "<unk>", "cat", "sat", "the")
    assert [ds.vocab[i] for i in ds.splits["valid"][0]] == ["the", "<unk>", "sat", "<eos>"]
    assert [ds.vocab[i] for i in ds.splits["test"][0]] == ["<unk>", "cat", "<eos>"]
    (tmp_path / "b").mkdir()
    text_dir(tmp_path / "b", "the cat\nsat\n", "the cat\nsat  on\n", "cat\n")
    with pytest.raises(DataError) as err:
        load_dataset(str(tmp_path / "b"), unit="word")
    assert err.value.file == str(tmp_path / "b" / "valid.txt") and err.value.where == "line 2, col 6"
    assert "'on' is not in the vocabulary" in str(err.value)


def test_text_directory_needs_one_file_per_split(tmp_path):
    write(tmp_path / "train.txt", "ab\n")
    write(tmp_path / "valid.txt", "ab\n")
    with pytest.raises(DataError) as err:
        load_dataset(str(tmp_path))
    assert "test.txt" in str(err.value) and err.value.file == str(tmp_path)


def test_single_file_split_keeps_original_line_numbers(tmp_path):
    path = write(tmp_path / "story.txt", "".join(f"ab{i % 3}\n" for i in range(19)) + "abz\n")
    with pytest.raises(DataError) as err:
        load_dataset(path)
    assert err.value.file == path and err.value.where == "line 20, col 3" and "'z'" in str(err.value)


def test_non_utf8_text(tmp_path):
    path = write(tmp_path / "bad.txt", b"hello\nw\xe9rld\n" * 3)
    with pytest.raises(DataError) as err:
        load_dataset(path)
    assert err.value.where == "line 2, col 2" and "UTF-8" in str(err.value)


def test_too_short_text(tmp_path):
    with pytest.raises(DataError) as err:
        load_dataset(write(tmp_path / "two.txt", "ab\ncd\n"))
    assert "needs at least 3" in str(err.value)
    text_dir(tmp_path, "abc\n", "a", "abc\n")
    with pytest.raises(DataError) as err:
        load_dataset(str(tmp_path))
    assert "at least 2" in str(err.value) and err.value.file == str(tmp_path / "valid.txt")


def test_spaced_char_format_is_checked(tmp_path):
    root = tmp_path / "ptb_char"
    root.mkdir()
    write(root / "ptb.char.train.txt", "a _ b \n c \n ")
    write(root / "ptb.char.valid.txt", "a _ b \n c  a \n ")  # a double space on line 2
    write(root / "ptb.char.test.txt", "a \n ")
    with pytest.raises(DataError) as err:
        load_dataset("ptb-char", data_dir=str(tmp_path))
    assert err.value.file == str(root / "ptb.char.valid.txt") and err.value.where == "line 2, col 4"
    assert "two spaces in a row" in str(err.value)
    write(root / "ptb.char.valid.txt", "a _ bc \n ")  # a symbol of two characters
    with pytest.raises(DataError) as err:
        load_dataset("ptb-char", data_dir=str(tmp_path))
    assert err.value.where == "line 1, col 6" and "found 'c'" in str(err.value)
    write(root / "ptb.char.valid.txt", "a _ b \n c \n ")
    ds = load_dataset("ptb-char", data_dir=str(tmp_path))
    assert ds.vocab == ("\n", "_", "a", "b", "c") and ds.splits["test"][0].tolist() == [2, 0]


def test_text_to_tokens_names_unknown_symbol_and_position():
    with pytest.raises(DataError) as err:
        text_to_tokens("ab\ncab d", ("\n", "_", "a", "b", "c", "d"), "char")
    assert err.value.where == "line 2, col 4" and "' '" in str(err.value) and "'_'" in str(err.value)
    with pytest.raises(DataError) as err:
        text_to_tokens("the cat\nthe dog", ("<eos>", "cat", "the"), "word")
    assert err.value.where == "line 2, col 5" and "'dog'" in str(err.value)


# ---- restricted unpickler ----------------------------------------------------------------

class Exploit:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


def test_pickle_that_calls_a_function_is_refused(tmp_path):
    target = str(tmp_path / "pwned")
    path = write(tmp_path / "evil.pickle", pickle.dumps({"train": Exploit(target)}))
    err = error_of(path)
    assert "refused" in str(err) and ("posix.mkdir" in str(err) or "os.mkdir" in str(err))
    assert not os.path.exists(target)  # nothing was executed


@pytest.mark.parametrize("value, kind", [({1, 2}, "set"), (b"raw", "bytes"), (None, "NoneType")])
def test_pickle_with_non_plain_values_is_refused(tmp_path, value, kind):
    path = write(tmp_path / "odd.pkl", pickle.dumps({"train": [[value]]}, protocol=4))
    with pytest.raises(DataError) as err:
        load_plain_pickle(path)
    assert f"type {kind}" in str(err.value) and err.value.where == "top['train'][0][0]"


def test_plain_pickle_loads_like_the_json(tmp_path):
    as_floats = {s: [[[float(n) for n in step] for step in piece] for piece in pieces]
                 for s, pieces in GOOD.items()}  # BL's pickles may hold integral floats
    pkl = load_dataset(write(tmp_path / "tiny.pickle", pickle.dumps(as_floats, protocol=2)))
    js = load_dataset(write(tmp_path / "tiny.json", GOOD))
    for split in GOOD:
        assert all(np.array_equal(a, b) for a, b in zip(pkl.splits[split], js.splits[split]))
    err = error_of(write(tmp_path / "junk.pickle", b"\x80\x04not a pickle"))
    assert "not a readable pickle" in str(err)


def test_deeply_nested_pickle_is_an_error_not_a_crash(tmp_path):
    def key(name):
        return b"X" + len(name).to_bytes(4, "little") + name.encode()
    n = 100_000  # crafted with opcodes: pickle.dumps itself cannot nest this deep
    deep = b"]" * n + b"a" * (n - 1)  # n empty lists, each appended into the one below
    raw = b"\x80\x02}" + key("train") + deep + b"s" + key("valid") + b"]s" + key("test") + b"]s."
    path = write(tmp_path / "deep.pickle", raw)
    err = error_of(path)
    assert err.where == "train[0]" and "piece has 1 time step(s)" in str(err)


def test_npz_music_file_is_validated(tmp_path):
    np.savez(tmp_path / "m.npz", train_notes=np.array([60.5]))
    err = error_of(str(tmp_path / "m.npz"))
    assert "missing array(s)" in str(err)


def _self_containing_list():
    loop = []
    loop.append(loop)
    return loop


def _doubling_list(levels):
    """[x, x] nested `levels` deep: a few bytes per level, 2^levels notes written out."""
    x = [60]
    for _ in range(levels):
        x = [x, x]
    return x


@pytest.mark.parametrize("make, message, where", [
    (_self_containing_list, "a list that contains itself", "top['train'][0]"),
    (lambda: _doubling_list(60), "more than 20,000,000 values", "top['train'][0]"),
])
def test_cyclic_or_exponentially_shared_pickle_is_refused_quickly(tmp_path, make, message, where):
    raw = pickle.dumps({"train": make(), "valid": [], "test": []}, protocol=2)
    assert len(raw) < 1000  # the 60-byte loop; 60 doublings of a list
    path = write(tmp_path / "bomb.pickle", raw)
    with pytest.raises(DataError) as err:
        load_plain_pickle(path)  # hung (the loop) or ran for 2^60 steps before
    assert message in str(err.value) and err.value.where.startswith(where)


def test_a_list_shared_in_several_places_is_still_plain_data(tmp_path):
    step = [60, 64]
    piece = [step, step, [], step]  # BL-style data where the memo shares equal steps
    path = write(tmp_path / "shared.pickle", pickle.dumps({"train": [piece], "valid": [piece],
                                                           "test": [piece]}, protocol=2))
    assert load_plain_pickle(path)["train"] == [[[60, 64], [60, 64], [], [60, 64]]]


def test_deep_pickle_check_builds_paths_only_for_errors():
    """The checker's memory stays linear in depth: a 100,000-deep nest was 14.7 GB and 37 s
    when every value's 'top[0][0]…' path was built eagerly (O(depth²) characters)."""
    import resource

    from rnnalg.data.safe_pickle import _check_plain

    deep = []
    for _ in range(100_000):
        deep = [deep]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _check_plain({"train": deep}, "top", "deep.pickle")
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 500_000  # eager paths would need gigabytes
    bad = [[[1, 2, {3}]]]
    with pytest.raises(DataError) as info:
        _check_plain(bad, "top", "bad.pickle")
    assert info.value.where == "top[0][0][2]"
