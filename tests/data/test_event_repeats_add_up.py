"""Repeated rows of events (no rating column) add up by default, as the ratings store adds
them: three rows of one play are three plays.  Before, every reader and ``latentrec data
convert`` kept the last row (a weight of 1), while ``latentrec store import`` of the same
file added them, so one file gave two different tables.  Ratings keep the latest, and
``duplicates`` / ``--duplicates`` still choose."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from latentrec import Interactions
from latentrec.cli import main


def random_events(seed: int, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    # Few users and items, so most pairs repeat, some many times.
    return pd.DataFrame(
        {"user_id": rng.integers(0, 7, n), "item_id": rng.choice(["a", "b", "c", "d"], n)}
    )


def cells(data: Interactions) -> dict:
    frame = data.to_frame()
    return {(u, i): r for u, i, r in frame[["user_id", "item_id", "rating"]].itertuples(False)}


def reference_counts(events: pd.DataFrame) -> dict:
    """The slow obvious answer: how many rows each (user, item) pair has."""
    return dict(Counter(zip(events["user_id"], events["item_id"], strict=True)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_reader_adds_up_repeated_events(tmp_path, seed):
    events = random_events(seed)
    expected = reference_counts(events)
    path = tmp_path / "plays.csv"
    events.to_csv(path, index=False)
    parquet = tmp_path / "plays.parquet"
    events.to_parquet(parquet)
    users, items = events["user_id"].to_numpy(), events["item_id"].to_numpy()
    reads = {
        "read csv": Interactions.read(path, rating=None),
        "from_csv": Interactions.from_csv(path, rating=None),
        "read parquet": Interactions.read(parquet, rating=None),
        "from_frame": Interactions.from_frame(events, rating=None),
        "from_arrays": Interactions.from_arrays(users, items),
    }
    for how, data in reads.items():
        assert data.implicit, how
        assert cells(data) == expected, how
        report = data.load_report
        assert report.duplicates == "sum" and report.merged == len(events) - len(expected), how


def test_a_policy_given_is_honoured_for_events(tmp_path):
    events = random_events(3)
    path = tmp_path / "plays.csv"
    events.to_csv(path, index=False)
    pairs = reference_counts(events)
    for policy in ("last", "mean"):
        data = Interactions.read(path, rating=None, duplicates=policy)
        assert cells(data) == dict.fromkeys(pairs, 1.0), policy
        assert data.load_report.duplicates == policy
    with pytest.raises(Exception, match="repeated"):
        Interactions.read(path, rating=None, duplicates="error")
    # Ones marked explicit (implicit=False) are ratings of 1: the latest is kept.
    data = Interactions.from_frame(events, rating=None, implicit=False)
    assert cells(data) == dict.fromkeys(pairs, 1.0)


def test_ratings_keep_the_latest_by_default(tmp_path):
    path = tmp_path / "stars.csv"
    path.write_text("user_id,item_id,rating\n1,a,2\n1,a,5\n2,a,3\n")
    data = Interactions.read(path)
    assert cells(data) == {(1, "a"): 5.0, (2, "a"): 3.0}
    assert data.load_report.duplicates == "last"


def convert(*args):
    return CliRunner().invoke(main, ["data", "convert", *map(str, args)])


@pytest.mark.parametrize("seed", [4, 5])
def test_data_convert_adds_up_events_and_says_so(tmp_path, seed):
    events = random_events(seed, n=60)
    expected = reference_counts(events)
    path = tmp_path / "plays.csv"
    events.to_csv(path, index=False)
    out = convert(path, "--rating-col", "none", "-o", tmp_path / "plays.lrdata")
    assert out.exit_code == 0, out.output
    merged = len(events) - len(expected)
    said = [line for line in out.stdout.splitlines() if "merged" in line]
    assert said == [
        f"{path}: read {len(events)} rows, loaded {len(expected)}, merged {merged} "
        f"duplicate{'s' if merged != 1 else ''} (duplicates='sum'), rejected 0"
    ], out.output
    converted = Interactions.read(tmp_path / "plays.lrdata")
    assert converted.implicit and cells(converted) == expected

    out = convert(
        path, "--rating-col", "none", "--duplicates", "last", "-o", tmp_path / "last.lrdata"
    )
    assert out.exit_code == 0, out.output
    assert "(duplicates='last')" in out.stdout
    assert cells(Interactions.read(tmp_path / "last.lrdata")) == dict.fromkeys(expected, 1.0)


def test_data_convert_keeps_the_latest_rating(tmp_path):
    path = tmp_path / "stars.csv"
    path.write_text("user_id,item_id,rating\n1,a,2\n1,a,5\n2,a,3\n")
    out = convert(path, "-o", tmp_path / "stars.lrdata")
    assert out.exit_code == 0, out.output
    assert "merged 1 duplicate (duplicates='last')" in out.stdout
    assert cells(Interactions.read(tmp_path / "stars.lrdata")) == {(1, "a"): 5.0, (2, "a"): 3.0}
