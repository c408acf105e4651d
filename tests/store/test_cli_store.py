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


def stored(url, user="u1"):
    with open_store(url) as store:
        return {(r.item_id, r.kind): r.value for r in store.user_ratings(user)}


def test_repeated_events_in_one_file_add_up_as_repeated_imports_and_posts_do(tmp_path):
    """Three rows of one play were stored as 1.0 ("merged 2 duplicates
    (duplicates='last')"), where importing a one-row file three times stores 3.0."""
    plays = tmp_path / "plays.csv"
    plays.write_text("user_id,item_id\nu1,1\nu1,1\nu1,1\nu1,2\n")
    once = tmp_path / "one.csv"
    once.write_text("user_id,item_id\nu1,1\n")
    url = f"sqlite:///{tmp_path / 'p.db'}"
    result = invoke("store", "import", plays, "--store", url, "--rating-col", "none")
    assert result.exit_code == 0, result.output
    assert "merged 2 duplicates (duplicates='sum')" in result.stderr
    three_times = f"sqlite:///{tmp_path / 'three.db'}"
    for _ in range(3):
        again = invoke("store", "import", once, "--store", three_times, "--rating-col", "none")
        assert again.exit_code == 0, again.output
    assert stored(url) == {("1", "event"): 3.0, ("2", "event"): 1.0}
    assert stored(three_times) == {("1", "event"): 3.0}


def test_event_weights_from_a_column_add_up_and_explicit_ratings_keep_the_last(tmp_path):
    weights = tmp_path / "w.csv"
    weights.write_text("user_id,item_id,rating\nu1,1,2\nu1,1,3\n")
    events, explicit = (f"sqlite:///{tmp_path / name}" for name in ("e.db", "x.db"))
    result = invoke("store", "import", weights, "--store", events, "--kind", "event")
    assert result.exit_code == 0, result.output
    assert stored(events) == {("1", "event"): 5.0}
    result = invoke("store", "import", weights, "--store", explicit)
    assert result.exit_code == 0, result.output
    assert "(duplicates='last')" in result.stderr
    assert stored(explicit) == {("1", "explicit"): 3.0}


@pytest.mark.parametrize(
    "extra, value",
    [
        (["--duplicates", "last"], 1.0),
        (["--duplicates", "mean"], 1.0),
        (["--duplicates", "sum"], 3.0),
    ],
)
def test_a_given_duplicates_policy_is_honoured_for_events(tmp_path, extra, value):
    plays = tmp_path / "plays.csv"
    plays.write_text("user_id,item_id\nu1,1\nu1,1\nu1,1\n")
    url = f"sqlite:///{tmp_path / 'p.db'}"
    result = invoke("store", "import", plays, "--store", url, "--rating-col", "none", *extra)
    assert result.exit_code == 0, result.output
    assert f"(duplicates='{extra[1]}')" in result.stderr
    assert stored(url) == {("1", "event"): value}
    refused = invoke(
        "store", "import", plays, "--store", url, "--rating-col", "none", "--duplicates", "error"
    )
    assert refused.exit_code == 1 and refused.output.startswith("Error: ")


def test_the_help_says_that_events_add_up():
    text = " ".join(invoke("store", "import", "--help").output.split())
    assert "a file's repeated user and item pairs are added up too" in text


@pytest.mark.parametrize("kind", [["--kind", "event"], ["--rating-col", "none"]])
def test_a_rating_scale_is_refused_for_events(tmp_path, kind):
    """With --rating-scale an event import kept a file's last repeat (3.0) and added up
    across imports (6.0 the second time), leaving the scale it was read on: events are
    weights that add up, a scale bounds stars.  It is refused in one line saying why."""
    weights = tmp_path / "w.csv"
    weights.write_text("user_id,item_id,rating\n1,10,2\n1,10,3\n")
    url = f"sqlite:///{tmp_path / 'e.db'}"
    result = invoke("store", "import", weights, "--store", url, *kind, "--rating-scale", 1, 5)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: --rating-scale applies to "), lines
    assert "Traceback" not in result.output
    assert not (tmp_path / "e.db").exists() or stored(url, "1") == {}
    # Without the scale the events add up, within the file and across imports.
    for total in (5.0, 10.0):
        assert invoke("store", "import", weights, "--store", url, "--kind", "event").exit_code == 0
        assert stored(url, "1") == {("10", "event"): total}


def test_explicit_ratings_keep_their_scale_on_import(tmp_path):
    weights = tmp_path / "w.csv"
    weights.write_text("user_id,item_id,rating\n1,10,2\n1,10,3\n")
    url = f"sqlite:///{tmp_path / 'x.db'}"
    for _ in range(2):
        result = invoke("store", "import", weights, "--store", url, "--rating-scale", 1, 5)
        assert result.exit_code == 0, result.output
    assert stored(url, "1") == {("10", "explicit"): 3.0}


def test_the_help_says_a_scale_is_refused_with_events():
    text = " ".join(invoke("store", "import", "--help").output.split())
    assert "--rating-scale bounds stars, so it is refused with events" in text
