"""An outsider against a real ``latentrec serve`` on 127.0.0.1: client-chosen methods in
the metrics, the browser headers, slow clients (headers and bodies that never arrive
whole) and the token kept out of the log and the answers.

One server per module (``--request-timeout 2`` so that the slow-client checks take
seconds, ``--token`` for the log checks), driven with httpx and raw sockets.
"""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from latentrec.service.settings import Settings
from service.conftest import Server

TOKEN = "tok-Zq8vW3nR5-never-logged"
TIMEOUT_S = 2.0
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def server(model_files, tmp_path_factory):
    folder = tmp_path_factory.mktemp("secure")
    args = [
        "--model",
        str(model_files["explicit"]),
        "--store",
        str(folder / "ratings.sqlite"),
        "--token",
        TOKEN,
        "--request-timeout",
        str(TIMEOUT_S),
        # Given with a port, as a user writes the address they open.
        "--allowed-host",
        "Rec.Example.org:8080",
        "--allowed-host",
        "[fd00::5]:8443",
    ]
    started = Server(args, folder / "serve.log")
    try:
        started.wait_ready()
        started.log_path = folder / "serve.log"
        yield started
    finally:
        started.stop()


def raw(server, payload: bytes, wait: float) -> tuple[bytes, float]:
    """Send ``payload`` on a fresh connection and read until the server closes it (or
    ``wait`` seconds pass): what came back, and after how many seconds."""
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.settimeout(wait)
        sock.sendall(payload)
        start = time.monotonic()
        got = b""
        try:
            while chunk := sock.recv(4096):
                got += chunk
        except TimeoutError:
            return got + b"<still open>", time.monotonic() - start
        return got, time.monotonic() - start


# Far above the moment between an answer and its access log line, on a loaded machine.
LOG_LINE_BOUND_SECONDS = 60


def wait_for_access_lines(server, since: int, count: int) -> None:
    """Until the server's log holds ``count`` access log lines after byte ``since``."""
    deadline = time.monotonic() + LOG_LINE_BOUND_SECONDS
    while True:
        with open(server.log_path, "rb") as log:
            log.seek(since)
            lines = [x for x in log.read().splitlines() if b'"route": ' in x]
        if len(lines) >= count:
            return
        assert time.monotonic() < deadline, f"{len(lines)} of {count} access log lines"
        time.sleep(0.05)


# ---------------------------------------------------------------------- metrics
def test_client_chosen_methods_cannot_add_metrics_labels(server):
    """The HTTP parser takes any token as a method: each used to become a label value."""
    for k in range(5):
        assert httpx.request(f"BREW{k}", server.url + "/health").status_code == 405
    text = httpx.get(server.url + "/metrics").text
    assert "BREW" not in text
    other = [
        x
        for x in text.splitlines()
        if x.startswith('latentrec_http_requests_total{method="other",route="/health"')
    ]
    assert other == [
        'latentrec_http_requests_total{method="other",route="/health",status="405"} 5.0'
    ]


def test_unknown_paths_and_user_ids_cannot_add_metrics_labels(server):
    for k in range(5):
        httpx.get(f"{server.url}/no/such/path/{k}")
        httpx.get(f"{server.url}/users/visitor-{k}/recommendations")
    text = httpx.get(server.url + "/metrics").text
    assert "visitor-" not in text and "/no/such" not in text
    assert 'route="unmatched",status="404"' in text
    assert 'route="/users/{user_id}/recommendations",status="200"' in text


# ---------------------------------------------------------------------- browser headers
def test_every_answer_forbids_sniffing_and_the_page_allows_only_its_own_script(server):
    answers = {
        "page": httpx.get(server.url + "/"),
        "script": httpx.get(server.url + "/static/app.js"),
        "json": httpx.get(server.url + "/health"),
        "404": httpx.get(server.url + "/static/../../etc/passwd"),
        "422": httpx.get(server.url + "/items", params={"n": 0}),
        "401": httpx.post(server.url + "/admin/reload"),
        "413": httpx.post(server.url + "/ratings", content=b"x" * 2_000_000, headers={**AUTH}),
    }
    for name, r in answers.items():
        assert r.headers.get("x-content-type-options") == "nosniff", name
        assert r.headers.get("x-frame-options") == "DENY", name
    assert answers["page"].headers["content-type"].startswith("text/html")
    assert answers["json"].headers["content-type"] == "application/json"
    policy = answers["page"].headers["content-security-policy"]
    for rule in ("script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"):
        assert rule in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    # The API's page loads only the service's own files: it takes the same policy.
    docs = httpx.get(server.url + "/docs")
    assert docs.status_code == 200
    assert docs.headers["content-security-policy"] == policy


def test_the_page_loads_nothing_inline_that_its_policy_would_block(server):
    page = httpx.get(server.url + "/").text
    assert "<script>" not in page and " style=" not in page and "onclick" not in page.lower()


# ---------------------------------------------------------------------- slow clients
def test_a_connection_that_sends_nothing_is_closed_after_the_timeout(server):
    got, after = raw(server, b"", wait=TIMEOUT_S + 8)
    assert got == b"" and TIMEOUT_S - 0.5 < after < TIMEOUT_S + 6


def test_headers_that_never_finish_close_the_connection(server):
    partial = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
    got, after = raw(server, partial, wait=TIMEOUT_S + 8)
    assert got == b"" and after < TIMEOUT_S + 6


def test_a_body_that_never_arrives_whole_is_408_and_nothing_is_stored(server):
    head = (
        b"POST /ratings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {TOKEN}\r\n".encode()
        + b"Content-Length: 200\r\n\r\n"
    )
    got, after = raw(server, head + b'{"user_id": "slowpoke"', wait=TIMEOUT_S + 8)
    assert got.startswith(b"HTTP/1.1 408"), got[:80]
    assert b"did not arrive whole within 2 seconds" in got
    assert after < TIMEOUT_S + 6
    assert httpx.get(server.url + "/users/slowpoke/ratings").json()["ratings"] == []


def test_a_request_sent_in_pieces_within_the_timeout_is_answered(server):
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.settimeout(10)
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        time.sleep(0.3)
        sock.sendall(b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n")
        got = b""
        while chunk := sock.recv(4096):
            got += chunk
    assert got.startswith(b"HTTP/1.1 200")


def test_a_kept_alive_connection_gets_a_new_deadline_for_each_request(server):
    with httpx.Client(base_url=server.url) as http:
        for _ in range(3):
            assert http.get("/health").status_code == 200
            time.sleep(0.2)


# ---------------------------------------------------------------------- the token
def test_the_token_is_never_logged_nor_answered(server):
    """Right, wrong and query-string tokens: none of them reaches the log, an answer or
    the metrics; a token in the query string is refused, not taken."""
    rating = {"user_id": "tok", "item_id": "100", "rating": 4}
    since = server.log_path.stat().st_size
    bodies = [
        httpx.post(server.url + "/ratings", json=rating, headers=AUTH),
        httpx.post(server.url + "/ratings", json=rating, headers={"Authorization": TOKEN}),
        httpx.post(
            server.url + "/ratings",
            json=rating,
            headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"},
        ),
        httpx.post(server.url + "/admin/reload", params={"token": TOKEN}),
        httpx.post(server.url + "/admin/reload", params={"access_token": TOKEN}, headers=AUTH),
        httpx.get(server.url + "/", params={"token": TOKEN}),
        httpx.get(server.url + "/metrics"),
        httpx.get(server.url + "/health"),
    ]
    # A token only in the query is no token: 401, before the query is looked at; with
    # the header, the query parameter the route does not take is a 422.
    assert [r.status_code for r in bodies[:5]] == [201, 401, 401, 401, 422]
    for r in bodies:
        assert TOKEN[:12] not in r.text and TOKEN[:12] not in str(r.headers)
    # A request's line is written once its answer has gone out: wait for all eight.
    wait_for_access_lines(server, since, len(bodies))
    log = server.log_path.read_text(errors="replace")
    assert '"route": "/ratings"' in log
    assert TOKEN[:12] not in log


def test_request_timeout_setting_is_checked():
    for bad in (0, -1, float("nan"), float("inf"), True, "30"):
        with pytest.raises(ValueError, match="request_timeout"):
            Settings(model_path="m.npz", request_timeout=bad).check()
    assert Settings(model_path="m.npz", request_timeout=0.5).check().request_timeout == 0.5


# ---------------------------------------------------------------------- DNS rebinding
def test_a_loopback_service_answers_only_to_loopback_host_names(server):
    """A page on another site that re-points its own name at 127.0.0.1 (DNS rebinding)
    reaches the service with its name in Host: refused, nothing written."""
    port = server.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "LOCALHOST"):
        assert httpx.get(server.url + "/health", headers={"Host": host}).status_code == 200
    rating = {"user_id": "rebound", "item_id": "100", "rating": 5}
    for host in (f"evil.example:{port}", "127.0.0.1.evil.example", "localhost.", ""):
        r = httpx.post(server.url + "/ratings", json=rating, headers={**AUTH, "Host": host})
        assert r.status_code == 421, (host, r.text)
        assert "--allowed-host" in r.json()["detail"]
        assert (
            httpx.get(
                server.url + "/users/rebound/recommendations", headers={"Host": host}
            ).status_code
            == 421
        )
    assert httpx.get(server.url + "/users/rebound/ratings").json()["ratings"] == []


def test_an_allowed_host_given_with_a_port_matches_the_host_header(server):
    """``--allowed-host NAME:PORT`` was kept whole while the Host header lost its port, so
    it never matched: every request to that name was a 421 listing the very name."""
    for host in ("rec.example.org:8080", "rec.example.org", "REC.example.ORG:9", "[fd00::5]:1"):
        r = httpx.get(server.url + "/health", headers={"Host": host})
        assert r.status_code == 200, (host, r.text)
    r = httpx.get(server.url + "/health", headers={"Host": "other.example.org:8080"})
    assert r.status_code == 421
    assert (
        "(it answers to 127.0.0.1, ::1, fd00::5, localhost, rec.example.org;"
        in (r.json()["detail"])
    )


def test_the_host_checks_421_carries_the_browser_headers(server):
    """docs/service.md: every answer carries them; the 421 answered outside them."""
    r = httpx.get(server.url + "/", headers={"Host": "evil.example"})
    assert r.status_code == 421
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


@pytest.mark.parametrize(
    "name", ["a b", "x.com:http", "[fd00::5", "x.com:80:80", "[x.com]:80", "http://x.com"]
)
def test_an_allowed_host_that_is_no_name_is_refused(name):
    with pytest.raises(ValueError, match="allowed host"):
        Settings(model_path="m.npz", allowed_hosts=(name,)).check()
    for good in ("x.com", "x.com:8080", "::1", "[::1]:8000", "10.0.0.5:80"):
        Settings(model_path="m.npz", allowed_hosts=(good,)).check()


@pytest.mark.parametrize(
    "token", ["pässwort-123", "two words here", "tab\tin-token", "ünïcödé-tökën"]
)
def test_a_token_no_client_could_send_is_refused_at_start(token):
    """The server reads a header's bytes as Latin-1 and compares UTF-8: a token beyond
    ASCII never matched, and every write answered 401."""
    with pytest.raises(ValueError, match="printable ASCII"):
        Settings(model_path="m.npz", token=token).check()
    assert Settings(model_path="m.npz", token="A-z0~9!#$%&'*+/=?^_`{|}").check().token
