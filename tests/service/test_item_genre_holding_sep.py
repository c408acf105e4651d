"""A catalogue genre holding a served model's genre separator is one genre the model never
saw.  The catalogue's separator is ``|``, so ``Drama,Comedy`` is one genre to it (and to
``/genres`` and the filter); a HybridMF fitted with ``sep=","`` read it as Drama and
Comedy, so ``POST /items`` placed the title among dramas and comedies and said nothing
was unused.  It is now left out and named in ``unused``, as any unseen genre is."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from .test_item_genres_sep import fitted

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # its own deprecation warning is not the service's
    import fastapi.testclient  # noqa: F401


@pytest.mark.filterwarnings("error")
def test_a_genre_holding_the_models_separator_is_unused(make_client, monkeypatch, store):
    model = fitted(",", monkeypatch)
    client = make_client(model)
    r = client.post("/items", json={"item_id": "950", "genres": ["Drama,Comedy"]})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["vector"] == "zero"
    assert body["unused"] == {"title": None, "genres": ["Drama,Comedy"], "features": []}
    assert store.genres() == ["Drama,Comedy"]
    # Beside a genre the model knows: that one alone places the title.
    r = client.post("/items", json={"item_id": "951", "genres": ["drama", "Comedy, War"]})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["vector"] == "features"
    assert body["unused"] == {"title": None, "genres": ["Comedy, War"], "features": []}
    served = client.app.state.holder.current
    q, _ = model.item_vector_from_features({"genres": "Drama"}, warn=False)
    np.testing.assert_allclose(served.model.item_factors_[served.item_index["951"]], q, rtol=1e-6)
