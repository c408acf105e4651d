"""POST /items hands a served HybridMF the title's genres joined by the separator its
genres column was fitted with.  They used to be joined by ``|`` whatever it was: a model
fitted with ``sep=","`` read ``"Drama|Comedy"`` as one genre it never saw, so a new
title's genres added nothing (its vector was zero, and ``unused`` named them all).  A
feature named like the title's own fields never stands in for them either."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from latentrec import Interactions
from latentrec.models import HybridMF
from latentrec.models.hybrid import FeatureEncoder
from latentrec.service.holder import Served, feature_row, genre_sep
from latentrec.service.refresh import add_store_items
from latentrec.store import Item

from .conftest import GENRES, N_ITEMS, planted

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # its own deprecation warning is not the service's
    import fastapi.testclient  # noqa: F401

NOTHING = {"title": None, "genres": [], "features": []}


def fitted(sep: str, monkeypatch) -> HybridMF:
    """A HybridMF whose genres column (two genres for every other title) was read with
    ``sep``: HybridMF builds its FeatureEncoder with the encoder's default separator."""
    frame, items = planted()
    genres = [
        sep.join([GENRES[j % 3], GENRES[(j + 1) % 3]]) if j % 2 else GENRES[j % 3]
        for j in range(N_ITEMS)
    ]
    data = Interactions.from_frame(frame, item_features=items.assign(genres=genres)[["genres"]])
    with monkeypatch.context() as patch:
        patch.setitem(FeatureEncoder.__init__.__kwdefaults__, "sep", sep)
        model = HybridMF(n_factors=4, n_epochs=5, random_state=0, user_features=None).fit(data)
    (column,) = model.item_feature_spec_["columns"]
    assert column["kind"] == "multilabel" and column["sep"] == sep
    assert column["values"] == sorted(GENRES)
    return model


def vector_of(client, item_id):
    served = client.app.state.holder.current
    idx = served.item_index[item_id]
    return served.model.item_factors_[idx], float(served.model.item_bias_[idx])


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("sep", ["|", ","])
def test_a_new_titles_genres_reach_the_model_whatever_its_separator(make_client, monkeypatch, sep):
    model = fitted(sep, monkeypatch)
    client = make_client(model)
    r = client.post("/items", json={"item_id": "950", "genres": ["Drama", "Comedy"]})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["vector"] == "features" and body["unused"] == NOTHING
    q, b = model.item_vector_from_features({"genres": f"Drama{sep}Comedy"}, warn=False)
    assert q.any()
    got_q, got_b = vector_of(client, "950")
    np.testing.assert_allclose(got_q, q, rtol=1e-6)
    assert got_b == pytest.approx(b)
    # The same vector as a list of names gives (the encoder's reading of a cell).
    np.testing.assert_allclose(
        got_q, model.item_vector_from_features({"genres": ["Comedy", "Drama"]})[0], rtol=1e-6
    )


def test_the_separator_is_read_from_the_models_genres_column():
    multi = {"column": "genres", "kind": "multilabel", "values": ["A"], "sep": ";"}
    assert genre_sep({"columns": [multi]}) == ";"
    # One genre per title (one-hot) or no genres column: the catalogue's own.
    assert genre_sep({"columns": [{"column": "genres", "kind": "onehot", "values": ["A"]}]}) == "|"
    assert genre_sep({"columns": [{**multi, "column": "tags"}]}) == "|"
    assert feature_row(Item("1", None, ("A", "B")), ["genres"], ";") == {"genres": "A;B"}


def test_a_post_naming_a_feature_genres_or_title_is_refused_naming_it(
    make_client, monkeypatch, store
):
    model = fitted("|", monkeypatch)
    client = make_client(model)
    for name in ("genres", "title"):
        r = client.post(
            "/items", json={"item_id": "951", "genres": ["Drama"], "features": {name: 1.0}}
        )
        assert r.status_code == 422, r.text
        assert r.json()["detail"] == (
            f'features: {name!r} is the title\'s own field, not a feature; give it as "{name}"'
        )
    assert store.get_item("951") is None
    assert "951" not in client.app.state.holder.current.item_index


def test_a_stored_feature_named_genres_does_not_replace_the_titles_genres(monkeypatch, store):
    """A catalogue row written by another program (straight into the table, past the
    store's checks) with a feature ``genres``: the model still reads the title's genres."""
    model = fitted("|", monkeypatch)
    store.add_items([Item("952", "Odd", ("Drama",))])
    with store.db.write() as conn:
        conn.exec_driver_sql(
            'UPDATE lr_items SET features = \'{"genres": 1.0, "title": 2.0}\' '
            "WHERE item_id = '952'"
        )
    assert store.get_item("952").features == {"genres": 1.0, "title": 2.0}
    served = add_store_items(store, Served.build(model, "v"))
    idx = served.item_index["952"]
    q, b = model.item_vector_from_features({"genres": "Drama"}, warn=False)
    assert q.any()
    np.testing.assert_allclose(served.model.item_factors_[idx], q, rtol=1e-6)
    assert float(served.model.item_bias_[idx]) == pytest.approx(b)
