"""A local HTTP server on 127.0.0.1 that serves PTB word files well and badly, for fetch tests.

    /good/ptb.{split}.txt       the file
    /corrupt/...                the same size, one byte changed
    /truncated/...              the right Content-Length, half the body, then the connection closes
    /hang/...                   headers and 1,000 bytes, then nothing until `release` is set (or 30 s)
    /drip/...                   the file one byte every 20 ms (50 bytes/s) until `release` is set
    /driphead/...               the status line and headers one byte every 20 ms, then the file
    /missing/...                404

`requests` records every path asked for, so a test can tell that nothing was downloaded.
"""
from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SPLITS = ("train", "valid", "test")


class _Server(ThreadingHTTPServer):
    """A client that gives up on a dripping behaviour closes its socket mid-write: expected, so
    not printed (the server thread's traceback would land in a later test's captured stderr)."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the http.server name)
        server = self.server
        server.requests.append(self.path)
        kind, _, name = self.path.strip("/").partition("/")
        body = server.files.get(name)
        if body is None or kind not in BEHAVIOURS:
            self.send_error(404)
            return
        BEHAVIOURS[kind](self, body)

    def log_message(self, *args):
        pass

    def head(self, length: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(length))
        self.end_headers()


def _good(h, body):
    h.head(len(body))
    h.wfile.write(body)


def _corrupt(h, body):
    k = len(body) // 2
    _good(h, body[:k] + bytes([body[k] ^ 1]) + body[k + 1:])


def _truncated(h, body):
    h.head(len(body))
    h.wfile.write(body[: len(body) // 2])
    h.close_connection = True


def _hang(h, body):
    h.head(len(body))
    h.wfile.write(body[:1000])
    h.wfile.flush()
    h.server.release.wait(30)


def _drip(h, body):
    h.head(len(body))
    for k in range(len(body)):
        if h.server.release.wait(0.02):
            return
        h.wfile.write(body[k:k + 1])
        h.wfile.flush()


def _driphead(h, body):
    head = (f"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
            + "".join(f"X-Padding-{k}: {'x' * 40}\r\n" for k in range(20)) + "\r\n").encode()
    for k in range(len(head)):
        if h.server.release.wait(0.02):
            return
        h.wfile.write(head[k:k + 1])
        h.wfile.flush()
    h.wfile.write(body)
    h.close_connection = True


BEHAVIOURS = {"drip": _drip, "driphead": _driphead, "good": _good, "corrupt": _corrupt, "truncated": _truncated, "hang": _hang}


class PtbServer:
    """Context manager: `url(kind)` is the source URL of one behaviour."""

    def __init__(self, ptb_dir: Path):
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.files = {f"ptb.{s}.txt": (Path(ptb_dir) / f"ptb.{s}.txt").read_bytes() for s in SPLITS}
        self.httpd.requests = []
        self.httpd.release = threading.Event()
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def requests(self) -> list[str]:
        return self.httpd.requests

    def url(self, kind: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{kind}/"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
