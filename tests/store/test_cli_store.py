"""``latentrec store import`` and ``latentrec store info`` through click's runner."""

import pandas as pd
import pytest
from click.testing import CliRunner

from latentrec.cli import main
from latentrec.store import Rating, open_store


@pytest.fixture
def ratings_csv(tmp_path):
    path = tmp_path / "ratings.csv"
    pd.DataFrame(
        {
            "user": ["ann", "ann", "bob", "bob"],
            "item": [10, 20, 10, 20],
            "stars": [5, 3, 4, 4],
            "ts": [100, 200, 300, 400],
        }
    ).to_csv(path, index=False)
    return path


def invoke(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def test_import_then_info(store_url, ratings_csv):
    args = ["--user-col", "user", "--item-col", "item", "--rating-col", "stars"]
    result = invoke(
        "store", "import", ratings_csv, "--store", store_url, *args, "--timestamp-col", "ts"
    )
    assert result.exit_code == 0, result.output
    assert "imported 4 explicit ratings (2 users, 2 items)" in result.output
    with open_store(store_url) as store:
        assert [(r.item_id, r.value, r.timestamp) for r in store.user_ratings("bob")] == [
            ("10", 4.0, 300.0),
            ("20", 4.0, 400.0),
        ]
    # The store can come from the environment; events add to what is there.
    result = invoke(
        "store", "import", ratings_csv, *args, "--kind", "event", env={"LATENTREC_STORE": store_url}
    )
    assert result.exit_code == 0, result.output
    result = invoke("store", "info", "--store", store_url)
    assert result.exit_code == 0, result.output
    assert "ratings: 8 of 2 users" in result.output
    assert "write sequence: 2" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["store", "info", "--store", "mysql://a@b/c"], "unsupported store URL 'mysql://a@b/c'"),
        (["store", "import", "nope.csv", "--store", "x.db"], "no dataset named 'nope.csv'"),
        (["store", "info", "--store", "/no/such/folder/r.db"], "no folder /no/such/folder"),
    ],
)
def test_errors_are_one_line(args, message):
    result = invoke(*args)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and message in result.output
    assert result.output.count("\n") == 1


def test_implicit_data_is_stored_as_events(tmp_path, ratings_csv):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    args = ["--user-col", "user", "--item-col", "item", "--rating-col", "none"]
    result = invoke("store", "import", ratings_csv, "--store", url, *args)
    assert result.exit_code == 0, result.output
    assert "imported 4 event ratings" in result.output
    with open_store(url) as store:
        assert {r.kind for r in store.user_ratings("ann")} == {"event"}


def test_store_is_required():
    result = invoke("store", "info")
    assert result.exit_code == 2 and "Missing option '--store'" in result.output


def test_unreachable_server_is_one_line():
    result = invoke("store", "info", "--store", "postgresql://nobody@127.0.0.1:1/none")
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert (
        "cannot connect to the store postgresql+psycopg://nobody@127.0.0.1:1/none" in result.output
    )


def test_import_counts_rows_a_newer_stored_rating_supersedes(store_url, ratings_csv):
    args = ["--user-col", "user", "--item-col", "item", "--rating-col", "stars"]
    with open_store(store_url) as store:
        store.add_ratings([Rating("ann", "10", 1.0, timestamp=1000.0)])
    result = invoke(
        "store", "import", ratings_csv, "--store", store_url, *args, "--timestamp-col", "ts"
    )
    assert result.exit_code == 0, result.output
    assert "imported 3 explicit ratings (2 users, 2 items)" in result.output
    assert "superseded 1 explicit ratings: the store holds a newer rating" in result.output
    with open_store(store_url) as store:
        assert [(r.item_id, r.value) for r in store.user_ratings("ann")] == [
            ("10", 1.0),
            ("20", 3.0),
        ]
