"""The factor report names factors from genres given as lists exactly as from
``|``-joined text: the same metadata columns, correlations, pole names and user
profile, never a pole named "['Sci-Fi', 'Horror']"."""

import numpy as np
import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.models import GradientDescentMF
from latentrec.reports import factor_report, user_profile

GENRES = [["Sci-Fi"], ["Romance", "Drama"], ["Comedy"], ["Sci-Fi", "Horror"], []]


def both_forms(n_users=20, n_items=25, seed=0):
    """(text data, list data): the same ratings, the item genres written each way."""
    rng = np.random.default_rng(seed)
    genres = [GENRES[i % len(GENRES)] for i in range(n_items)]
    scifi = np.array([1.0 if "Sci-Fi" in g else -1.0 if "Romance" in g else 0.0 for g in genres])
    Q = np.column_stack([scifi + rng.normal(0, 0.1, n_items), rng.normal(0, 0.3, n_items)])
    R = 3 + rng.normal(0, 1, (n_users, 2)) @ Q.T
    ratings = pd.DataFrame(
        [(u, i, R[u, i]) for u in range(n_users) for i in range(n_items)],
        columns=["user_id", "item_id", "rating"],
    )
    titles = [f"Film {i}" for i in range(n_items)]
    text = pd.Series(["|".join(g) if g else "|" for g in genres], dtype=object)
    lists = pd.Series([list(g) for g in genres], dtype=object)
    return [
        Interactions.from_frame(ratings, item_features=pd.DataFrame({"title": titles, "genres": c}))
        for c in (text, lists)
    ]


def test_factor_report_reads_list_genres_like_text():
    text, lists = both_forms()
    model = GradientDescentMF(n_factors=2, n_epochs=300, random_state=0).fit(text)
    a = factor_report(model, text, n=3, min_ratings=1, rotate=True)
    b = factor_report(model, lists, n=3, min_ratings=1, rotate=True)
    assert list(b.correlations.columns) == list(a.correlations.columns)
    assert {"genres=Sci-Fi", "genres=Horror", "genres=Drama"} <= set(b.correlations.columns)
    pd.testing.assert_frame_equal(b.correlations, a.correlations)
    pd.testing.assert_frame_equal(b.summary, a.summary)
    assert not any("[" in str(name) for name in b.summary["name"])
    pa = user_profile(model, 0, text, min_ratings=1, rotate=True).to_frame()
    pb = user_profile(model, 0, lists, min_ratings=1, rotate=True).to_frame()
    pd.testing.assert_frame_equal(pb, pa)


def test_factor_report_refuses_a_dict_genre_naming_the_item():
    text, _ = both_forms()
    model = GradientDescentMF(n_factors=2, n_epochs=5, random_state=0).fit(text)
    table = text.item_features.copy()
    table["genres"] = table["genres"].astype(object)
    table.at[table.index[3], "genres"] = {"Sci-Fi": 1}
    bad = Interactions(text.users, text.items, text.matrix, rating_scale=None, item_features=table)
    with pytest.raises(ValueError, match=r"'genres' of item 3 is a dict"):
        factor_report(model, bad, min_ratings=1)
