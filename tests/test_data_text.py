"""User text files, tokens <-> text, metrics, and the spec/data compatibility check."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnalg.data import (Dataset, bits_per_char, check_compatible, load_dataset, metric_for,
                         nll_per_step, perplexity, roll_to_notes, text_to_tokens, tokens_to_text)
from rnnalg.data.text import make_vocab
from rnnalg.errors import DataError, UsageError


def test_single_text_file_is_split_90_5_5_by_lines(tmp_path):
    lines = [f"line{i % 7}\n" for i in range(40)]
    path = tmp_path / "story.txt"
    path.write_text("".join(lines))
    ds = load_dataset(str(path))
    assert (ds.name, ds.kind, ds.unit, ds.source) == ("story", "text", "char", str(path))
    assert ds.vocab == tuple(sorted(set("".join(lines))))
    decoded = {s: tokens_to_text(v[0], ds.vocab, "char") for s, v in ds.splits.items()}
    assert decoded == {"train": "".join(lines[:36]), "valid": "".join(lines[36:38]),
                       "test": "".join(lines[38:])}
    words = load_dataset(str(path), unit="word")
    assert words.unit == "word" and words.vocab == ("<eos>",) + tuple(f"line{i}" for i in range(7))
    assert [words.vocab[i] for i in words.splits["test"][0]] == ["line3", "<eos>", "line4", "<eos>"]
    assert metric_for(words)[0] == "ppl" and metric_for(ds)[0] == "bpc"
    with pytest.raises(UsageError):
        load_dataset(str(path), unit="frame")


def test_unterminated_last_line_still_ends_with_eos(tmp_path):
    for split in ("train", "valid", "test"):
        (tmp_path / f"{split}.txt").write_text("a b\nb a")
    ds = load_dataset(str(tmp_path), unit="word")
    assert [ds.vocab[i] for i in ds.splits["valid"][0]] == ["a", "b", "<eos>", "b", "a", "<eos>"]


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="ab c\n_", max_size=40))
def test_char_tokens_round_trip(text):
    vocab = ("\n", " ", "_", "a", "b", "c")
    ids = text_to_tokens(text, vocab, "char")
    assert ids.dtype == np.int32 and [vocab[i] for i in ids] == list(text)
    assert tokens_to_text(ids, vocab, "char") == text


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["the", "cat", "<eos>", "<unk>"]), max_size=20))
def test_word_tokens_round_trip(words):
    vocab = ("<eos>", "<unk>", "cat", "the")
    ids = np.array([vocab.index(w) for w in words], dtype=np.int32)
    text = tokens_to_text(ids, vocab, "word")
    assert "<eos>" not in text
    assert text_to_tokens(text, vocab, "word").tolist() == ids.tolist()


def test_roll_to_notes():
    roll = np.zeros((3, 88), dtype=np.uint8)
    roll[0, [0, 39, 87]] = 1
    roll[2, 2] = 1
    assert roll_to_notes(roll) == [[21, 60, 108], [], [23]]
    assert roll_to_notes(roll.astype(np.float32) * 0.7) == [[21, 60, 108], [], [23]]


def test_metrics():
    assert nll_per_step(30.0, 10) == 3.0
    assert bits_per_char(math.log(2) * 10, 10) == pytest.approx(1.0)
    assert perplexity(10 * math.log(120.0), 10) == pytest.approx(120.0)
    assert perplexity(1e6, 1) == math.inf
    with pytest.raises(ValueError):
        nll_per_step(1.0, 0)


def fake(kind, unit, vocab=None, name="ptb-char"):
    return Dataset(name, kind, {}, vocab, "here", unit)


def test_check_compatible():
    music = fake("music", "frame", name="jsb")
    check_compatible(music, "binary", 88, "binary", 88, "dots.rnn")
    with pytest.raises(DataError) as err:
        check_compatible(music, "binary", 88, "token", 88, "dots.rnn")
    assert str(err.value).startswith("dots.rnn: error: declares output y : token[88] but jsb has 88-key")
    chars = fake("text", "char", tuple("abcdefghij" * 5)[:50])
    check_compatible(chars, "token", 50, "token", 50, "char_rnn.rnn")
    with pytest.raises(DataError) as err:
        check_compatible(chars, "token", 40, "token", 50, "examples/char_rnn.rnn")
    assert "examples/char_rnn.rnn" in str(err.value)
    assert "declares input x : token[40] but ptb-char has 50 symbols" in str(err.value)
    words = fake("text", "word", ("<eos>", "a"), name="ptb-word")
    with pytest.raises(DataError) as err:
        check_compatible(words, "binary", 2, "token", 2, "w.rnn", input_name="w")
    assert "declares input w : binary[2] but ptb-word has 2 words" in str(err.value)


def write_splits(folder, train, valid, test):
    folder.mkdir(exist_ok=True)
    for split, text in (("train", train), ("valid", valid), ("test", test)):
        (folder / f"{split}.txt").write_text(text)
    return str(folder)


def test_min_count_leaves_rare_words_out_and_maps_them_and_unseen_ones_to_unk(tmp_path):
    folder = write_splits(tmp_path, "the cat\nthe dog\ncat\n", "the cow\n", "a cat\n")
    ds = load_dataset(folder, unit="word", min_count=2)
    assert ds.vocab == ("<eos>", "<unk>", "cat", "the")
    assert [[ds.vocab[i] for i in v[0]] for v in ds.splits.values()] == [
        ["the", "cat", "<eos>", "the", "<unk>", "<eos>", "cat", "<eos>"],
        ["the", "<unk>", "<eos>"], ["<unk>", "cat", "<eos>"]]


def test_min_count_for_characters_adds_unk_to_the_code_point_vocabulary(tmp_path):
    folder = write_splits(tmp_path, "aab\naab\nz\n", "abq\n", "ba\n")
    ds = load_dataset(folder, min_count=2)
    assert ds.vocab == ("\n", "<unk>", "a", "b")  # 'z' (once) is out
    decoded = {s: [ds.vocab[i] for i in v[0]] for s, v in ds.splits.items()}
    assert decoded["train"][-2:] == ["<unk>", "\n"] and decoded["valid"] == ["a", "b", "<unk>", "\n"]
    assert make_vocab("aab\naab\nz\n") == ("\n", "a", "b", "z")  # min_count 1: no <unk>


def test_a_vocabulary_of_fewer_than_two_symbols_is_refused(tmp_path):
    folder = write_splits(tmp_path, "aaaa", "aa", "aa")  # one character, no line end
    with pytest.raises(DataError, match=r"train.txt: error: the vocabulary of the train split has 1 char "
                                        r"symbol\(s\) \('a'\); a model needs at least 2"):
        load_dataset(folder)
    folder = write_splits(tmp_path / "w", "the cat sat", "the", "cat")
    with pytest.raises(DataError, match=r"has 1 word symbol\(s\) \('<unk>'\) seen at least 5 times in "
                                        r"train; a model needs at least 2 to predict anything; lower --min-count"):
        load_dataset(folder, unit="word", min_count=5)


def test_a_split_that_becomes_all_unk_is_refused(tmp_path):
    folder = write_splits(tmp_path, "abab\nab\nab\ncd\n", "cdcd\ndc\n", "ab\n")
    with pytest.raises(DataError, match=r"valid.txt: error: every char symbol of the valid split but the "
                                        r"line ends is <unk> \(none is in the vocabulary of 4 symbols seen "
                                        r"at least 2 times in train\): there is nothing to predict"):
        load_dataset(folder, min_count=2)
    folder = write_splits(tmp_path / "w", "a b\nc d\n", "a b\n", "a b\n")  # every word once
    with pytest.raises(DataError, match="every word symbol of the train split but the line ends is <unk>"):
        load_dataset(folder, unit="word", min_count=2)
    assert load_dataset(folder, unit="word").vocab_size == 5  # without --min-count it trains


def test_unseen_held_out_char_names_file_line_symbol_and_the_remedy(tmp_path):
    folder = write_splits(tmp_path, "ab\nab\n", "ab\nba\nbq\n", "ab\n")
    with pytest.raises(DataError) as err:
        load_dataset(folder)
    assert (err.value.file, err.value.where) == (str(tmp_path / "valid.txt"), "line 3, col 2")
    assert "symbol 'q' is not in the vocabulary (3 char symbols taken from the train split)" in str(err.value)
    assert "--min-count 2" in str(err.value)


def test_a_given_vocabulary_encodes_every_split(tmp_path):
    folder = write_splits(tmp_path, "ba\n", "ab\n", "a\n")
    ds = load_dataset(folder, vocab=("a", "b", "\n", "c"))  # a stored vocabulary keeps its order
    assert ds.vocab == ("a", "b", "\n", "c") and ds.splits["train"][0].tolist() == [1, 0, 2]
    with pytest.raises(DataError) as err:
        load_dataset(folder, vocab=("a", "\n", "c"))
    assert err.value.file == str(tmp_path / "train.txt") and err.value.where == "line 1, col 1"
    assert "(3 char symbols the checkpoint was trained with)" in str(err.value)
    words = load_dataset(folder, unit="word", vocab=("<eos>", "<unk>", "ab"))
    assert [[words.vocab[i] for i in v[0]] for v in words.splits.values()] == [
        ["<unk>", "<eos>"], ["ab", "<eos>"], ["<unk>", "<eos>"]]


def test_min_count_is_for_text_and_positive(tmp_path):
    with pytest.raises(UsageError, match="--min-count applies to text"):
        load_dataset("jsb", min_count=2)
    folder = write_splits(tmp_path, "ab\n", "ab\n", "ab\n")
    with pytest.raises(UsageError, match="--min-count must be >= 1"):
        load_dataset(folder, min_count=0)


def test_unknown_symbol_in_given_text_names_the_models_vocabulary():
    with pytest.raises(DataError) as err:
        text_to_tokens("abz", ("a", "b", "\n"), "char")  # e.g. sample --prime
    assert "symbol 'z' is not in the vocabulary (3 char symbols of the model)" in str(err.value)
    assert "--min-count" not in str(err.value)
