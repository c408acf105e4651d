"""feature_uses (a batch of new titles on a served HybridMF) against a slow reference
built from the model's own item_vector_from_features, one title and one genre at a
time: genres posted in another case, with blanks, named twice, in a decomposed Unicode
form, or unknown; on a multi-label and on a one-genre (one-hot) model, whose title with
several known genres sits at the mean of the vectors and biases each gives alone."""

from __future__ import annotations

import random
import unicodedata

import numpy as np
import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.models import HybridMF
from latentrec.service.holder import Served, feature_uses
from latentrec.store import Item
from latentrec.store.records import genre_key

# The model learns the accented genre decomposed (as a file may hold it); the store
# keeps it composed.
EBENE = unicodedata.normalize("NFD", "\u00c9b\u00e8ne")
POSTED = ["Drama", "drama", " DRAMA ", "Sci-Fi", "sci-fi", "Comedy", "War", "Space",
          "\u00c9b\u00e8ne", "\u00e9b\u00e8ne", EBENE, "Ebene"]  # fmt: skip


def served(genres):
    n = len(genres)
    ratings = pd.DataFrame(
        {"user_id": np.arange(2 * n) % 4, "item_id": np.arange(2 * n) % n, "rating": 5.0}
    )
    side = pd.DataFrame({"genres": genres, "year": [1970, 1980, 1990, 2000, 2010, 1975]})
    data = Interactions.from_frame(ratings, item_features=side)
    model = HybridMF(n_factors=3, n_epochs=2, random_state=0, user_features=None).fit(data)
    return Served.build(model, "v1")


@pytest.fixture(scope="module", params=["multilabel", "onehot"])
def model(request):
    if request.param == "multilabel":
        s = served(["Drama|Sci-Fi", "Drama", f"Comedy|{EBENE}", "Sci-Fi", "War|Drama", "Comedy"])
    else:
        s = served(["Drama", "Sci-Fi", EBENE, "War", "Drama", "Comedy"])
    genres = next(c for c in s.model.item_feature_spec_["columns"] if c["column"] == "genres")
    assert genres["kind"] == request.param
    return s, genres


def reference(s, genres, item):
    """The vector and bias, and the unused genres, one genre at a time."""
    use, unused = [], []
    for g in item.genres:
        alike = [v for v in genres["values"] if genre_key(v) == genre_key(g)]
        if len(alike) != 1:
            unused.append(g)
        elif alike[0] not in use:
            use.append(alike[0])
    row = {"year": item.features["year"]}
    model = s.model
    if genres["kind"] == "onehot" and len(use) > 1:
        each = [model.item_vector_from_features({**row, "genres": g}, warn=False) for g in use]
        vector = np.mean([q.astype(float) for q, _ in each], axis=0)
        return vector, float(np.mean([b for _, b in each])), unused
    cell = genres.get("sep", "|").join(use) if use else None
    q, b = model.item_vector_from_features({**row, "genres": cell}, warn=False)
    return q, b, unused


def test_a_batch_matches_the_one_genre_at_a_time_reference(model):
    s, genres = model
    rnd = random.Random(0)
    for _ in range(40):
        batch = [
            Item(
                str(j),
                None,
                tuple(rnd.sample(POSTED, rnd.randint(0, 4))),
                {"year": float(rnd.choice([1970, 1995, 2010]))},
            )  # fmt: skip
            for j in range(rnd.randint(1, 5))
        ]
        for item, use in zip(batch, feature_uses(s, batch), strict=True):
            q, b, unused = reference(s, genres, item)
            np.testing.assert_allclose(use.vector, q, rtol=1e-5, atol=1e-6, err_msg=item.genres)
            assert use.bias == pytest.approx(b, rel=1e-5, abs=1e-6), item.genres
            assert use.unused["genres"] == unused, item.genres
