"""`rnnalg sample`: music to MIDI + piano roll, text to stdout; and the sampling maths."""
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnalg.cli import main
from rnnalg.data import load_dataset
from rnnalg.train.sampling import roll_to_midi, temper_bernoulli, temper_categorical

MUSIC = """\
let H = 16
input  x : binary[88]
output y : binary[88]
state  h : H
h' = tanh(x ⊕ h)
y  = ▷ h'
"""


@pytest.fixture(scope="module")
def music_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("music")
    spec = root / "m.rnn"
    spec.write_text(MUSIC)
    run = root / "run"
    assert main(["train", str(spec), "--epochs", "1", "--out", str(run), "--quiet"]) == 0
    return str(spec), run


def test_music_sample_writes_midi_and_png(music_run, tmp_path, capsys):
    mido = pytest.importorskip("mido")
    spec, run = music_run
    out = tmp_path / "song.mid"
    assert main(["sample", spec, "--checkpoint", str(run), "--steps", "40", "--out", str(out),
                 "--prime", "test:0:8", "--seed", "3"]) == 0
    assert "40 frames" in capsys.readouterr().out
    midi = mido.MidiFile(str(out))
    ons = [m for m in midi.tracks[0] if m.type == "note_on" and m.velocity > 0]
    assert ons and all(21 <= m.note <= 108 for m in ons)
    total_ticks = sum(m.time for m in midi.tracks[0])
    assert total_ticks == 40 * 480  # one quarter note per frame
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_same_seed_same_sample(music_run, tmp_path):
    spec, run = music_run
    a, b = tmp_path / "a.mid", tmp_path / "b.mid"
    for out in (a, b):
        assert main(["sample", spec, "--checkpoint", str(run), "--steps", "20", "--out", str(out)]) == 0
    assert a.read_bytes() == b.read_bytes()


def test_without_mido_a_clear_message_and_the_png(music_run, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "mido", None)  # `import mido` now raises ImportError
    spec, run = music_run
    out = tmp_path / "s.mid"
    assert main(["sample", spec, "--checkpoint", str(run), "--steps", "10", "--out", str(out)]) == 0
    assert "needs mido" in capsys.readouterr().err
    assert not out.exists() and out.with_suffix(".png").exists()


def _files(folder):
    return sorted(p.name for p in Path(folder).iterdir())


@pytest.mark.parametrize("where, message", [
    ("missing/s.mid", "no such folder"),
    ("a-file/s.mid", "not a folder"),
])
def test_out_into_a_missing_folder_is_a_usage_error(music_run, tmp_path, capsys, where, message):
    spec, run = music_run
    (tmp_path / "a-file").write_text("x")
    assert main(["sample", spec, "--checkpoint", str(run), "--steps", "5", "--out", str(tmp_path / where)]) == 2
    err = capsys.readouterr().err
    assert f"--out {tmp_path / where}" in err and message in err and "Traceback" not in err
    assert _files(tmp_path) == ["a-file"]


def test_out_into_an_unwritable_folder_is_a_usage_error(music_run, tmp_path, capsys):
    spec, run = music_run
    if os.access("/sys", os.W_OK) and not Path("/sys/kernel").is_dir():
        pytest.skip("no read-only /sys here")
    assert main(["sample", spec, "--checkpoint", str(run), "--steps", "5", "--out", "/sys/s.mid"]) == 2
    err = capsys.readouterr().err
    assert "cannot write into /sys" in err and "Traceback" not in err


def test_default_out_in_a_read_only_run_folder(music_run, capsys, monkeypatch):
    """The OS refusing a file in the run folder (simulated: this test may run as root)."""
    spec, run = music_run
    before = _files(run)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.mkstemp", refuse)
    assert main(["sample", spec, "--checkpoint", str(run / "last.json"), "--steps", "5"]) == 2
    err = capsys.readouterr().err
    assert f"the default --out {run / 'sample.mid'}" in err and "Permission denied" in err
    assert "--out FILE" in err and "Traceback" not in err
    assert _files(run) == before


def test_a_failing_second_file_leaves_no_first_one(music_run, tmp_path, capsys, monkeypatch):
    pytest.importorskip("mido")
    spec, run = music_run

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("rnnalg.commands.sample.save_roll_png", full_disk)
    assert main(["sample", spec, "--checkpoint", str(run), "--steps", "5", "--out", str(tmp_path / "s.mid")]) == 1
    err = capsys.readouterr().err
    assert "s.png" in err and "No space left" in err and "Traceback" not in err
    assert _files(tmp_path) == []


def test_no_writer_at_all_is_an_error_before_sampling(music_run, tmp_path, capsys, monkeypatch):
    for name in ("mido", "matplotlib"):
        monkeypatch.setitem(sys.modules, name, None)
    spec, run = music_run
    assert main(["sample", spec, "--checkpoint", str(run), "--steps", "5", "--out", str(tmp_path / "s.mid")]) == 1
    captured = capsys.readouterr()
    assert "nothing can be written" in captured.err and "mido" in captured.err and "matplotlib" in captured.err
    assert captured.out == "" and _files(tmp_path) == []


def test_bad_prime_is_a_usage_error(music_run, capsys):
    spec, run = music_run
    assert main(["sample", spec, "--checkpoint", str(run), "--prime", "test:9999"]) == 2
    assert "no piece 9999" in capsys.readouterr().err


def test_text_sample_to_stdout(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(f"the cat sat on mat {i % 7}\n" for i in range(200)))
    vocab = load_dataset(str(corpus), unit="char").vocab
    spec = tmp_path / "c.rnn"
    spec.write_text(f"input x : token[{len(vocab)}]\noutput y : token[{len(vocab)}]\nstate h : 16\n"
                    "h' = tanh(x ⊕ h)\ny = ▷ h'\n")
    run = tmp_path / "run"
    assert main(["train", str(spec), "--data", str(corpus), "--unit", "char", "--epochs", "2",
                 "--batch-size", "4", "--steps", "20", "--lr", "0.01", "--out", str(run), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("test BPC: ")
    assert float(out.split(":")[1].split()[0]) < np.log2(len(vocab))  # better than uniform
    assert main(["sample", str(spec), "--checkpoint", str(run), "--steps", "30", "--prime", "the c",
                 "--data", str(corpus), "--unit", "char"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("the c") and len(text) == len("the c") + 30 + 1
    assert set(text[:-1]) <= set(vocab)


def test_temperature_maths():
    p = np.array([0.2, 0.5, 0.9])
    np.testing.assert_allclose(temper_bernoulli(p, 1.0), p, rtol=1e-6)
    cold = temper_bernoulli(p, 0.5)  # σ(2 logit p)
    np.testing.assert_allclose(cold, p**2 / (p**2 + (1 - p) ** 2), rtol=1e-6)
    q = np.array([[0.1, 0.3, 0.6]])
    np.testing.assert_allclose(temper_categorical(q, 1.0), q, rtol=1e-9)
    np.testing.assert_allclose(temper_categorical(q, 0.5), q**2 / (q**2).sum(), rtol=1e-9)


def test_roll_to_midi_ties_held_notes():
    pytest.importorskip("mido")
    roll = np.zeros((4, 88), np.uint8)
    roll[0:3, 39] = 1  # middle C (60) held for three steps
    roll[2, 43] = 1  # E (64) for one step
    msgs = [(m.type, m.note, m.time) for m in roll_to_midi(roll).tracks[0] if m.type.startswith("note")]
    assert msgs == [("note_on", 60, 0), ("note_on", 64, 960), ("note_off", 60, 480), ("note_off", 64, 0)]


@pytest.mark.parametrize("steps", ["100001", "100000000"])
def test_too_many_music_steps_are_refused_before_sampling(music_run, tmp_path, capsys, steps):
    spec, run = music_run
    out = tmp_path / "s.mid"
    assert main(["sample", spec, "--checkpoint", str(run), "--steps", steps, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"--steps {steps}: at most 100,000 frames" in err and "Traceback" not in err
    assert not out.exists()


def test_long_music_sample_has_a_bounded_picture(music_run, tmp_path):
    """3,000 frames: the MIDI holds them all; the PNG is squeezed to MAX_ROLL_INCHES wide."""
    from rnnalg.train.sampling import MAX_ROLL_INCHES

    mido = pytest.importorskip("mido")
    spec, run = music_run
    out = tmp_path / "s.mid"
    assert main(["sample", spec, "--checkpoint", str(run), "--steps", "3000", "--out", str(out)]) == 0
    width = int.from_bytes(out.with_suffix(".png").read_bytes()[16:20], "big")  # the PNG's IHDR width
    assert 1000 < width <= MAX_ROLL_INCHES * 100 * 1.1  # dpi 100, plus the tight bbox's margins
    midi = mido.MidiFile(str(out))
    assert round(midi.length * 100 / 60) == 3000  # one quarter note a frame at 100 bpm
