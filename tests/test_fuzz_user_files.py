"""Fuzzing what users hand to rnnalg besides spec text: checkpoints and data files, made bad in the
ways that happen (a disk filled while writing, a hand edit, a file of another run or format).

Each case is read by every command that reads such a file: a checkpoint by `eval`, `sample`,
`export` and `train --resume`; a data file by `train --data` and `eval --data`.  Each must end in a
clear error naming the file (and the key or line where there is one), with the CLI's exit status
for errors (1; 2 for a usage error), no traceback (an exception out of `main`), and no file written
or changed anywhere in the case's folder.
"""
import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from _shared import TINY_MUSIC, tiny_music_files
from rnnalg.cli import main
from rnnalg.data import music

H = 3
PIECES = {"train": 2, "valid": 1, "test": 1}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(folder, spec, data): a tiny music RNN trained 2 epochs into folder/run (numpy backend)."""
    folder = tmp_path_factory.mktemp("trained")
    spec, data = tiny_music_files(folder, H, PIECES)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNNALG_BACKEND", "numpy")
        assert main(["train", spec, "--data", data, "--epochs", "2", "--out", str(folder / "run"), "--quiet"]) == 0
    return folder, spec, data


def snapshot(folder: Path) -> dict:
    """Every file under `folder` -> its sha256 (a folder -> None)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
            for p in sorted(folder.rglob("*"))}


def refused(argv, folder: Path, capsys, names) -> str:
    """Run `rnnalg ARGV`: it must fail with exit 1 or 2, print an error naming each of `names`, and
    leave `folder` as it was.  Returns stderr."""
    before = snapshot(folder)
    capsys.readouterr()
    code = main([str(a) for a in argv])  # an exception out of main is the traceback a user would see
    err = capsys.readouterr().err
    assert code in (1, 2), (code, err)
    assert "Traceback" not in err, err
    for name in names:
        assert str(name) in err, (name, err)
    assert snapshot(folder) == before, "a file was written or changed"
    return err


# ---- checkpoints ------------------------------------------------------------------------------------

def meta_of(run: Path, tag: str = "last") -> dict:
    return json.loads((run / f"{tag}.json").read_text())


def write_meta(run: Path, meta: dict, tag: str = "last") -> None:
    (run / f"{tag}.json").write_text(json.dumps(meta, indent=1))


def npz_of(run: Path, tag: str = "last") -> Path:
    return run / meta_of(run, tag)["arrays"]


def edit_arrays(run: Path, change, tag: str = "last") -> Path:
    """Rewrite the checkpoint's arrays with `change(arrays)` and its digest to match, as a hand edit
    (or a tool that rewrote the file) would: the checks behind the digest must catch it."""
    npz = npz_of(run, tag)
    with np.load(npz) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    with open(npz, "wb") as f:
        np.savez(f, **arrays)
    meta = meta_of(run, tag)
    meta["sha256"] = hashlib.sha256(npz.read_bytes()).hexdigest()
    write_meta(run, meta, tag)
    return npz


def edit_meta(change, tag: str = "last"):
    def edit(run: Path):
        meta = meta_of(run, tag)
        change(meta)
        write_meta(run, meta, tag)
        return run / f"{tag}.json"
    return edit


def replace_json(text: str):
    def edit(run: Path):
        (run / "last.json").write_text(text)
        return run / "last.json"
    return edit


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def with_digest(run: Path, write) -> Path:
    """Replace the arrays file's bytes by `write(old bytes)`, with a matching digest."""
    npz = npz_of(run)
    npz.write_bytes(write(npz.read_bytes()))
    meta = meta_of(run)
    meta["sha256"] = hashlib.sha256(npz.read_bytes()).hexdigest()
    write_meta(run, meta)
    return npz


def _set(arrays, key, value):
    arrays[key] = value


def _drop(mapping, *keys):
    for key in keys:
        mapping.pop(key)


def _first(arrays, prefix: str) -> str:
    """The first array name (sorted) starting with `prefix` that is not a scalar."""
    return next(k for k in sorted(arrays) if k.startswith(prefix) and arrays[k].ndim)


def _first_param(arrays) -> str:
    return _first(arrays, "param/")


def _edit_first(prefix: str, change):
    """Case: the first `prefix` array of the last checkpoint replaced by `change(it)`."""
    return lambda run: edit_arrays(run, lambda a: _set(a, _first(a, prefix), change(a[_first(a, prefix)])))


def _edit_param(change):
    return _edit_first("param/", change)


def _object_array(run):
    """An array holding Python objects (stored by pickle): refused, never unpickled."""
    npz = npz_of(run)
    with np.load(npz) as z:
        arrays = {k: z[k] for k in z.files}
    arrays[_first_param(arrays)] = np.array([{"x": 1}], dtype=object)
    with open(npz, "wb") as f:
        np.savez(f, **arrays)
    return with_digest(run, lambda b: b)


def _npz_without_its_json_name(run):
    npz_of(run).unlink()
    return run / meta_of(run)["arrays"]


def _npz_a_folder(run):
    npz = npz_of(run)
    npz.unlink()
    npz.mkdir()
    return npz


def _json_a_folder(run):
    (run / "last.json").unlink()
    (run / "last.json").mkdir()
    return run / "last.json"


def _no_checkpoint(run):
    for f in list(run.glob("last*")):
        f.unlink()
    return run / "last.json"


def _json_not_utf8(run):
    path = run / "last.json"
    path.write_bytes(path.read_bytes().replace(b'"tag"', b'"t\xffg"'))
    return path


def _zip_with_a_bad_member(run):
    """A zip whose member is not a .npy array."""
    def write(_):
        import io
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("param/x.npy", b"not an array")
        return buf.getvalue()
    return with_digest(run, write)


# name -> (make the run bad: returns the file the error must name, more text it must name)
CHECKPOINTS = {
    "truncated npz": (lambda run: truncate(npz_of(run)) or npz_of(run), "sha256"),
    "truncated npz, digest matching": (lambda run: with_digest(run, lambda b: b[: len(b) // 2]), "corrupt"),
    "npz of random bytes, digest matching": (lambda run: with_digest(run, lambda b: os.urandom(len(b))), "corrupt"),
    "empty npz, digest matching": (lambda run: with_digest(run, lambda b: b""), "corrupt"),
    "npz member not an array": (_zip_with_a_bad_member, ""),
    "npz missing (last.json only)": (_npz_without_its_json_name, "missing"),
    "npz is a folder": (_npz_a_folder, ""),
    "no checkpoint at all": (_no_checkpoint, "no checkpoint"),
    "truncated json": (lambda run: truncate(run / "last.json") or run / "last.json", "corrupt"),
    "empty json": (replace_json(""), "corrupt"),
    "json not utf-8": (_json_not_utf8, ""),
    "json a list": (replace_json("[1, 2]"), "not a JSON object"),
    "json is a folder": (_json_a_folder, ""),
    "json without param_shapes": (edit_meta(lambda m: _drop(m, "param_shapes")), "param_shapes"),
    "json without spec_text": (edit_meta(lambda m: _drop(m, "spec_text")), "spec_text"),
    "json without config": (edit_meta(lambda m: _drop(m, "config")), "config"),
    "json without config.lr": (edit_meta(lambda m: _drop(m["config"], "lr")), "config.lr"),
    "json without run": (edit_meta(lambda m: _drop(m, "run")), "run"),
    "json sizes a string": (edit_meta(lambda m: _set(m, "sizes", "H=3")), "sizes"),
    "json size zero": (edit_meta(lambda m: _set(m, "sizes", {"H": 0})), "sizes"),
    "json format 2": (edit_meta(lambda m: _set(m, "format", 2)), "format"),
    "json arrays a path out of the run": (edit_meta(lambda m: _set(m, "arrays", "../x.npz")), "arrays"),
    "json sha256 not a digest": (edit_meta(lambda m: _set(m, "sha256", "abc")), "sha256"),
    "json config.lr a string": (edit_meta(lambda m: _set(m["config"], "lr", "fast")), "config.lr"),
    "json config.batch_size a float": (edit_meta(lambda m: _set(m["config"], "batch_size", 4.5)), "batch_size"),
    "json config.batch_size zero": (edit_meta(lambda m: _set(m["config"], "batch_size", 0)), "batch"),
    "json config.threads negative": (edit_meta(lambda m: _set(m["config"], "threads", -1)), "threads"),
    "json config.data a number": (edit_meta(lambda m: _set(m["config"], "data", 7)), "config.data"),
    "json run.epoch a string": (edit_meta(lambda m: _set(m["run"], "epoch", "2")), "run.epoch"),
    "json run.history not a list": (edit_meta(lambda m: _set(m["run"], "history", {})), "run.history"),
    "json param_shapes of another size": (
        lambda run: edit_meta(lambda m: _set(m, "param_shapes", {k: [5 if n == H else n for n in v]
                                                                 for k, v in m["param_shapes"].items()}))(run)
        and npz_of(run), "param_shapes in last.json"),
    "json config.optimizer unknown": (edit_meta(lambda m: _set(m["config"], "optimizer", "rmsprop")), "optimizer"),
    "json config.init unknown": (edit_meta(lambda m: _set(m["config"], "init", "xavier")), "init"),
    "json config.lr infinite": (edit_meta(lambda m: _set(m["config"], "lr", float("inf"))), "lr"),
    "json run.lr NaN": (edit_meta(lambda m: _set(m["run"], "lr", float("nan"))), "run.lr"),
    "json run.epoch negative": (edit_meta(lambda m: _set(m["run"], "epoch", -1)), "run.epoch"),
    # (it was "array 'carry/h': missing", naming the arrays file)
    "json run.batch past the epoch": (edit_meta(lambda m: _set(m["run"], "batch", 99)),
                                      "checkpoint field run.batch is 99; it must be from 0 to 1,"),
    "json dataset_unit word on a music run": (edit_meta(lambda m: _set(m, "dataset_unit", "word")), "dataset_unit"),
    "json config.data a missing file": (lambda run: edit_meta(lambda m: _set(m["config"], "data", "gone.json"))(run)
                                        and Path("gone.json"), ""),
    "json vocab on a music run": (edit_meta(lambda m: _set(m, "vocab", ["a", "b"])), "vocab"),
    "param of the wrong shape": (_edit_param(lambda p: np.zeros(p.shape[:-1] + (p.shape[-1] + 1,), p.dtype)), "shape"),
    "param of float16": (_edit_param(lambda p: p.astype(np.float16)), "float16"),
    "param of int32": (_edit_param(lambda p: p.astype(np.int32)), "int32"),
    "param of strings": (_edit_param(lambda p: np.full(p.shape, "w")), "<U1"),
    "param of complex": (_edit_param(lambda p: p.astype(np.complex64)), "complex"),
    "param holding objects": (_object_array, ""),
    "param with NaN": (_edit_param(lambda p: np.where(np.arange(p.size).reshape(p.shape) == 0, np.nan, p)), "NaN"),
    "param with Inf": (_edit_param(lambda p: np.full(p.shape, np.inf, p.dtype)), "Inf"),
    "param missing": (lambda run: edit_arrays(run, lambda a: _drop(a, _first_param(a))), "missing"),
    "best params with NaN": (_edit_first("best/", lambda p: np.full_like(p, np.nan)), "NaN"),
    "optimiser state of the wrong shape": (_edit_first("opt/", lambda p: np.zeros(7, p.dtype)), "opt/"),
    "rng state of float": (lambda run: edit_arrays(run, lambda a: _set(a, "rng/noise", np.zeros(6))), "rng/noise"),
    "optimiser step count of float": (lambda run: edit_arrays(run, lambda a: _set(a, "opt/t", np.float32(2))), "opt/t"),
    "optimiser state with NaN": (_edit_first("opt/m/", lambda p: np.full_like(p, np.nan)), "NaN"),
}
RESUME_ONLY = {"json without config.lr", "json without run", "json run.epoch a string",
               "json run.history not a list", "json config.lr a string", "json config.batch_size a float",
               "json config.batch_size zero", "json config.threads negative", "json config.data a number",
               "best params with NaN", "optimiser state of the wrong shape", "rng state of float",
               "json config.optimizer unknown", "json config.init unknown", "json config.lr infinite",
               "json run.lr NaN", "json run.epoch negative", "json run.batch past the epoch",
               "optimiser step count of float", "optimiser state with NaN"}
NOT_SAMPLE = {"json config.data a missing file"}  # sampling music reads no data without --prime
READERS = ("eval", "sample", "export", "train --resume")


def readers(bad: str) -> tuple:
    """The commands that read what case `bad` breaks."""
    if bad in RESUME_ONLY:
        return ("train --resume",)
    return ("eval", "train --resume") if bad in NOT_SAMPLE else READERS


def checkpoint_commands(spec, run, out):
    return {
        "eval": ["eval", spec, "--checkpoint", run, "--which", "last"],
        "sample": ["sample", spec, "--checkpoint", run, "--which", "last", "--steps", "5", "--out", out / "s.mid"],
        "export": ["export", spec, "--to", "jax", "-o", out / "m.py", "--checkpoint", run, "--which", "last"],
        "train --resume": ["train", spec, "--resume", run, "--out", out / "again", "--epochs", "3", "--quiet"],
    }


@pytest.fixture
def case(trained, tmp_path):
    """(spec, run, out): a copy of the trained run in tmp_path, and an empty folder for outputs."""
    folder, spec, _ = trained
    shutil.copytree(folder / "run", tmp_path / "run")
    (tmp_path / "out").mkdir()
    return spec, tmp_path / "run", tmp_path / "out"


def test_the_good_run_is_read_by_every_command(case, capsys, monkeypatch):
    """The cases below fail because of their one change, not because the commands fail anyway."""
    spec, run, out = case
    monkeypatch.setenv("RNNALG_BACKEND", "numpy")
    for name, argv in checkpoint_commands(spec, run, out).items():
        assert main([str(a) for a in argv]) == 0, (name, capsys.readouterr().err)


@pytest.mark.parametrize("bad, command", [(bad, command) for bad in sorted(CHECKPOINTS) for command in readers(bad)])
def test_a_bad_checkpoint_is_a_located_error(case, capsys, bad, command):
    spec, run, out = case
    make, detail = CHECKPOINTS[bad]
    named = make(run)
    argv = checkpoint_commands(spec, run, out)[command]
    refused(argv, run.parent, capsys, [named.name, detail])


OTHER_SPEC = TINY_MUSIC.replace("tanh", "sigmoid")  # the same parameters, another graph
DEEPER = TINY_MUSIC.replace("y  = ▷ h'", "z = tanh(h')\ny  = ▷ z")  # another parameter


@pytest.mark.parametrize("command", READERS)
@pytest.mark.parametrize("other, extra, detail", [
    (OTHER_SPEC.format(H=H), [], "different graph"),
    (DEEPER.format(H=H), [], "parameters differ"),
    (None, ["--set", f"H={H + 2}"], ""),  # the run's spec at another size
])
def test_a_checkpoint_of_another_spec_or_size_is_refused(case, capsys, command, other, extra, detail):
    spec, run, out = case
    if other is not None:
        spec = out.parent / "other.rnn"
        spec.write_text(other)
    argv = checkpoint_commands(spec, run, out)[command]
    refused(argv[:2] + extra + argv[2:], run.parent, capsys, [detail])


# ---- a text run's vocabulary ------------------------------------------------------------------------

TEXT_SPEC = "let H = 3\ninput x : token[{V}]\noutput y : token[{V}]\nstate h : H\nh' = tanh(x ⊕ h)\ny = ▷ h'\n"


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    """(folder, spec): a character RNN over a 4-symbol text ("abc" and the newline), trained 1 epoch."""
    folder = tmp_path_factory.mktemp("text")
    (folder / "t.txt").write_text("abcabc\ncab\n" * 40)
    spec = folder / "t.rnn"
    spec.write_text(TEXT_SPEC.format(V=4))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNNALG_BACKEND", "numpy")
        assert main(["train", str(spec), "--data", str(folder / "t.txt"), "--epochs", "1", "--steps", "8",
                     "--out", str(folder / "run"), "--quiet"]) == 0
    return folder, spec


VOCABS = {
    "vocab of another size": (lambda v: v + ["d"], "field vocab"),
    "vocab with a symbol twice": (lambda v: v[:-1] + v[:1], "vocab"),
    "vocab with an empty symbol": (lambda v: v[:-1] + [""], "vocab"),
    "vocab with a word for a char": (lambda v: v[:-1] + ["ab"], "vocab"),
    "vocab not a list": (lambda v: "".join(v), "vocab"),
}


@pytest.mark.parametrize("command", ["eval", "sample", "train --resume"])
@pytest.mark.parametrize("bad", sorted(VOCABS))
def test_a_bad_stored_vocabulary_is_a_located_error(text_run, tmp_path, capsys, bad, command):
    folder, spec = text_run
    run, out = tmp_path / "run", tmp_path / "out"
    shutil.copytree(folder / "run", run)
    out.mkdir()
    change, detail = VOCABS[bad]
    named = edit_meta(lambda m: _set(m, "vocab", change(m["vocab"])))(run)
    refused(checkpoint_commands(spec, run, out)[command], tmp_path, capsys, [named.name, detail])


@pytest.mark.parametrize("rows, value, detail", [
    (None, np.nan, "array 'carry/h' holds NaN or Inf"),
    (4, 0.0, "array 'carry/h': shape (4, 3), expected shape (32, 3)"),  # it was a ValueError's traceback
])
def test_a_bad_carried_state_of_a_text_checkpoint_is_a_located_error(text_run, tmp_path, capsys, rows, value,
                                                                     detail):
    """A text run carries its state from batch to batch: its end-of-epoch checkpoint made mid-epoch
    by hand (run.batch 1 of 2, a carried h of NaN, or of 4 streams where the run has 32) is refused
    by `train --resume`, naming the arrays file."""
    folder, spec = text_run
    run, out = tmp_path / "run", tmp_path / "out"
    shutil.copytree(folder / "run", run)
    out.mkdir()
    streams = meta_of(run)["config"]["batch_size"]
    edit_meta(lambda m: _set(m["run"], "batch", 1))(run)
    named = edit_arrays(run, lambda a: _set(a, "carry/h", np.full((rows or streams, 3), value)))
    refused(checkpoint_commands(spec, run, out)["train --resume"], tmp_path, capsys, [named.name, detail])



def test_a_text_checkpoint_without_the_state_its_run_batch_needs_names_that_field(text_run, tmp_path, capsys):
    """run.batch 1 of 2 with no carried state (an end-of-epoch checkpoint, which holds none, edited
    by hand): the error names the JSON field that makes the state needed, not only the arrays file."""
    folder, spec = text_run
    run, out = tmp_path / "run", tmp_path / "out"
    shutil.copytree(folder / "run", run)
    out.mkdir()
    streams = meta_of(run)["config"]["batch_size"]
    named = edit_meta(lambda m: _set(m["run"], "batch", 1))(run)
    refused(checkpoint_commands(spec, run, out)["train --resume"], tmp_path, capsys,
            [f"{npz_of(run).name}: error: array 'carry/h': missing, expected shape ({streams}, 3): the checkpoint "
             f"field run.batch is 1 in {named.name}, so batch 2 of the epoch continues the state batch 1 left"])


def test_a_checkpoint_whose_next_batch_starts_afresh_needs_no_carried_state(case, capsys, monkeypatch):
    """run.batch 1 of 1 (a music epoch of one batch, its end not yet recorded): no batch continues a
    state, so none is required (it was "array 'carry/h': missing, expected shape (0, 3)")."""
    spec, run, out = case
    monkeypatch.setenv("RNNALG_BACKEND", "numpy")
    edit_meta(lambda m: _set(m["run"], "batch", 1))(run)
    assert main([str(a) for a in checkpoint_commands(spec, run, out)["train --resume"]]) == 0, capsys.readouterr().err

def test_the_good_text_run_is_read(text_run, tmp_path, capsys, monkeypatch):
    folder, spec = text_run
    monkeypatch.setenv("RNNALG_BACKEND", "numpy")
    for name, argv in checkpoint_commands(spec, folder / "run", tmp_path).items():
        assert main([str(a) for a in argv]) == 0, (name, capsys.readouterr().err)


# ---- data files -------------------------------------------------------------------------------------

def _npz(**arrays):
    def write(path):
        with open(path, "wb") as f:
            np.savez(f, **arrays)
    return write


def _good_npz_but(change):
    def write(path):
        notes = {s: music.compact_split([[[60], [62, 64]], [[60], []]], s, "x") for s in music.SPLITS}
        music.write_npz(path, notes)
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        change(arrays)
        with open(path, "wb") as f:
            np.savez(f, **arrays)
    return write


def _bytes(data: bytes):
    return lambda path: path.write_bytes(data)


def _text(data: str):
    return lambda path: path.write_text(data, encoding="utf-8")


def _folder(**files):
    def write(path):
        path.mkdir()
        for name, data in files.items():
            (path / name.replace("__", ".")).write_bytes(data)
    return write


def _pickle_of(obj):
    import pickle
    return lambda path: path.write_bytes(pickle.dumps(obj))


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


# name -> (file name, write it, what the error must name besides the file)
DATA = {
    "empty json": ("d.json", _bytes(b""), "line 1"),
    "json not utf-8": ("d.json", _bytes(b'{"train": [[[60\xff]]]}'), "UTF-8"),
    "json a list": ("d.json", _text("[[60]]"), "top level"),
    "json without test": ("d.json", _text('{"train": [[[60], [61]]], "valid": [[[60], [61]]]}'), "test"),
    "json note a string": ("d.json", _text(json.dumps({s: [[[60], ["C4"]]] for s in music.SPLITS})), "train[0][1][0]"),
    "json note off the piano": ("d.json", _text(json.dumps({s: [[[60], [120]]] for s in music.SPLITS})), "120"),
    "json piece of one step": ("d.json", _text(json.dumps({s: [[[60]]] for s in music.SPLITS})), "train[0]"),
    "json empty split": ("d.json", _text(json.dumps({"train": [], "valid": [], "test": []})), "train"),
    "json nested too deep": ("d.json", _text("[" * 100000 + "]" * 100000), "nested"),
    "empty npz": ("d.npz", _bytes(b""), ""),
    "truncated npz": ("d.npz", lambda p: (_good_npz_but(lambda a: None)(p), truncate(p)), ""),
    "npz of other arrays": ("d.npz", _npz(x=np.zeros(3)), "train_notes"),
    "npz notes of float": ("d.npz", _good_npz_but(lambda a: _set(a, "train_notes", a["train_notes"] + 0.5)), "train"),
    "npz notes 2-d": ("d.npz", _good_npz_but(lambda a: _set(a, "valid_notes", a["valid_notes"][:, None])), "valid"),
    "npz lengths that do not add up": ("d.npz", _good_npz_but(lambda a: _set(a, "test_step_lengths",
                                                                              a["test_step_lengths"] + 1)), "test"),
    "npz negative lengths": ("d.npz", _good_npz_but(lambda a: _set(a, "train_piece_lengths",
                                                                    -a["train_piece_lengths"])), "train"),
    "npz note off the piano": ("d.npz", _good_npz_but(lambda a: _set(a, "train_notes", a["train_notes"] * 3)),
                               "train_notes["),
    "npz of objects": ("d.npz", _npz(train_notes=np.array([{}], dtype=object)), ""),
    "npz empty arrays": ("d.npz", _npz(**{f"{s}_{f}": np.zeros(0, np.int32) for s in music.SPLITS
                                          for f in music.NPZ_FIELDS}), "train"),
    "pickle garbage": ("d.pickle", _bytes(b"\x80\x04garbage"), ""),
    "pickle running code": ("d.pkl", _pickle_of(_Evil()), ""),
    "pickle of a list": ("d.pickle", _pickle_of([1, 2]), ""),
    "empty text": ("d.txt", _bytes(b""), ""),
    "text not utf-8": ("d.txt", _bytes(b"hello\nwor\xffld\n" * 30), "line 2"),
    "text of one symbol": ("d.txt", _text("a" * 200), ""),
    "text a binary file": ("d.txt", _bytes(bytes(range(256)) * 4), "UTF-8"),
    "empty folder": ("d", _folder(), "train.txt"),
    "folder of MIDI files": ("d", _folder(a__mid=b"MThd\x00\x00\x00\x06", b__mid=b"MThd"), "train.txt"),
    "folder missing valid": ("d", _folder(**{"ptb__train__txt": b"a b\n", "ptb__test__txt": b"a b\n"}), "valid.txt"),
    "folder with a non-utf-8 split": ("d", _folder(**{"x__train__txt": b"ab\n" * 9, "x__valid__txt": b"a\xff\n",
                                                      "x__test__txt": b"ab\n"}), "line 1"),
    "folder with an empty split": ("d", _folder(**{"x__train__txt": b"ab\n" * 9, "x__valid__txt": b"",
                                                   "x__test__txt": b"ab\n"}), "valid"),
    "a folder named like a json": ("d.json", _folder(), "train.txt"),
}


def data_commands(spec, data, run, out):
    return {
        "train --data": ["train", spec, "--data", data, "--out", out / "run", "--epochs", "1", "--quiet"],
        "eval --data": ["eval", spec, "--checkpoint", run, "--which", "last", "--data", data],
    }


@pytest.mark.parametrize("command", ["train --data", "eval --data"])
@pytest.mark.parametrize("bad", sorted(DATA))
def test_a_bad_data_file_is_a_located_error(case, capsys, bad, command):
    spec, run, out = case
    name, write, detail = DATA[bad]
    data = out.parent / name
    write(data)
    argv = data_commands(spec, data, run, out)[command]
    refused(argv, run.parent, capsys, [data, detail])
