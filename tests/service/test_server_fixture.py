"""The tests' ``Server`` talks to the serve it started, on the port that serve bound.

Before, it picked a free port, closed it and gave it to ``serve --port N``: another
process could take it in between, and the test then talked to that process (or saw its
serve fail to start).  Now serve binds port 0 and the port is read from its own line in
the log, which several servers of one test share.  The waits are hang bounds.
"""

from __future__ import annotations

import socket
import sys

import httpx
import pytest

from .conftest import Server


@pytest.mark.slow  # starts two real serves (seconds)
def test_each_server_on_a_shared_log_answers_on_its_own_port(model_files, tmp_path, monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        held = taken.getsockname()[1]
        # As when another process takes the picked port before serve binds it.
        monkeypatch.setattr(sys.modules[Server.__module__], "free_port", lambda: held)
        args = ["--model", str(model_files["explicit"])]
        first = Server([*args, "--store", str(tmp_path / "a.db")], tmp_path / "serve.log")
        try:
            first.wait_ready()
            second = Server([*args, "--store", str(tmp_path / "b.db")], tmp_path / "serve.log")
            try:
                second.wait_ready()
                assert len({first.port, second.port, held}) == 3
                # Each address reaches the serve started for it: its own store.
                rating = {"user_id": "u", "item_id": "100", "rating": 5}
                assert httpx.post(first.url + "/ratings", json=rating).status_code == 201
                assert httpx.get(second.url + "/users/u/ratings").json()["ratings"] == []
                assert len(httpx.get(first.url + "/users/u/ratings").json()["ratings"]) == 1
            finally:
                second.stop()
        finally:
            first.stop()
