"""An app whose store was closed under it (embedding code closing it early, a shutdown
racing a request) answers 503 "unavailable", logged as the store's failure; it blamed
the client with 422 "the store ... is closed" before, the message of a refused value."""

from __future__ import annotations

import pytest

from latentrec.store import StoreUnavailableError, open_store


@pytest.mark.parametrize("path", ["/users/1/recommendations", "/users/1/ratings"])
def test_a_request_over_a_closed_store_is_503(store, make_client, explicit_model, path):
    client = make_client(explicit_model)
    assert client.get(path).status_code == 200
    store.close()
    answer = client.get(path)
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "5"
    assert "unavailable" in answer.json()["detail"]


def test_every_read_of_a_closed_sqlite_store_says_it_is_unavailable(tmp_path):
    store = open_store(tmp_path / "r.db")
    watch = store.watch()
    store.close()
    for read in (store.sequence, lambda: store.user_ratings("ann"), watch.token):
        with pytest.raises(StoreUnavailableError, match="is closed"):
            read()
