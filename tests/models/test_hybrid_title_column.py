"""HybridMF's "auto" features never take the title column, however small the catalogue.

Before: a catalogue of at most ``max_categories`` (100) items had its ``title`` column
one-hot encoded, one feature per item: a second item id, not content, and a new item's
title was a value the encoder never saw.
"""

import numpy as np
import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.models.hybrid import FeatureEncoder, HybridMF

TITLES = ["Alien", "Aliens", "Emma", "Clueless", "Heat", "Sense"]


def films():
    return pd.DataFrame(
        {
            "title": TITLES,
            "genres": ["Sci-Fi", "Sci-Fi", "Romance", "Romance", "Action", "Romance"],
        },
        index=range(6),
    )


def small_catalogue():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(8), 3)
    items = np.concatenate([rng.choice(6, 3, replace=False) for _ in range(8)])
    df = pd.DataFrame({"user_id": users, "item_id": items, "rating": 5.0})
    return Interactions.from_frame(df, item_features=films())


def test_auto_skips_title_on_a_small_catalogue_and_says_why():
    enc = FeatureEncoder().fit(films(), what="item")
    assert not any(name.startswith("title=") for name in enc.names_)
    assert enc.names_ == ["genres=Action", "genres=Romance", "genres=Sci-Fi"]
    assert "id in disguise" in enc.skipped_["title"]


def test_a_named_title_column_is_still_used():
    enc = FeatureEncoder(["genres", "title"]).fit(films())
    assert [f"title={t}" for t in sorted(TITLES)] == [
        n for n in enc.names_ if n.startswith("title=")
    ]
    assert enc.skipped_ == {}


def test_hybrid_on_a_small_catalogue_has_no_title_features():
    model = HybridMF(n_factors=2, n_epochs=2, random_state=0).fit(small_catalogue())
    assert model.item_feature_names_ == ["genres=Action", "genres=Romance", "genres=Sci-Fi"]
    assert "title" in model.skipped_features_["item"]
    # A new item is placed from its genres; its title is a column the model left out.
    with pytest.warns(UserWarning, match="title") as caught:
        q, b = model.item_vector_from_features({"title": "Brand New", "genres": "Sci-Fi"})
    assert not any("never saw" in str(w.message) for w in caught)
    q_genre, b_genre = model.item_vector_from_features({"genres": "Sci-Fi"})
    np.testing.assert_array_equal(q, q_genre)
    assert b == b_genre
