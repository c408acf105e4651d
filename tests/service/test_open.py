"""``latentrec serve --open``: the page opens in the browser once the service answers."""

from __future__ import annotations

import shlex
import sys
import time

import pytest

from latentrec.cli.serve import page_url


def test_open_starts_the_browser_on_the_page_once_it_answers(serve, model_files, tmp_path):
    opened = tmp_path / "opened.txt"
    # webbrowser runs $BROWSER with %s replaced by the URL: a recorder stands for a browser.
    recorder = f"import sys; open({str(opened)!r}, 'a').write(sys.argv[1] + chr(10))"
    browser = f"{shlex.quote(sys.executable)} -c {shlex.quote(recorder)} %s"
    server = serve(
        "--model",
        str(model_files["explicit"]),
        "--store",
        str(tmp_path / "ratings.db"),
        "--open",
        env={"BROWSER": browser},
    )
    deadline = time.monotonic() + 30
    while not opened.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert opened.read_text().splitlines() == [server.url + "/"]


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
