"""POST /items on a served HybridMF says what of a title's genres and features the model
cannot use.  It used to answer ``"vector": "features"`` whatever was posted: a genre the
model never saw (a new one, or a misspelt one) added nothing, a title with no known value
got the zero vector, and the only trace was a Python UserWarning on the worker's stderr
(none at all for a feature the model was not trained on).  Now the answer's ``unused``
names them, ``vector`` is ``"zero"`` when nothing known was given, one line of the
service's log names the title, and no warning is printed."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest

from latentrec import Interactions
from latentrec.models import HybridMF
from latentrec.service.holder import model_genre

from .conftest import GENRES, N_ITEMS, planted

with warnings.catch_warnings():
    # Imported here, where its own warning (httpx is deprecated for it) is not one of the
    # service's: the tests below turn every warning into an error.
    warnings.simplefilter("ignore")
    import fastapi.testclient  # noqa: F401

NOTHING = {"title": None, "genres": [], "features": []}


@pytest.fixture(scope="module")
def genre_model():
    """A HybridMF with multi-label genres (Drama, Comedy, Sci-Fi) and year buckets; the
    title is not one of its features."""
    frame, items = planted()
    items = items.assign(
        genres=[
            f"{GENRES[j % 3]}|{GENRES[(j + 1) % 3]}" if j % 2 else GENRES[j % 3]
            for j in range(N_ITEMS)
        ],
        year=1970 + np.arange(N_ITEMS),
    )
    data = Interactions.from_frame(frame, item_features=items[["genres", "year"]])
    return HybridMF(n_factors=4, n_epochs=5, random_state=0, user_features=None).fit(data)


def posted(client, body):
    r = client.post("/items", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def vector_of(client, item_id):
    """The served model's (vector, bias) of ``item_id``."""
    served = client.app.state.holder.current
    idx = served.item_index[item_id]
    return served.model.item_factors_[idx], float(served.model.item_bias_[idx])


def service_lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "latentrec.service"]


@pytest.mark.filterwarnings("error")
def test_known_genres_and_features_are_all_used(make_client, genre_model, caplog):
    client = make_client(genre_model)
    with caplog.at_level(logging.WARNING, logger="latentrec.service"):
        body = posted(
            client,
            {
                "item_id": "901",
                "title": "Two",
                "genres": ["Drama", "Comedy"],
                "features": {"year": 1990.0},
            },
        )
    assert body["vector"] == "features" and body["unused"] == NOTHING
    q, b = genre_model.item_vector_from_features({"genres": "Drama|Comedy", "year": 1990})
    got_q, got_b = vector_of(client, "901")
    np.testing.assert_allclose(got_q, q, rtol=1e-6)
    assert got_b == pytest.approx(b)
    assert service_lines(caplog) == []


@pytest.mark.filterwarnings("error")
def test_an_unseen_genre_is_named_and_adds_nothing(make_client, genre_model, caplog):
    client = make_client(genre_model)
    with caplog.at_level(logging.WARNING, logger="latentrec.service"):
        body = posted(
            client, {"item_id": "902", "title": "Space Film", "genres": ["Sci-Fi", "Space"]}
        )
    assert body["vector"] == "features"
    assert body["unused"] == {**NOTHING, "genres": ["Space"]}
    # The vector is the known genre's alone: the unseen one is not even in its weights.
    q, b = genre_model.item_vector_from_features({"genres": "Sci-Fi", "year": None})
    got_q, got_b = vector_of(client, "902")
    np.testing.assert_allclose(got_q, q, rtol=1e-6)
    assert got_b == pytest.approx(b)
    (line,) = service_lines(caplog)
    assert "'902'" in line and "genres ['Space']" in line and "zero vector" not in line


@pytest.mark.filterwarnings("error")
def test_only_unseen_genres_give_a_zero_vector_and_say_so(make_client, genre_model, caplog):
    client = make_client(genre_model)
    with caplog.at_level(logging.WARNING, logger="latentrec.service"):
        body = posted(client, {"item_id": "903", "title": "Far", "genres": ["Space", "Western"]})
    assert body["vector"] == "zero"
    assert body["unused"] == {**NOTHING, "genres": ["Space", "Western"]}
    q, b = vector_of(client, "903")
    assert not q.any() and b == 0.0
    (line,) = service_lines(caplog)
    assert line == (
        "new title with genres or features the served model cannot use (they add nothing to "
        "the vector): '903' (genres ['Space', 'Western']; nothing known: zero vector)"
    )


@pytest.mark.filterwarnings("error")
def test_a_feature_the_model_was_not_trained_on_is_named(make_client, genre_model, caplog):
    client = make_client(genre_model)
    with caplog.at_level(logging.WARNING, logger="latentrec.service"):
        body = posted(
            client,
            {"item_id": "904", "genres": ["Drama"], "features": {"budget": 3.0, "year": 1990.0}},
        )
    assert body["vector"] == "features"
    assert body["unused"] == {**NOTHING, "features": ["budget"]}
    q, _ = genre_model.item_vector_from_features({"genres": "Drama", "year": 1990})
    np.testing.assert_allclose(vector_of(client, "904")[0], q, rtol=1e-6)
    (line,) = service_lines(caplog)
    assert "'904'" in line and "features ['budget']" in line
    # Only a feature the model does not know: nothing known, a zero vector.
    body = posted(client, {"item_id": "905", "features": {"budget": 3.0}})
    assert body["vector"] == "zero" and body["unused"] == {**NOTHING, "features": ["budget"]}


@pytest.mark.filterwarnings("error")
def test_a_genre_differing_only_in_case_is_the_models(make_client, genre_model):
    """The catalogue's genre filter reads ``sci-fi`` as ``Sci-Fi``; so does the model."""
    client = make_client(genre_model)
    body = posted(client, {"item_id": "906", "genres": ["sci-fi", "DRAMA"]})
    assert body["vector"] == "features" and body["unused"] == NOTHING
    assert body["item"]["genres"] == ["sci-fi", "DRAMA"]  # stored as posted
    q, _ = genre_model.item_vector_from_features({"genres": "Sci-Fi|Drama", "year": None})
    np.testing.assert_allclose(vector_of(client, "906")[0], q, rtol=1e-6)


def test_two_spellings_the_model_tells_apart_are_not_guessed_between():
    spec = {
        "columns": [
            {"column": "genres", "kind": "multilabel", "values": ["SCI-FI", "Sci-Fi"], "sep": "|"}
        ]
    }
    assert model_genre(spec, "Sci-Fi") == "Sci-Fi"
    assert model_genre(spec, "sci-fi") == "sci-fi"  # which one? neither: named unused
    assert model_genre({"columns": []}, "sci-fi") == "sci-fi"


@pytest.mark.filterwarnings("error")
def test_a_title_is_named_when_the_model_uses_titles_as_features(make_client, hybrid_model):
    """The suite's hybrid model has titles as a one-hot feature (30 of them): a new title
    is one it never saw, and the answer says so rather than hiding it."""
    client = make_client(hybrid_model)
    body = posted(client, {"item_id": "907", "title": "Space Film", "genres": ["Sci-Fi"]})
    assert body["vector"] == "features"
    assert body["unused"] == {**NOTHING, "title": "Space Film"}
    # A model reading one genre per title places a title with two it knows at their mean
    # (test_item_features_holder.py checks the vector), naming neither unused.
    body = posted(client, {"item_id": "908", "genres": ["Sci-Fi", "Drama"]})
    assert body["vector"] == "features" and body["unused"] == NOTHING


@pytest.mark.filterwarnings("error")
def test_another_worker_picking_the_titles_up_logs_one_line_and_warns_nothing(
    make_client, genre_model, caplog
):
    a = make_client(genre_model)
    b = make_client(genre_model, poll_seconds=3600.0)  # its rounds run when the test says
    posted(a, {"item_id": "910", "genres": ["Space"]})
    posted(a, {"item_id": "911", "genres": ["Drama", "Western"]})
    posted(a, {"item_id": "912", "genres": ["Drama"]})
    want = [
        "2 new titles with genres or features the served model cannot use (they add nothing "
        "to the vector): '910' (genres ['Space']; nothing known: zero vector); "
        "'911' (genres ['Western'])"
    ]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="latentrec.service"):
        b.app.state.refresher.tick()  # a round that adds the store's new titles
        assert "910" in b.app.state.holder.current.item_index
        assert service_lines(caplog) == want
        caplog.clear()
        c = make_client(genre_model, poll_seconds=3600.0)  # a worker starting now
        assert "911" in c.app.state.holder.current.item_index
        assert service_lines(caplog) == want


def test_a_model_without_item_features_lists_nothing(make_client, explicit_model):
    body = posted(make_client(explicit_model), {"item_id": "913", "genres": ["Space"]})
    assert body["vector"] == "zero" and body["unused"] == NOTHING


def test_the_answers_schema_describes_unused(make_client, genre_model):
    schema = make_client(genre_model).get("/openapi.json").json()["components"]["schemas"]
    assert "unused" in schema["ItemAdded"]["properties"]
    assert "cannot use" in schema["ItemAdded"]["properties"]["unused"]["description"]
    assert set(schema["UnusedFeatures"]["properties"]) == {"title", "genres", "features"}
