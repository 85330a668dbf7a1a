"""An HTTP proxy in front of one real OpenStack service, which can lose answers on demand.

A real cloud cannot be told to lose the answer to a create: this proxy forwards every request to the real
service and passes its real answer back, except where a fault is set. `lose_answer` forwards the request (the
service really acts on it) and then never answers, which is what a client sees when a response is lost on
the network. The gateway reaches Nova through it because a second proxy, in front of Keystone, rewrites the
catalog of the tokens it passes back (`rewrite`): the gateway then talks to the real Keystone and the real
Nova, only through these proxies.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

# Not forwarded in either direction (RFC 9110 section 7.6.1), plus what the proxy recomputes.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-encoding",  # requests decodes the body; the proxy sends it decoded
    "host",
}


@dataclass
class Forwarded:
    """A request the proxy received, recorded at once: the client may give up before the service answers."""

    method: str
    path: str
    status: int | None = None  # the real service's answer, once it came
    answered: bool = False  # whether the proxy passed it on


class FaultProxy(ThreadingHTTPServer):
    """Listens on 127.0.0.1 (a free port), forwards to `upstream`; `url` is where to send requests."""

    daemon_threads = True

    def __init__(self, upstream: str, rewrite: dict[str, str] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream.rstrip("/")
        self.url = f"http://127.0.0.1:{self.server_port}"
        self.rewrite = {self.upstream: self.url, **(rewrite or {})}
        self.http = requests.Session()
        self.http.trust_env = False  # never an HTTP proxy from the environment
        self.lock = threading.Lock()
        self.forwarded: list[Forwarded] = []
        self._lose: list[tuple[str, re.Pattern[str]]] = []
        self._released = threading.Event()  # lets the threads holding lost answers finish
        self._thread = threading.Thread(target=self.serve_forever, name=f"faultproxy-{self.server_port}", daemon=True)
        self._thread.start()

    def lose_answer(self, method: str, path: str) -> None:
        """Forward matching requests (regex on the path), then hold their connection without answering."""
        with self.lock:
            self._lose.append((method, re.compile(path)))

    def heal(self) -> None:
        """Answer everything again from now on."""
        with self.lock:
            self._lose.clear()

    def losing(self, method: str, path: str) -> bool:
        with self.lock:
            return any(m == method and p.search(path) for m, p in self._lose)

    def record(self, entry: Forwarded) -> None:
        with self.lock:
            self.forwarded.append(entry)

    def requests_to(self, method: str, path: str) -> list[Forwarded]:
        with self.lock:
            return [f for f in self.forwarded if f.method == method and re.search(path, f.path)]

    def service_answer(self, entry: Forwarded, timeout: float = 120) -> int | None:
        """The service's status for ``entry``, waiting for it up to ``timeout`` (a cold Nova takes its time)."""
        deadline = time.monotonic() + timeout
        while entry.status is None and time.monotonic() < deadline:
            time.sleep(0.1)
        return entry.status

    def close(self) -> None:
        self._released.set()
        self.shutdown()
        self.server_close()
        self.http.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the services themselves
    server: FaultProxy

    def log_message(self, *args: object) -> None:  # the services' own access logs say it all
        pass

    def _forward(self) -> None:
        proxy = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        # Recorded before anything else: the client may act on an answer, or give up waiting for one,
        # before this thread runs again (and a test then look at the records).
        entry = Forwarded(self.command, self.path)
        proxy.record(entry)
        resp = proxy.http.request(
            self.command, proxy.upstream + self.path, headers=headers, data=body, timeout=120, allow_redirects=False
        )
        entry.status = resp.status_code
        if proxy.losing(self.command, self.path):
            # The service acted on the request; its answer never reaches the client, who times out and
            # closes the connection. Hold it until the proxy closes, then drop it without a word.
            proxy._released.wait()
            self.close_connection = True
            return
        entry.answered = True
        content = resp.content
        for old, new in proxy.rewrite.items():
            content = content.replace(old.encode(), new.encode())
        self.send_response(resp.status_code)
        for name, value in resp.headers.items():
            if name.lower() not in HOP_BY_HOP:
                for old, new in proxy.rewrite.items():
                    value = value.replace(old, new)
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward
