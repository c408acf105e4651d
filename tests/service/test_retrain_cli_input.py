"""``latentrec retrain``'s input checks: ``--seed`` as ``train`` checks it, and a store
with nothing to train on named by the kind the algorithm trains on."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from latentrec.cli import main

pytest.importorskip("sqlalchemy", reason="the ratings store needs the 'serve' extra")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_a_negative_seed_is_refused_as_train_refuses_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    retrain = run("retrain", "--store", "r.db", "--model-dir", "md", "-a", "biases", "--seed", -5)
    train = run("train", "ml-100k", "--seed", -1, "-o", "m.npz")
    assert retrain.exit_code == train.exit_code == 2, retrain.output
    assert "Invalid value for '--seed': -5 is not in the range x>=0." in retrain.output
    assert "Invalid value for '--seed': -1 is not in the range x>=0." in train.output
    assert os.listdir(tmp_path) == []


def test_seed_zero_is_accepted(tmp_path):
    from latentrec.store import open_store

    open_store(tmp_path / "r.db").close()
    result = run(
        "retrain",
        "--store",
        tmp_path / "r.db",
        "--model-dir",
        tmp_path / "md",
        "-a",
        "biases",
        "--seed",
        0,
    )
    assert "--seed" not in result.output  # refused for the empty store, not the seed


@pytest.mark.parametrize(
    "algorithm, name, trains_on",
    [
        ("biased-mf", "BiasedMF", "explicit ratings"),
        ("implicit-als", "ImplicitALS", "events or explicit ratings"),
    ],
)
def test_an_empty_store_says_what_the_algorithm_trains_on(tmp_path, algorithm, name, trains_on):
    from latentrec.store import open_store

    open_store(tmp_path / "r.db").close()
    result = run(
        "retrain", "--store", tmp_path / "r.db", "--model-dir", tmp_path / "md", "-a", algorithm
    )
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        "Error: the store holds no ratings of any kind: nothing to train on "
        f"({name} trains on {trains_on}; `latentrec store import` adds some)"
    ]
    assert not (tmp_path / "md").exists()  # the model folder it would have made is gone
    # A model folder that was there before is left as it was.
    (tmp_path / "kept").mkdir()
    run("retrain", "--store", tmp_path / "r.db", "--model-dir", tmp_path / "kept", "-a", algorithm)
    assert (tmp_path / "kept").is_dir()


def test_a_rating_model_is_not_trained_on_events(tmp_path):
    """A store of events only: a first BiasedMF reads the explicit ratings it trains on
    (there are none), not the store's default (the events)."""
    from latentrec.store import Rating, open_store

    with open_store(tmp_path / "r.db") as store:
        store.add_ratings(
            [
                Rating(f"u{u}", f"i{i}", 1.0, float(u * 10 + i), kind="event")
                for u in range(20)
                for i in range(8)
            ]
        )
    result = run(
        "retrain", "--store", tmp_path / "r.db", "--model-dir", tmp_path / "md", "-a", "biased-mf"
    )
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        "Error: the store holds no explicit ratings: nothing to train on "
        "(BiasedMF trains on explicit ratings; `latentrec store import` adds some)"
    ]
    # A ranking model takes the store's default: the events.
    result = run(
        "retrain",
        "--store",
        tmp_path / "r.db",
        "--model-dir",
        tmp_path / "md",
        "-a",
        "implicit-als",
        "--json",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["kind"] == "event" and summary["kind_reason"] == "the store's default"
