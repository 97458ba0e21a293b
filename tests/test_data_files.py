"""Data files are read within bounds: regular files only, a size limit, a line-length limit for text
(issue 17, item 7; rnnalg/data/files.py)."""
from __future__ import annotations

import os
import threading

import pytest

from rnnalg.cli import main
from rnnalg.data import files, load_dataset
from rnnalg.errors import DataError


def _load_within(seconds, path, **kwargs):
    """load_dataset(path) in a thread that must end within `seconds` (a FIFO used to block for ever)."""
    outcome = {}

    def run():
        try:
            outcome["value"] = load_dataset(path, **kwargs)
        except Exception as err:  # noqa: BLE001 - handed to the test
            outcome["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"load_dataset({path!r}) still blocks after {seconds} s"
    return outcome


@pytest.mark.parametrize("name", ["notes.txt", "notes.json", "notes.npz"])
def test_a_fifo_is_refused_before_it_is_read(tmp_path, name):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    outcome = _load_within(10, str(fifo))
    assert isinstance(outcome.get("error"), DataError)
    assert str(outcome["error"]) == f"{fifo}: error: is a FIFO (named pipe), not a regular file; give a data file"


def test_a_device_is_refused_and_the_cli_says_so(capsys):
    with pytest.raises(DataError, match="/dev/zero: error: is a character device, not a regular file"):
        load_dataset("/dev/zero")
    code = main(["eval", "examples/dots.rnn", "--checkpoint", "nowhere", "--data", "/dev/zero"])
    assert code != 0 and "Traceback" not in capsys.readouterr().err


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path):
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:  # sparse: no disk space, and reading it would take a while
        f.truncate(files.MAX_FILE_BYTES + 1)
    with pytest.raises(DataError, match=r"big.txt: error: file has 268,435,457 bytes, more than the "
                                        r"268,435,456 \(256 MiB\) a data file may have"):
        load_dataset(str(big))


def test_a_line_over_the_limit_is_refused_while_reading(tmp_path):
    long = tmp_path / "long.txt"
    with open(long, "wb") as f:
        f.write(b"ab\ncd\n")
        f.truncate(6 + files.MAX_LINE_BYTES + 1)  # line 3: 16 MiB + 1 zero bytes
    with pytest.raises(DataError) as err:
        load_dataset(str(long))
    assert (err.value.file, err.value.where) == (str(long), "line 3")
    assert "line is longer than 16,777,216 bytes (16 MiB)" in str(err.value)


@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 7, 64])
def test_line_lengths_are_counted_across_chunks(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(files, "CHUNK", chunk)
    path = tmp_path / "t.txt"
    path.write_bytes(b"abcd\n\nabcde\nab\nabcdefgh\nx")
    assert files.read_bytes(str(path), max_line_bytes=8) == path.read_bytes()
    with pytest.raises(DataError) as err:
        files.read_bytes(str(path), max_line_bytes=7)
    assert err.value.where == "line 5"
    with pytest.raises(DataError) as err:
        files.read_bytes(str(path), max_line_bytes=4)
    assert err.value.where == "line 3"
