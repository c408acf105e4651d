"""A comparison on too few held-out ratings publishes nothing: fewer than ``min_holdout``
(100 by default) held-out ratings, or users for a ranking metric, keep the current
version, say so with the count, and fit no candidate; ``models list`` shows what each
version was scored on."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from latentrec.cli import main
from latentrec.models import Biases, ImplicitALS
from latentrec.service.retrain import MIN_HOLDOUT, retrain_on
from latentrec.service.versions import ModelDirectory

from .retrain_helpers import as_data, timed_frame

N = 3000  # ratings in the frame; arrival times 0..N-1, the holdout the last 10%


@pytest.fixture(scope="module")
def frame():
    return timed_frame(n_ratings=N)


def current_without_last(frame, k, folder, model, implicit=False):
    """A model directory whose current version learned every rating but the last ``k``."""
    md = ModelDirectory(folder)
    md.publish(model.fit(as_data(frame[frame["t"] < N - k], implicit=implicit)))
    return md


def test_the_default_minimum_is_100():
    assert MIN_HOLDOUT == 100


@pytest.mark.parametrize("k, compared", [(3, False), (99, False), (100, True), (250, True)])
def test_fewer_held_out_ratings_than_the_minimum_keep_the_current_version(
    frame, tmp_path, k, compared
):
    md = current_without_last(frame, k, tmp_path / "md", Biases())
    result = retrain_on(as_data(frame), md, tolerance=10.0)  # any figure passes the gate
    assert result.n_holdout == k
    assert result.published is compared
    if compared:
        assert result.candidate_metrics["n"] == k and result.current_metrics["n"] == k
        assert md.current().name == "v000002"
        assert md.current().metrics["min_holdout"] == 100
    else:
        assert result.candidate_metrics == {} and result.current_metrics == {}  # no fit
        assert result.reason == (
            f"only {k} held-out ratings to compare on, fewer than the minimum of 100: too "
            "few to trust the comparison, so v000001 stays current (hold out a larger "
            "share, wait for more ratings, or lower the minimum: --min-holdout)"
        )
        assert [v.name for v in md.versions()] == ["v000001"]


def test_a_lower_minimum_lets_a_small_comparison_decide(frame, tmp_path):
    md = current_without_last(frame, 3, tmp_path / "md", Biases())
    result = retrain_on(as_data(frame), md, tolerance=10.0, min_holdout=3)
    assert result.published and result.candidate_metrics["n"] == 3
    assert md.current().metrics["min_holdout"] == 3


def test_a_ranking_metric_counts_users(frame, tmp_path):
    data = as_data(frame, implicit=True)
    k = 40
    users = frame.loc[frame["t"] >= N - k, "user_id"].nunique()
    assert users < k  # some users have several of the last ratings
    ranker = ImplicitALS(n_factors=2, random_state=0)  # a model serve takes: it folds in
    md = current_without_last(frame, k, tmp_path / "md", ranker, implicit=True)
    refused = retrain_on(data, md, tolerance=1.0, min_holdout=users + 1)
    assert not refused.published
    assert refused.reason.startswith(
        f"only {users} held-out users to compare on, fewer than the minimum of {users + 1}"
    )
    taken = retrain_on(data, md, tolerance=1.0, min_holdout=users)
    assert taken.published and taken.candidate_metrics["n_users"] == users


def test_a_first_version_is_published_whatever_the_count(tmp_path):
    small = timed_frame(n_users=10, n_items=6, n_ratings=30)
    result = retrain_on(as_data(small), tmp_path / "md", model=Biases())
    assert result.published and result.n_holdout < MIN_HOLDOUT


@pytest.mark.parametrize("bad", [-1, 2.5, True, "100", None])
def test_a_bad_minimum_is_named(frame, tmp_path, bad):
    with pytest.raises(ValueError, match="min_holdout must be a whole number >= 0"):
        retrain_on(as_data(frame), tmp_path / "md", model=Biases(), min_holdout=bad)


# ---------------------------------------------------------------------- the command line
def stored(frame, path, until=None):
    from latentrec.store import open_store

    with open_store(path) as store:
        part = frame if until is None else frame[frame["t"] < until]
        store.import_interactions(as_data(part), kind="explicit")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_keeps_the_current_version_and_lists_the_counts(frame, tmp_path):
    db, folder = tmp_path / "r.db", tmp_path / "md"
    stored(frame, db, until=N - 5)
    first = run("retrain", "--store", db, "--model-dir", folder, "-a", "biases", "--seed", 0)
    assert first.exit_code == 0 and "published v000001" in first.output, first.output
    stored(frame[frame["t"] >= N - 5], db)  # five new ratings
    result = run("retrain", "--store", db, "--model-dir", folder, "--tolerance", 10)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("scored on 5 ratings from")
    assert lines[-1].startswith(
        "not published: only 5 held-out ratings to compare on, fewer than the minimum of 100"
    )
    assert "--min-holdout" in lines[-1]
    result = run(
        "retrain", "--store", db, "--model-dir", folder, "--tolerance", 10, "--min-holdout", 5,
        "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["published"] is True and summary["min_holdout"] == 5
    assert summary["n_holdout"] == 5
    listed = run("models", "list", "--model-dir", folder)
    assert listed.exit_code == 0, listed.output
    header, *rows = listed.output.strip().splitlines()
    assert "scored on" in header
    # v000001 (the first, scored on its last 10%) and v000002 (on the 5 new ratings).
    n_first = int(np.ceil(0.1 * (N - 5)))
    assert f"{n_first} ratings" in rows[0] and "5 ratings" in rows[1], listed.output
    as_json = json.loads(run("models", "list", "--model-dir", folder, "--json").stdout)
    assert as_json[1]["metrics"]["candidate"]["n"] == 5


def test_cli_refuses_a_negative_minimum(tmp_path):
    result = run("retrain", "--store", tmp_path / "r.db", "--model-dir", tmp_path / "md",
                 "--min-holdout", -1)  # fmt: skip
    assert result.exit_code == 2
    assert "Invalid value for '--min-holdout': -1 is not in the range x>=0." in result.output
    assert not (tmp_path / "md").exists()
