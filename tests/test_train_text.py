"""Text runs end to end: the checkpoint carries its vocabulary and unit; eval, sample and
resume use them; evaluation scores the whole stream whatever the batch size."""
import json
import shutil

import pytest

from rnnalg.cli import main
from rnnalg.data import load_dataset
from rnnalg.train import checkpoint as ckpt

CHARS = "abcdefgh \n"  # 10 symbols
SPEC = """\
input  x : token[{V}]
output y : token[{V}]
state  h : 8
h' = tanh(x ⊕ h)
y  = ▷ h'
"""
FAST = ["--epochs", "1", "--steps", "20", "--batch-size", "4", "--quiet"]


def lines(seed: int, n: int, alphabet=CHARS[:-2]) -> str:
    import random
    rng = random.Random(seed)
    return "".join(" ".join("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 5)))
                            for _ in range(6)) + "\n" for _ in range(n))


def text_folder(root, train, valid, test):
    root.mkdir(parents=True, exist_ok=True)
    for split, text in (("train", train), ("valid", valid), ("test", test)):
        (root / f"{split}.txt").write_text(text)
    return root


@pytest.fixture(scope="module")
def char_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("chars")
    data = text_folder(root / "data", lines(1, 60), lines(2, 8), lines(3, 60))
    spec = root / "c.rnn"
    spec.write_text(SPEC.format(V=len(CHARS)))
    run = root / "run"
    assert main(["train", str(spec), "--data", str(data), "--out", str(run), *FAST]) == 0
    return spec, data, run


def eval_out(capsys, *argv) -> str:
    capsys.readouterr()
    code = main(["eval", *map(str, argv)])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_checkpoint_stores_vocabulary_and_unit(char_run):
    spec, data, run = char_run
    for tag in ("last", "best"):
        _, meta = ckpt.load(run, tag)
        assert meta["dataset_unit"] == "char"
        assert meta["vocab"] == sorted(CHARS) == list(load_dataset(str(data)).vocab)


def test_eval_scores_every_test_char_whatever_the_batch_size(char_run, capsys):
    spec, data, run = char_run
    n = len((data / "test.txt").read_text())
    outs = {b: eval_out(capsys, spec, "--checkpoint", run, "--batch-size", b) for b in (1, 3, 50)}
    assert len(set(outs.values())) == 1, outs
    assert f"({n - 1:,} chars" in outs[1]
    result = json.loads((run / "result.json").read_text())
    assert result["test_count"] == n - 1


def test_eval_of_another_text_with_the_same_number_of_symbols_is_refused(char_run, tmp_path, capsys):
    spec, data, run = char_run
    other = text_folder(tmp_path / "other", lines(1, 60, "abcdefgy"), lines(2, 8, "abcdefgy"),
                        "ab c\ny\n")
    assert len(load_dataset(str(other)).vocab) == len(CHARS)  # it would pass the width check
    capsys.readouterr()
    assert main(["eval", str(spec), "--checkpoint", str(run), "--data", str(other)]) == 1
    err = capsys.readouterr().err
    assert "train.txt" in err and "symbol 'y' is not in the vocabulary" in err
    assert "the checkpoint was trained with" in err and "Traceback" not in err


def test_sample_needs_no_data(char_run, tmp_path, capsys):
    spec, data, run = char_run
    moved = tmp_path / "run"
    shutil.copytree(run, moved)
    _, meta = ckpt.load(moved, "best")
    meta["config"]["data"] = str(tmp_path / "gone")  # the corpus is nowhere to be found
    (moved / "best.json").write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(["sample", str(spec), "--checkpoint", str(moved), "--steps", "200",
                 "--prime", "ab"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ab") and len(out) == 2 + 200 + 1 and set(out) <= set(CHARS)


def test_resume_encodes_with_the_stored_vocabulary(char_run, tmp_path, capsys):
    spec, data, run = char_run
    again = tmp_path / "run"
    shutil.copytree(run, again)
    changed = text_folder(tmp_path / "data", lines(1, 60) + "bad z\n", lines(2, 8), lines(3, 8))
    _, meta = ckpt.load(again, "last")
    meta["config"]["data"] = str(changed)
    (again / "last.json").write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(["train", str(spec), "--resume", str(again), "--epochs", "2", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert str(changed / "train.txt") in err and "line 61, col 5" in err and "'z'" in err


def test_a_checkpoint_without_a_vocabulary_still_evaluates(char_run, tmp_path, capsys):
    spec, data, run = char_run
    old = tmp_path / "run"
    shutil.copytree(run, old)
    _, meta = ckpt.load(old, "best")
    del meta["vocab"]
    (old / "best.json").write_text(json.dumps(meta))
    expected = eval_out(capsys, spec, "--checkpoint", run)
    capsys.readouterr()
    assert main(["eval", str(spec), "--checkpoint", str(old)]) == 0
    out, err = capsys.readouterr()
    assert out.split("(")[0] == expected.split("(")[0]
    assert "saved without its vocabulary" in err


@pytest.mark.parametrize("vocab", [["a", "a"], "abc", ["ab", "c"], [1, 2], []])
def test_a_damaged_vocabulary_is_a_checkpoint_error(char_run, tmp_path, capsys, vocab):
    spec, data, run = char_run
    bad = tmp_path / "run"
    shutil.copytree(run, bad)
    _, meta = ckpt.load(bad, "best")
    meta["vocab"] = vocab
    (bad / "best.json").write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(["sample", str(spec), "--checkpoint", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "best.json" in err and "'vocab'" in err and "Traceback" not in err


def test_a_vocabulary_of_the_wrong_size_is_a_checkpoint_error(char_run, tmp_path, capsys):
    spec, data, run = char_run
    bad = tmp_path / "run"
    shutil.copytree(run, bad)
    _, meta = ckpt.load(bad, "best")
    meta["vocab"] = meta["vocab"][:-1]
    (bad / "best.json").write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(["sample", str(spec), "--checkpoint", str(bad)]) == 1
    assert "stored vocabulary has 9 symbols but the spec's output is token[10]" in capsys.readouterr().err


def test_another_unit_than_the_trained_one_is_refused(char_run, capsys):
    spec, data, run = char_run
    capsys.readouterr()
    for command in ("eval", "sample"):
        assert main([command, str(spec), "--checkpoint", str(run), "--unit", "word"]) == 2
        assert "the checkpoint was trained on char symbols" in capsys.readouterr().err


@pytest.mark.parametrize("music", ["jsb", "music.json"])
def test_eval_of_a_text_checkpoint_on_music_says_so(char_run, tmp_path, capsys, music):
    spec, _, run = char_run
    if music.endswith(".json"):
        music = str(tmp_path / music)
        (tmp_path / "music.json").write_text('{"train": [[[60], [62]]], "valid": [[[60], [62]]], '
                                             '"test": [[[60], [62]]]}')
    assert main(["eval", str(spec), "--checkpoint", str(run), "--data", music]) == 2
    err = capsys.readouterr().err
    assert f"{music} is music (piano-roll frames), but the checkpoint is of a text model" in err
    assert "--unit" not in err  # the user never gave --unit


def test_word_run_with_min_count_maps_rare_and_unseen_words_to_unk(tmp_path, capsys):
    train = "the cat sat\nthe dog sat\nthe cat ran\n" * 4 + "a zebra\n"
    data = text_folder(tmp_path / "data", train, "the cat sat\n" * 3, "the cow sat\nthe cat ran\n")
    vocab = ("<eos>", "<unk>", "cat", "dog", "ran", "sat", "the")  # 'a', 'zebra' seen once
    spec = tmp_path / "w.rnn"
    spec.write_text(SPEC.format(V=len(vocab)))
    run = tmp_path / "run"
    assert main(["train", str(spec), "--data", str(data), "--unit", "word", "--min-count", "2",
                 "--out", str(run), *FAST]) == 0
    _, meta = ckpt.load(run, "best")
    assert (meta["vocab"], meta["dataset_unit"], meta["config"]["min_count"]) == (list(vocab), "word", 2)
    out = eval_out(capsys, spec, "--checkpoint", run)  # 'cow' is unseen: <unk>
    assert out.startswith("test perplexity: ") and "(7 words" in out
