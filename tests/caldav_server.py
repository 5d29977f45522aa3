"""A real CalDAV server for the tests: Radicale (the test extra), started on a free loopback
port with its storage in a temporary folder and plain htpasswd users, plus small stand-ins
for servers that misbehave (one that never answers, one that answers garbage).

``radicale`` (tests/conftest.py) starts one per test process, for the whole session.
"""

import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import caldav

USERS = {"coach": "coach-app-password", "other": "other-app-password"}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Radicale:
    url: str
    process: subprocess.Popen

    def client(self, user="coach"):
        return caldav.DAVClient(url=self.url, username=user, password=USERS[user], timeout=5)

    def new_calendar(self, name, user="coach"):
        """A fresh calendar of ``user`` (a new id each time: tests never share one)."""
        principal = self.client(user).principal()
        return principal.make_calendar(name=name, cal_id=f"{name.lower()}-{uuid.uuid4().hex}")

    def home(self, user="coach"):
        return f"{self.url}{user}/"


def start_radicale(folder: Path):
    port = free_port()
    (folder / "users").write_text("".join(f"{u}:{p}\n" for u, p in USERS.items()))
    (folder / "config").write_text(
        "[server]\n"
        f"hosts = 127.0.0.1:{port}\n"
        "[auth]\n"
        "type = htpasswd\n"
        f"htpasswd_filename = {folder / 'users'}\n"
        "htpasswd_encryption = plain\n"
        # No pause after a refused password (1 s by default): the tests refuse some.
        "delay = 0\n"
        "[rights]\n"
        "type = owner_only\n"
        "[storage]\n"
        f"filesystem_folder = {folder / 'collections'}\n"
        "[logging]\n"
        "level = error\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(folder / "config")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Radicale did not start: {process.stderr.read().decode()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    else:
        process.kill()
        raise RuntimeError("Radicale did not open its port in time.")
    return Radicale(url=f"http://127.0.0.1:{port}/", process=process)


@contextmanager
def silent_server():
    """A server that accepts connections and never answers: ``(url, stop)``."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _addr = listener.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/dav/"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


class _Garbage(BaseHTTPRequestHandler):
    def _answer(self):
        body = b"<html><body>Welcome to our shop!</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PROPFIND = do_REPORT = do_PUT = do_OPTIONS = _answer

    def log_message(self, *args):
        pass


@contextmanager
def garbage_server():
    """A web server that answers every request with an ordinary HTML page."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Garbage)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
