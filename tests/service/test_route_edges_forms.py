"""Request forms a client may send, over real HTTP (``serve``'s own HTTP protocol), each
answered for what it is.

Before: a request line in absolute form (``GET http://host/health HTTP/1.1``, which a
server MUST accept, RFC 9112 3.2.2) was a 404 on every path, the whole URL taken for the
path; a gzip body was "not UTF-8 (byte 0x8b at offset 1)"; a JSON array or string as the
body was pydantic's "Input should be a valid dictionary or object to extract fields
from"; ``?=5`` was "query : this route takes no such parameter", naming nothing; and a
request the shutdown's drain cancelled was logged at error level with a traceback.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import socket
import threading
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from latentrec.service.app import create_app
from latentrec.service.holder import FixedSource
from latentrec.service.protocol import protocol_with_deadline
from latentrec.service.settings import Settings

from .conftest import free_port
from .serving import wait_for

RATING = {"user_id": "u", "item_id": "100", "rating": 4}


@contextmanager
def served_by_serve_protocol(app):
    """``app`` on a loopback port through the HTTP protocol ``latentrec serve`` uses."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=free_port(),
        log_level="warning",
        http=protocol_with_deadline(30.0),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, 30, "the server to start", every=0.02)
        yield config.port
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture
def port(store, explicit_model):
    app = create_app(
        Settings(allowed_hosts=("127.0.0.1",)),
        store=store,
        source=FixedSource(explicit_model, "v"),
    )
    with served_by_serve_protocol(app) as port:
        yield port


@pytest.fixture
def served(port):
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        yield client


def raw_request(port: int, head: str) -> tuple[int, bytes]:
    """Send ``head`` (a request line and headers, no body) as it is; the status and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode("latin-1") + b"Connection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def test_a_request_line_in_absolute_form_is_answered_for_its_path(port):
    status, body = raw_request(
        port, f"GET http://127.0.0.1:{port}/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    )
    assert status == 200, body
    assert b'"status":"ok"' in body
    status, body = raw_request(
        port, f"GET http://127.0.0.1:{port}/items?n=2 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    )
    assert status == 200, body
    assert b'"n":2' in body


def test_an_absolute_form_authority_is_what_the_host_check_judges(port):
    # RFC 9112 3.2.2: the target's authority replaces the Host header sent.
    status, body = raw_request(
        port, f"GET http://evil.example:{port}/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    )
    assert status == 421, body
    assert b"evil.example" in body
    status, body = raw_request(
        port, f"GET http://127.0.0.1:{port}/health HTTP/1.1\r\nHost: evil.example\r\n"
    )
    assert status == 200, body


def test_a_nameless_query_parameter_is_named_as_one(served):
    r = served.get("/items?=5")
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == (
        "query a query parameter with no name: this route takes no such parameter "
        "(it takes genre, n, offset, search)"
    )


@pytest.mark.parametrize(
    "body, kind",
    [(b"[1, 2]", "an array"), (b'"x"', "a string"), (b"4", "a number"), (b"null", "null")],
)
@pytest.mark.parametrize("path", ["/ratings", "/items", "/users/u/onboarding"])
def test_a_body_that_is_no_json_object_says_so(served, path, body, kind):
    r = served.post(path, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert (
        r.json()["detail"] == f"body: the body must be a JSON object ({{...}}); this one is {kind}"
    )


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate, gzip"])
def test_an_encoded_body_is_415_naming_the_encoding(served, store, encoding):
    body = gzip.compress(httpx.Request("POST", "/", json=RATING).content)
    headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
    for path in ("/ratings", "/admin/reload"):
        r = served.post(path, content=body, headers=headers)
        assert r.status_code == 415, r.text
        assert r.headers["accept-encoding"] == "identity"
        assert r.json()["detail"] == (
            f"the body is sent with Content-Encoding {encoding!r}; this service takes "
            "bodies unencoded (send them without Content-Encoding)"
        )
    assert store.counts()["ratings"] == 0


def test_an_identity_encoded_body_is_read(served, store):
    r = served.post("/ratings", json=RATING, headers={"Content-Encoding": "identity"})
    assert r.status_code == 201, r.text
    assert store.counts()["ratings"] == 1


def test_a_request_cancelled_at_shutdown_is_one_warning_line(store, explicit_model, caplog):
    """What uvicorn's drain does to a request still waiting for its body when the limit
    runs out: cancel its task."""
    app = create_app(Settings(), store=store, source=FixedSource(explicit_model, "v"))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/ratings",
        "raw_path": b"/ratings",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = []

    async def run():
        asked = asyncio.Event()

        async def receive():
            asked.set()
            await asyncio.Event().wait()  # the rest of the body never comes

        async def send(message):
            sent.append(message)

        task = asyncio.ensure_future(app(scope, receive, send))
        await asyncio.wait_for(asked.wait(), 10)
        task.cancel()
        await task  # ended, not raised

    with caplog.at_level(logging.INFO):
        asyncio.run(run())
    service = [r for r in caplog.records if r.name.startswith("latentrec.service")]
    assert [(r.levelname, r.getMessage(), r.exc_info) for r in service] == [
        ("WARNING", "POST /ratings cancelled at shutdown", None)
    ]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert sent[0]["status"] == 503
