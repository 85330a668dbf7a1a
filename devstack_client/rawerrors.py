"""The errors gunicorn answers itself, in the gateway's JSON shape.

A request gunicorn cannot parse (a malformed request line or header, an invalid
``Content-Length``, a URL over ``limit_request_line``, too many headers) never
reaches Flask: gunicorn answers it from ``gunicorn.util.write_error``, as an HTML
page. Every error of ours is JSON with a ``code`` and a ``message``, so the
server replaces that one function in the master, before any worker forks (the
real-cloud fuzz found it: ``Content-Length: #`` got an HTML 400).
"""

from __future__ import annotations

import json
import socket

from gunicorn import util

CODES = {
    400: "bad_request",
    403: "forbidden",
    414: "uri_too_long",
    417: "expectation_failed",
    431: "headers_too_large",
    500: "internal_error",
    501: "not_supported",
}


def error_body(status: int, mesg: str) -> bytes:
    if status >= 500 and status != 501:
        message = "The gateway failed unexpectedly; the error is logged."
    else:
        # gunicorn's text names the part it could not read (e.g. "Invalid HTTP Header: 'CONTENT-LENGTH'")
        message = f"The HTTP request could not be read: {mesg}." if mesg else "The HTTP request could not be read."
    return json.dumps({"code": CODES.get(status, "bad_request"), "message": message}).encode()


def write_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    body = error_body(status_int, mesg)
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


def install() -> None:
    util.write_error = write_error
