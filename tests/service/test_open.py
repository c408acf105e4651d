"""``latentrec serve --open``: the page opens in the browser once the service answers."""

from __future__ import annotations

import http.server
import shlex
import sys
import threading
import time
import webbrowser

import pytest

from latentrec.cli.serve import page_url


def serve_with_open(serve, model_files, tmp_path, env):
    """`latentrec serve --open` of the explicit model on a fresh store, with ``env``."""
    store = str(tmp_path / "ratings.db")
    return serve("--model", str(model_files["explicit"]), "--store", store, "--open", env=env)


def whole_line(path) -> bool:
    """Whether ``path`` exists and ends with a line's end."""
    return path.exists() and path.read_text().endswith("\n")


def test_open_starts_the_browser_on_the_page_once_it_answers(serve, model_files, tmp_path):
    opened = tmp_path / "opened.txt"
    # webbrowser runs $BROWSER with %s replaced by the URL: a recorder stands for a browser.
    recorder = f"import sys; open({str(opened)!r}, 'a').write(sys.argv[1] + chr(10))"
    browser = f"{shlex.quote(sys.executable)} -c {shlex.quote(recorder)} %s"
    server = serve_with_open(serve, model_files, tmp_path, {"BROWSER": browser})
    deadline = time.monotonic() + 30
    # The file exists a moment before its line is written (the recorder opens it, then
    # writes): wait for the whole line.
    while not whole_line(opened) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert opened.read_text().splitlines() == [server.url + "/"]
    assert "in a browser" not in (tmp_path / "serve.log").read_text()


def test_without_open_no_browser_starts(serve, model_files, tmp_path):
    opened = tmp_path / "opened.txt"
    recorder = f"import sys; open({str(opened)!r}, 'a').write(sys.argv[1])"
    browser = f"{shlex.quote(sys.executable)} -c {shlex.quote(recorder)} %s"
    serve(
        "--model",
        str(model_files["explicit"]),
        "--store",
        str(tmp_path / "ratings.db"),
        env={"BROWSER": browser},
    )
    time.sleep(1.0)  # the --open thread polls every 0.2 s; nothing may arrive
    assert not opened.exists()


@pytest.mark.parametrize(
    "host, url",
    [
        ("127.0.0.1", "http://127.0.0.1:80/"),
        ("0.0.0.0", "http://127.0.0.1:80/"),
        ("::", "http://[::1]:80/"),
        ("::1", "http://[::1]:80/"),
        ("example.org", "http://example.org:80/"),
    ],
)
def test_page_url(host, url):
    assert page_url(host, 80) == url


def test_open_without_a_browser_prints_the_address_instead(serve, model_files, tmp_path):
    """No browser can start: the only one named fails, and none of the standard ones is
    on an empty PATH (and no display): one line says where the page is."""
    empty = tmp_path / "bin"
    empty.mkdir()
    failing = f"{shlex.quote(sys.executable)} -c {shlex.quote('import sys; sys.exit(1)')} %s"
    env = {"BROWSER": failing, "PATH": str(empty), "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    server = serve_with_open(serve, model_files, tmp_path, env)
    log = tmp_path / "serve.log"
    expected = f"open {server.url}/ in a browser"
    deadline = time.monotonic() + 30
    while expected not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [line for line in log.read_text().splitlines() if "in a browser" in line] == [expected]


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_browser_that_raises_gets_the_address_printed(monkeypatch, capsys):
    from latentrec.cli.serve import open_when_ready

    def raising(url):
        raise webbrowser.Error("could not locate runnable browser")

    monkeypatch.setattr(webbrowser, "open", raising)
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health) as httpd:
        thread = threading.Thread(target=httpd.serve_forever)
        thread.start()
        try:
            url = page_url("127.0.0.1", httpd.server_address[1])
            open_when_ready(url, timeout=30).join(timeout=60)
        finally:
            httpd.shutdown()
            thread.join(timeout=30)
    assert capsys.readouterr().err.splitlines() == [f"open {url} in a browser"]
