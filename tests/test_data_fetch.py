"""`rnnalg data fetch ptb` against a local server: fallback, checksums, no partial files, no-op."""
from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from _shared import shared_data
from ptb_server import PtbServer
from rnnalg.cli import main
from rnnalg.data import fetch
from rnnalg.data.folders import cache_dir

SPLITS = ("train", "valid", "test")


@pytest.fixture(scope="module")
def server():
    with PtbServer(shared_data("ptb/ptb.train.txt") / "ptb") as s:
        yield s


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """The public sources are never contacted; nothing lands in the user's cache."""
    monkeypatch.setenv(fetch.SOURCES_ENV, "http://127.0.0.1:9/refused/")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("RNNALG_DATA", raising=False)


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


FINAL = sorted(s.rel for s in (*fetch.PTB_WORDS.values(), *fetch.PTB_CHARS.values()))


@pytest.fixture(scope="module")
def fetched(server, tmp_path_factory):
    """One fetch whose first sources fail in every way but hanging; the last one is good."""
    target = tmp_path_factory.mktemp("fetched")
    argv = ["data", "fetch", "ptb", "--data-dir", str(target)]
    for kind in ("missing", "corrupt", "truncated", "good"):
        argv += ["--source", server.url(kind)]
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return target, code, out.getvalue(), err.getvalue(), list(server.requests)


def test_fetch_falls_back_to_the_good_source_and_builds_the_char_files(fetched):
    target, code, out, err, requests = fetched
    assert code == 0, err
    assert files_under(target) == FINAL  # and no temporary file left over
    shared = shared_data("ptb_char/ptb.char.train.txt")
    for rel in FINAL:
        assert (target / rel).read_bytes() == (shared / rel).read_bytes(), rel
    for kind in ("missing", "corrupt", "truncated", "good"):
        assert f"/{kind}/ptb.train.txt" in requests
    assert "/good/ptb.test.txt" in requests and "from http://127.0.0.1" in out
    assert "ptb_char/ptb.char.train.txt: built from ptb/ptb.train.txt, verified" in out
    assert re.search(r"^ptb/ptb.train.txt: \S+/missing/ptb.train.txt: HTTP 404 Not Found; trying the next "
                     r"source$", err, re.M)
    assert "/corrupt/ptb.train.txt: SHA-256 mismatch" in err and "/truncated/ptb.train.txt: only" in err


def test_second_fetch_is_a_no_op(fetched, server, capsys):
    target, *_ = fetched
    stamps = {rel: (target / rel).stat().st_mtime_ns for rel in FINAL}
    before = len(server.requests)
    assert main(["data", "fetch", "ptb", "--data-dir", str(target), "--source", server.url("good")]) == 0
    assert "already complete, nothing to do" in capsys.readouterr().out
    assert len(server.requests) == before
    assert {rel: (target / rel).stat().st_mtime_ns for rel in FINAL} == stamps


def test_a_damaged_file_is_replaced_by_a_verified_one(fetched, server, tmp_path, capsys):
    target, *_ = fetched
    copy = tmp_path / "copy"
    for rel in FINAL:
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_bytes((target / rel).read_bytes())
    (copy / "ptb_char/ptb.char.valid.txt").write_bytes(b"x y z\n")
    os.remove(copy / "ptb/ptb.test.txt")
    assert main(["data", "fetch", "ptb", "--data-dir", str(copy), "--source", server.url("good")]) == 0
    assert "2 files written" in capsys.readouterr().out
    assert server.requests[-1] == "/good/ptb.test.txt"
    assert all((copy / rel).read_bytes() == (target / rel).read_bytes() for rel in FINAL)


def test_a_checksum_mismatch_is_refused_and_nothing_is_left(server, tmp_path, capsys):
    assert main(["data", "fetch", "ptb", "--data-dir", str(tmp_path), "--source", server.url("corrupt")]) == 1
    err = capsys.readouterr().err
    assert "ptb/ptb.train.txt: error: could not download a verified copy" in err
    assert f"{server.url('corrupt')}ptb.train.txt: SHA-256 mismatch" in err
    assert "--source URL" in err and "Traceback" not in err
    assert files_under(tmp_path) == []


def test_every_failure_is_reported_and_nothing_is_left(server, tmp_path, capsys):
    argv = ["data", "fetch", "ptb", "--data-dir", str(tmp_path), "--timeout", "0.5"]
    for kind in ("missing", "truncated", "hang"):
        argv += ["--source", server.url(kind)]
    argv += ["--source", "http://127.0.0.1:9/closed-port/"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert re.search(r"/missing/ptb.train.txt: HTTP 404", err)
    assert re.search(r"/truncated/ptb.train.txt: only 2,550,809 of 5,101,618 bytes", err)
    assert re.search(r"/hang/ptb.train.txt: timed out \(no data for 0.5 s\)", err)
    assert re.search(r"/closed-port/ptb.train.txt: cannot connect", err)
    assert files_under(tmp_path) == []


def sigint_as_at_a_terminal():
    """In the child: SIGINT's default action, as a shell at a terminal gives it. A test run launched
    in the background (`nohup bash .ci/run &`) ignores SIGINT, the child inherits that, and Python
    then installs no KeyboardInterrupt handler: the fetch would rightly ignore Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_during_a_download_leaves_no_partial_file(server, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "rnnalg", "data", "fetch", "ptb", "--data-dir", str(tmp_path),
                             "--source", server.url("hang"), "--timeout", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=sigint_as_at_a_terminal)
    deadline = time.monotonic() + 60
    while not list((tmp_path / "ptb").glob(".ptb.train.txt.*")) or "/hang/ptb.train.txt" not in server.requests:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.2)  # the first 1,000 bytes are in the temporary file
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert files_under(tmp_path) == []


def test_progress_bar_on_a_terminal(server, tmp_path):
    class Terminal(io.StringIO):
        def isatty(self):
            return True
    term = Terminal()
    spec = fetch.PTB_WORDS["valid"]
    (tmp_path / "ptb").mkdir()
    url = server.url("good") + "ptb.valid.txt"
    assert fetch.download(tmp_path, spec, [url], 5.0, err=term) == url
    assert "ptb/ptb.valid.txt:" in term.getvalue() and "/390k" in term.getvalue()  # a tqdm bar in bytes
    assert fetch.verified(tmp_path / spec.rel, spec)


def test_a_dripping_source_fails_on_the_rate_floor_and_the_next_one_serves(server, tmp_path, capsys):
    started = time.monotonic()
    argv = ["data", "fetch", "ptb", "--data-dir", str(tmp_path), "--timeout", "1",
            "--source", server.url("drip"), "--source", server.url("good")]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert time.monotonic() - started < 60
    assert re.search(r"ptb/ptb.train.txt: http://127.0.0.1:\d+/drip/ptb.train.txt: too slow: \d+ bytes in 1 s, "
                     r"less than 1,024 bytes/s \(after \d+ of 5,101,618 bytes\); trying the next source", err), err
    assert files_under(tmp_path) == FINAL


def test_headers_dripped_a_byte_at_a_time_fail_after_the_timeout(server, tmp_path):
    spec = fetch.PTB_WORDS["valid"]
    (tmp_path / "ptb").mkdir()
    err = io.StringIO()
    started = time.monotonic()
    with pytest.raises(fetch.DataError) as info:
        fetch.download(tmp_path, spec, [server.url("driphead") + "ptb.valid.txt"], 1.0, err=err)
    assert time.monotonic() - started < 20
    assert "driphead/ptb.valid.txt: no complete response headers within 1 s" in str(info.value)
    assert files_under(tmp_path) == []


def test_progress_lines_when_stderr_is_not_a_terminal(server, tmp_path, monkeypatch):
    monkeypatch.setattr(fetch, "PROGRESS_SECONDS", 0.0)
    log = io.StringIO()  # not a terminal: no bar, lines
    spec = fetch.PTB_WORDS["valid"]
    url = server.url("good") + "ptb.valid.txt"
    assert fetch.download(tmp_path, spec, [url], 5.0, err=log) == url
    lines = log.getvalue().splitlines()
    assert lines and all(re.fullmatch(r"ptb/ptb.valid.txt: [\d,]+ of 399,782 bytes \(\d+ %\), [\d,.]+ KiB/s", x)
                         for x in lines), lines
    assert "\r" not in log.getvalue()


def test_sources_flags_then_environment_then_built_in(monkeypatch):
    assert fetch.sources(["file:///a/"]) == ["file:///a/"]
    monkeypatch.setenv(fetch.SOURCES_ENV, "http://x/ https://y/{split}.txt")
    assert fetch.sources(None) == ["http://x/", "https://y/{split}.txt"]
    assert [fetch.source_url(s, "valid") for s in fetch.sources(None)] == ["http://x/ptb.valid.txt",
                                                                          "https://y/valid.txt"]
    monkeypatch.delenv(fetch.SOURCES_ENV)
    assert fetch.sources(None) == list(fetch.PTB_SOURCES)
    assert all(s.startswith("https://raw.githubusercontent.com/") for s in fetch.PTB_SOURCES)


def test_bad_source_or_timeout_is_a_usage_error(tmp_path, monkeypatch, capsys):
    assert main(["data", "fetch", "ptb", "--data-dir", str(tmp_path), "--source", "ftp.example.org/ptb"]) == 2
    assert "bad --source 'ftp.example.org/ptb'" in capsys.readouterr().err
    for bad in ("0", "nan", "soon"):
        assert main(["data", "fetch", "ptb", "--data-dir", str(tmp_path), "--timeout", bad]) == 2
        assert "argument --timeout: must be a finite number > 0" in capsys.readouterr().err
    assert main(["data", "fetch", "bach"]) == 2
    monkeypatch.setenv(fetch.SOURCES_ENV, "127.0.0.1/ptb/")
    assert main(["data", "fetch", "ptb", "--data-dir", str(tmp_path)]) == 2
    assert "bad RNNALG_PTB_SOURCES '127.0.0.1/ptb/'" in capsys.readouterr().err
    assert files_under(tmp_path) == []


def test_a_local_copy_is_a_file_url(tmp_path):
    ptb = shared_data("ptb/ptb.valid.txt") / "ptb"
    url = fetch.source_url(ptb.as_uri() + "/", "valid")
    assert fetch.download(tmp_path, fetch.PTB_WORDS["valid"], [url], 5.0) == url
    assert (tmp_path / "ptb" / "ptb.valid.txt").read_bytes() == (ptb / "ptb.valid.txt").read_bytes()


def test_a_folder_that_cannot_be_created_is_an_error(tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    assert main(["data", "fetch", "ptb", "--data-dir", str(tmp_path / "file" / "data")]) == 1
    err = capsys.readouterr().err
    assert "cannot create the data folder" in err and "Traceback" not in err


def test_fetch_stores_in_rnnalg_data_else_the_cache(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(fetch.SOURCES_ENV, server.url("missing"))
    main(["data", "fetch", "ptb"])
    assert f"into {cache_dir()} (cache)" in capsys.readouterr().out
    monkeypatch.setenv("RNNALG_DATA", str(tmp_path / "mine"))
    main(["data", "fetch", "ptb"])
    assert f"into {tmp_path / 'mine'} (RNNALG_DATA)" in capsys.readouterr().out


def test_the_hashes_are_those_of_the_data_readme():
    readme = (shared_data("README.md") / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (ptb(?:_char)?/\S+) \| ([\d,]+) \| ([0-9a-f]{64}) \| ([0-9a-f]{32}) \|", readme, re.M)
    listed = {rel: fetch.FileSpec(rel, int(size.replace(",", "")), sha, md5) for rel, size, sha, md5 in rows}
    assert listed == {s.rel: s for s in (*fetch.PTB_WORDS.values(), *fetch.PTB_CHARS.values())}


def test_char_rule_on_a_small_text():
    assert fetch.char_text(" the cat <unk>\n a b \n") == "t h e _ c a t _ < u n k > \n a _ b \n "
