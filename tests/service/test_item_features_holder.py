"""What the holder makes of a new title's genres on a served HybridMF (feature_use,
feature_uses, with_new_items), checked against the model's own
item_vector_from_features one row at a time.

Three defects a review found: a genre posted with blanks around it (" Space ") added
nothing yet was not named unused; a model fitted on one genre per title (a one-hot
``genres`` column) gave a title with two genres it knows a zero vector and logged that it
"never saw" them, and read "Drama" and "drama" as the unknown value "Drama|Drama";
with_new_items encoded each title twice, one at a time (a refresh adding 1,000 titles
took seconds).  (log_unused's "and N more": test_item_features_log.py.)"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.models import HybridMF
from latentrec.models import hybrid as hybrid_module
from latentrec.service import holder as holder_module
from latentrec.service.holder import (
    Served,
    feature_use,
    with_new_items,
)
from latentrec.store import Item

GENRES = ["Drama", "Comedy", "Sci-Fi", "War"]


def served(genres, **columns):
    """A small HybridMF fitted on six titles with these genres cells (and columns)."""
    n = len(genres)
    ratings = pd.DataFrame(
        {"user_id": np.arange(2 * n) % 4, "item_id": np.arange(2 * n) % n, "rating": 5.0}
    )
    side = pd.DataFrame({"genres": genres, **columns})
    data = Interactions.from_frame(ratings, item_features=side)
    # Named: "auto" never takes a title (an item id in disguise); these tests want one.
    model = HybridMF(
        n_factors=3, n_epochs=2, random_state=0, user_features=None, item_features=list(side)
    ).fit(data)
    return Served.build(model, "v1")


@pytest.fixture(scope="module")
def multi():
    """Multi-label genres, year buckets."""
    return served(
        ["Drama|Sci-Fi", "Drama", "Comedy|War", "Sci-Fi", "War|Drama", "Comedy"],
        year=[1970, 1980, 1990, 2000, 2010, 1975],
    )


@pytest.fixture(scope="module")
def one_each():
    """One genre per title (one-hot), year buckets, titles as a one-hot feature."""
    return served(
        ["Drama", "Sci-Fi", "Comedy", "War", "Drama", "Comedy"],
        year=[1970, 1980, 1990, 2000, 2010, 1975],
        title=[f"Film {j}" for j in range(6)],
    )


def alone(s, row):
    """The model's own vector and bias of one side-table row (what it was built from),
    its other columns empty."""
    columns = [c["column"] for c in s.model.item_feature_spec_["columns"]]
    return s.model.item_vector_from_features({c: row.get(c) for c in columns}, warn=False)


# ------------------------------------------------------------------ 1. blanks around
def test_a_genre_with_blanks_around_it_is_named_unused(multi, one_each):
    use = feature_use(multi, Item("7", "New", (" Space ", "Drama"), {"year": 1990.0}))
    assert use.unused["genres"] == [" Space "] and use.known
    q, b = alone(multi, {"genres": "Drama", "year": 1990.0})
    np.testing.assert_array_equal(use.vector, q)
    assert use.bias == b
    # On a one-genre model too, and alone it gives nothing known.
    use = feature_use(one_each, Item("8", None, ("\tSpace ",), None))
    assert use.unused["genres"] == ["\tSpace "] and not use.known
    # A known genre with blanks is the model's and counts.
    use = feature_use(multi, Item("9", None, (" drama ",), None))
    assert use.unused["genres"] == [] and use.known


# ------------------------------------------------------------------ 2. one genre per title
def test_a_one_genre_model_places_several_known_genres_at_their_mean(one_each):
    use = feature_use(one_each, Item("7", None, ("Drama", "Sci-Fi"), {"year": 1985.0}))
    assert use.known and use.unused == {"title": None, "genres": [], "features": []}
    (qa, ba), (qb, bb) = (alone(one_each, {"genres": g, "year": 1985.0}) for g in GENRES[::2])
    np.testing.assert_allclose(use.vector, (qa.astype(float) + qb) / 2, rtol=1e-6, atol=1e-7)
    assert use.bias == pytest.approx((ba + bb) / 2, rel=1e-6, abs=1e-7)
    # An unknown one beside them is named and left out of the mean.
    three = feature_use(one_each, Item("8", None, ("Space", "Drama", "Sci-Fi"), {"year": 1985.0}))
    assert three.unused["genres"] == ["Space"]
    np.testing.assert_array_equal(three.vector, use.vector)
    assert three.bias == use.bias


def test_a_genre_named_twice_counts_once(one_each, multi):
    for s in (one_each, multi):
        use = feature_use(s, Item("7", None, ("Drama", "drama", " DRAMA"), None))
        q, b = alone(s, {"genres": "Drama"})
        assert use.known and use.unused["genres"] == []
        np.testing.assert_array_equal(use.vector, q)
        assert use.bias == b


def test_a_genre_named_twice_beside_another_weighs_as_much_as_it(one_each, multi):
    # Alone, a genre named twice gives what it gives once whether or not it counts
    # twice: beside another on a one-genre model, counted twice it would weigh 2 to 1
    # in the mean.
    (qa, ba), (qb, bb) = (alone(one_each, {"genres": g}) for g in ("Drama", "Sci-Fi"))
    use = feature_use(one_each, Item("7", None, ("Drama", "drama", "Sci-Fi"), None))
    np.testing.assert_allclose(use.vector, (qa.astype(float) + qb) / 2, rtol=1e-6, atol=1e-7)
    assert use.bias == pytest.approx((ba + bb) / 2, rel=1e-6, abs=1e-7)
    q, b = alone(multi, {"genres": "Drama|Sci-Fi"})
    use = feature_use(multi, Item("8", None, ("Drama", "DRAMA", "Sci-Fi"), None))
    np.testing.assert_array_equal(use.vector, q)
    assert use.bias == b


def test_the_log_says_cannot_use_not_never_saw(one_each, caplog):
    with caplog.at_level(logging.WARNING, logger="latentrec.service"):
        with_new_items(one_each, [Item("7", "Far", ("Drama", "Space"), None)])
    (line,) = [r.getMessage() for r in caplog.records if r.name == "latentrec.service"]
    assert line == (
        "new title with genres or features the served model cannot use (they add nothing "
        "to the vector): '7' (title 'Far', genres ['Space'])"
    )


# ------------------------------------------------------------------ 3. one encoding
def random_items(rng, n):
    spellings = GENRES + ["drama", " Sci-Fi ", "SPACE", "Space", "Western", "Drama,War"]
    items = []
    for j in range(n):
        genres = tuple(rng.choice(spellings, rng.integers(0, 4), replace=False).tolist())
        features = {}
        if rng.random() < 0.7:
            features["year"] = float(rng.integers(1950, 2030))
        if rng.random() < 0.2:
            features["budget"] = 3.0
        title = rng.choice([None, "Film 2", "New film"])
        items.append(Item(str(500 + j), title, genres, features or None))
    return items


@pytest.mark.parametrize("which", ["multi", "one_each"])
def test_a_batch_gives_each_title_what_it_gives_alone(which, request):
    s = request.getfixturevalue(which)
    items = random_items(np.random.default_rng(7), 60)
    grown = with_new_items(s, items)
    for item in items:
        use = feature_use(s, item)
        idx = grown.item_index[item.item_id]
        np.testing.assert_array_equal(grown.model.item_factors_[idx], use.vector)
        assert grown.model.item_bias_[idx] == np.float32(use.bias)
        if which == "multi":
            # The multi-label vectors are bit for bit the model's own of the title's row.
            known = [
                g.strip() if g.strip() != "drama" else "Drama"
                for g in item.genres
                if g.strip() in GENRES or g.strip() == "drama"
            ]
            row = {
                "genres": "|".join(known) or None,
                "year": (item.features or {}).get("year"),
            }
            q, b = alone(s, row)
            np.testing.assert_array_equal(use.vector, q)
            assert use.bias == b
            assert use.known == bool(known or row["year"] is not None)


def test_with_new_items_encodes_a_batch_once(multi, monkeypatch):
    calls = []
    real = hybrid_module.encode_features

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(hybrid_module, "encode_features", counted)
    monkeypatch.setattr(holder_module, "encode_features", counted, raising=False)
    with_new_items(multi, random_items(np.random.default_rng(3), 40))
    assert len(calls) == 1
